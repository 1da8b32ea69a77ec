import { SUPPORTED_PROTOCOL, authSigningInput, type Hello, type SessionRequest } from '../../../agent-protocol/src';
import type { AuthOutcome, DeviceIdentityPort, InventoryPort } from '../../domain/platform-ports';
import { verifyChallengeSignature } from '../../infra/pki';

/** Command kinds this server can issue to agents, announced in `welcome` and session answers. */
export const SERVER_CAPABILITIES = ['lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode', 'message', 'refresh_inventory'];

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

/** What a `hello` or an HTTPS session says about the agent, as the inventory keeps it. */
export function recordAgentSession(inventory: InventoryPort, deviceId: string, hello: Hello | SessionRequest, protocol: number, transport: 'ws' | 'https'): Promise<void> {
  return inventory.recordSession(deviceId, {
    transport,
    protocol,
    capabilities: hello.capabilities ?? null,
    agentVersion: hello.agent?.versionName ?? null,
    facts: { agent: hello.agent, bootId: hello.bootId, appliedStateVersion: hello.appliedStateVersion },
  });
}
