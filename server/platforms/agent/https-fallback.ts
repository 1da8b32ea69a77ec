import {
  MAX_FRAME_BYTES,
  TIMERS,
  validateMessage,
  type Envelope,
  type ExchangeResponse,
  type SessionRequest,
  type SessionResponse,
} from '../../../agent-protocol/src';
import { AppError, BadRequestError, ForbiddenError, UnauthorizedError } from '../../infra/http/errors';
import type { AgentIdentity } from '../../modules/devices/device-agent.service';
import { SERVER_CAPABILITIES, negotiateProtocol } from './agent-connection';
import { handleAgentMessage, pendingCommandMessages } from './agent-messages';
import type { AgentGateway } from './gateway';

const SESSION_TTL_SEC = 3600;

/** Problems in the agent protocol's vocabulary (codes of §16), through the one error taxonomy. */
function authProblem(code: string, message: string): AppError {
  if (code === 'device_revoked') return new ForbiddenError(message, code);
  return new UnauthorizedError(message, code);
}

/** The HTTPS fallback (§15): the same messages as the WebSocket, one exchange at a time. */
export function createHttpsFallback(gateway: AgentGateway) {
  const { deps } = gateway;
  const pollAfterSec = deps.heartbeatSec;

  return {
    async challenge() {
      return { nonce: await deps.store.issueNonce(), serverTime: new Date().toISOString(), expiresInSec: TIMERS.challengeExpiresInSec };
    },

    async session(body: SessionRequest): Promise<SessionResponse> {
      const protocol = negotiateProtocol(body.protocol);
      if (protocol === null) throw new BadRequestError('No protocol version in common.', 'unsupported_protocol');
      if (!(await deps.store.consumeNonce(body.nonce))) throw authProblem('auth_failed', 'Unknown, used or expired nonce.');
      const outcome = await deps.agent.authenticate(body);
      if (!outcome.ok) throw authProblem(outcome.code, outcome.message);
      const { token, expiresAt } = await deps.store.openSession(outcome.identity, SESSION_TTL_SEC);
      await deps.agent.recordSession(outcome.identity.deviceId, {
        protocol,
        capabilities: body.capabilities,
        agent: body.agent,
        bootId: body.bootId,
        appliedStateVersion: body.appliedStateVersion,
        transport: 'https',
      });
      return { token, expiresAt: expiresAt.toISOString(), protocol, heartbeatSec: deps.heartbeatSec, serverTime: new Date().toISOString(), capabilities: SERVER_CAPABILITIES };
    },

    async identify(authorization: string | undefined): Promise<AgentIdentity> {
      const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
      if (!match) throw authProblem('auth_failed', 'Authorization must be "Bearer <session token>".');
      const session = await deps.store.session(match[1]!);
      if (session === 'expired') throw authProblem('session_expired', 'The session expired; open a new one.');
      if (!session) throw authProblem('auth_failed', 'Unknown session token.');
      if (!(await deps.agent.stillActive(session))) throw authProblem('device_revoked', 'The device was wiped, retired or revoked.');
      return session;
    },

    async exchange(identity: AgentIdentity, messages: Record<string, unknown>[]): Promise<ExchangeResponse> {
      for (const m of messages) {
        if (Buffer.byteLength(JSON.stringify(m), 'utf8') > MAX_FRAME_BYTES) throw new AppError(413, 'message_too_big', `A message exceeds ${MAX_FRAME_BYTES} bytes.`);
      }
      const { deviceId } = identity;
      const replies: Envelope[] = [];
      for (const m of messages) {
        const parsed = validateMessage(m, { from: 'agent' });
        if (parsed.ok && parsed.known && ['hello', 'ping', 'pong'].includes(parsed.type)) continue;
        replies.push(...(await handleAgentMessage(deps, identity, parsed)));
      }
      gateway.touch(deviceId);
      await deps.presence.set([deviceId], 'https').catch(() => undefined);
      const { messages: commands, commandIds } = await pendingCommandMessages(deps.delivery, deviceId);
      if (commandIds.length > 0) await deps.delivery.markSent(deviceId, commandIds);
      return { messages: [...replies, ...commands], pollAfterSec: commandIds.length > 0 ? 0 : pollAfterSec };
    },
  };
}
