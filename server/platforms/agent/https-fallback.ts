import {
  MAX_FRAME_BYTES,
  TIMERS,
  validateMessage,
  type Envelope,
  type ExchangeResponse,
  type SessionRequest,
  type SessionResponse,
} from '../../../agent-protocol/src';
import type { DeviceIdentity } from '../../domain/devices';
import { ForbiddenError, InvalidInputError, TooLargeError, UnauthenticatedError, type DomainError } from '../../domain/errors';
import { commandMessages, handleAgentMessage } from './agent-messages';
import { newerDesiredState } from './policy-reports';
import { authenticateAgent, negotiateProtocol, openingTerms, recordAgentSession } from './agent-session';
import type { AgentStore } from './agent-store';
import type { AgentGateway } from './gateway';
import { freshChannel } from './report-requests';

const SESSION_TTL_SEC = 3600;

/** Problems in the agent protocol's vocabulary (codes of §16), through the one error taxonomy. */
function authProblem(code: string, message: string): DomainError {
  if (code === 'device_revoked') return new ForbiddenError(message, code);
  return new UnauthenticatedError(message, code);
}

/** The HTTPS fallback (§15): the same messages as the WebSocket, one exchange at a time. */
export function createHttpsFallback(gateway: AgentGateway, store: AgentStore) {
  const { deps } = gateway;
  const pollAfterSec = deps.heartbeatSec;

  return {
    async challenge() {
      return { nonce: await store.issueNonce(), serverTime: new Date().toISOString(), expiresInSec: TIMERS.challengeExpiresInSec };
    },

    async session(body: SessionRequest): Promise<SessionResponse> {
      const protocol = negotiateProtocol(body.protocol);
      if (protocol === null) throw new InvalidInputError('No protocol version in common.', 'unsupported_protocol');
      if (!(await store.consumeNonce(body.nonce))) throw authProblem('auth_failed', 'Unknown, used or expired nonce.');
      const outcome = await authenticateAgent(deps.identity, body, body.nonce);
      if (!outcome.ok) throw authProblem(outcome.code, outcome.message);
      const { token, expiresAt } = await store.openSession(outcome.identity, SESSION_TTL_SEC);
      await recordAgentSession(deps, outcome.identity.deviceId, body, protocol, 'https');
      const state = await newerDesiredState(deps.desiredState, outcome.identity.deviceId, body.appliedStateVersion);
      return { token, expiresAt: expiresAt.toISOString(), ...openingTerms(deps.terms, protocol, outcome.renewalDue), ...state };
    },

    async identify(authorization: string | undefined): Promise<{ identity: DeviceIdentity; first: boolean }> {
      const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
      if (!match) throw authProblem('auth_failed', 'Authorization must be "Bearer <session token>".');
      const session = await store.session(match[1]!);
      if (session === 'expired') throw authProblem('session_expired', 'The session expired; open a new one.');
      if (!session) throw authProblem('auth_failed', 'Unknown session token.');
      if (!(await deps.identity.stillActive(session.identity))) throw authProblem('device_revoked', 'The device was wiped, retired or revoked.');
      return session;
    },

    /**
     * The device's messages, then its pending commands. The first exchange of a session takes
     * back what an earlier session was given and never acknowledged, like a new WebSocket.
     * Presence is left to sockets: an exchange must not hide a socket the device still holds.
     */
    async exchange(session: { identity: DeviceIdentity; first: boolean }, messages: Record<string, unknown>[]): Promise<ExchangeResponse> {
      for (const m of messages) {
        if (Buffer.byteLength(JSON.stringify(m), 'utf8') > MAX_FRAME_BYTES) throw new TooLargeError(`A message exceeds ${MAX_FRAME_BYTES} bytes.`, 'message_too_big');
      }
      const { identity } = session;
      const replies: Envelope[] = [];
      const channel = freshChannel();
      for (const m of messages) {
        const parsed = validateMessage(m, { from: 'agent' });
        if (parsed.ok && parsed.known && ['hello', 'ping', 'pong'].includes(parsed.type)) continue;
        replies.push(...(await handleAgentMessage(deps, identity, parsed, channel)));
      }
      gateway.touch(identity.deviceId);
      const commands = await commandMessages(deps, identity.deviceId, session.first, { reportRequest: true });
      return { messages: [...replies, ...commands], pollAfterSec: commands.length > 0 ? 0 : pollAfterSec, serverTime: new Date().toISOString() };
    },
  };
}
