import { SUPPORTED_PROTOCOL, authSigningInput, type Hello, type SessionRequest } from '../../../agent-protocol/src';
import type { AgentSelfUpdatePort, AuthOutcome, CommandQueuePort, DeviceIdentityPort, InventoryPort } from '../../domain/platform-ports';
import { verifyChallengeSignature } from '../../infra/pki';
import type { AgentPush } from './push/agent-push';

/** Command kinds this server can issue to agents, and the 1.1 features it always implements. */
const BASE_CAPABILITIES = ['lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode', 'message', 'refresh_inventory', 'policy', 'certificate_renewal'];

/** What this server offers every agent session, fixed by its configuration. */
export interface SessionTerms {
  heartbeatSec: number;
  capabilities: string[];
  minAgentVersionCode?: number;
}

export function sessionTerms(config: { heartbeatSec: number; push: boolean; minAgentVersionCode?: number }): SessionTerms {
  return {
    heartbeatSec: config.heartbeatSec,
    capabilities: config.push ? [...BASE_CAPABILITIES, 'push'] : BASE_CAPABILITIES,
    ...(config.minAgentVersionCode !== undefined ? { minAgentVersionCode: config.minAgentVersionCode } : {}),
  };
}

/** The fields `welcome` and the session response share (§11.3, §15.1). */
export function openingTerms(terms: SessionTerms, protocol: number, renewalDue: boolean) {
  return {
    protocol,
    heartbeatSec: terms.heartbeatSec,
    serverTime: new Date().toISOString(),
    capabilities: terms.capabilities,
    ...(terms.minAgentVersionCode !== undefined ? { minAgentVersionCode: terms.minAgentVersionCode } : {}),
    ...(renewalDue ? { renewCertificate: true } : {}),
  };
}

export function negotiateProtocol(range: { min: number; max: number } | undefined): number | null {
  if (!range) return SUPPORTED_PROTOCOL.max;
  const chosen = Math.min(range.max, SUPPORTED_PROTOCOL.max);
  return chosen >= Math.max(range.min, SUPPORTED_PROTOCOL.min) ? chosen : null;
}

/** §8: the certificate names the device, and the signature over the nonce proves its key. */
export function authenticateAgent(identity: DeviceIdentityPort, proof: { deviceId: string; certificate: string; signature: string }, nonce: string): Promise<AuthOutcome> {
  const deviceId = proof.deviceId.toLowerCase();
  return identity.authenticate({
    certificatePem: proof.certificate,
    claimedDeviceId: deviceId,
    verify: (publicKey) => verifyChallengeSignature(publicKey, Buffer.from(authSigningInput(nonce, deviceId), 'utf8'), proof.signature),
  });
}

/**
 * What a `hello` or an HTTPS session says about the agent, as the inventory keeps it, and its
 * push registration when it has one. An outdated agent's self-update is queued here, before the
 * delivery that follows, so that the session's first commands carry it (§24.1).
 */
export async function recordAgentSession(
  deps: { inventory: InventoryPort; queue: Pick<CommandQueuePort, 'alreadyReceived'>; push: Pick<AgentPush, 'register'>; selfUpdate: AgentSelfUpdatePort },
  deviceId: string,
  hello: Hello | SessionRequest,
  protocol: number,
  transport: 'ws' | 'https',
): Promise<void> {
  if (hello.push) await deps.push.register(deviceId, hello.push);
  if (hello.lastCommandIds?.length) await deps.queue.alreadyReceived(deviceId, hello.lastCommandIds.map((id) => id.toLowerCase()));
  const session = {
    transport,
    protocol,
    capabilities: hello.capabilities ?? null,
    agentVersion: hello.agent?.versionName ?? null,
    agentVersionCode: hello.agent?.versionCode ?? null,
    facts: { agent: hello.agent, bootId: hello.bootId, appliedStateVersion: hello.appliedStateVersion },
  };
  await deps.inventory.recordSession(deviceId, session);
  await deps.selfUpdate.afterSession(deviceId, session);
}
