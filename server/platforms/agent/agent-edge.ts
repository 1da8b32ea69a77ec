import type { Command } from '../../../agent-protocol/src';
import type { AgentSelfUpdatePort, CommandQueuePort, DesiredStatePort, DeviceIdentityPort, EnrollmentPort, InventoryPort, PlatformAdapter, PushRegistrationsPort } from '../../domain/platform-ports';
import type { Infra } from '../../infra/infra';
import { Nudges } from '../../infra/nudges';
import { Presence } from '../../infra/presence';
import { createAgentPlatformAdapter } from './agent-platform.adapter';
import { sessionTerms } from './agent-session';
import { AgentStore } from './agent-store';
import { AgentGateway } from './gateway';
import { createHttpsFallback } from './https-fallback';
import { attestationRoots } from './key-attestation';
import { AgentPush } from './push/agent-push';
import { FcmSender } from './push/fcm-sender';

export interface AgentPorts {
  identity: DeviceIdentityPort;
  inventory: InventoryPort;
  queue: CommandQueuePort;
  enrollment: EnrollmentPort;
  pushRegistrations: PushRegistrationsPort;
  desiredState: DesiredStatePort;
  selfUpdate: AgentSelfUpdatePort;
}

/**
 * The Android agent's edge, built once by the composition root: its platform adapter (used by
 * the commands service in every role), and its gateway and HTTPS fallback (serving sockets in
 * the gateway role).
 */
export function createAgentEdge(infra: Infra, ports: AgentPorts) {
  const { config } = infra;
  const presence = new Presence(infra.redis, config.REDIS_PREFIX, config.AGENT_HEARTBEAT_SEC * 2);
  const nudges = new Nudges(infra.redis, infra.subscriber, presence, config.REDIS_PREFIX);
  const sender = config.FCM_PROJECT_ID && config.FCM_SERVICE_ACCOUNT_FILE ? new FcmSender({ projectId: config.FCM_PROJECT_ID, serviceAccountFile: config.FCM_SERVICE_ACCOUNT_FILE, apiUrl: config.FCM_API_URL }) : undefined;
  const push = new AgentPush(sender, ports.pushRegistrations, infra.log);
  const adapter: PlatformAdapter<Command> = createAgentPlatformAdapter({ nudge: (ids) => nudges.nudge(ids), push: (ids) => push.wake(ids) });
  const gateway = new AgentGateway({ ...ports, adapter, presence, nudges, nodeId: infra.nodeId, heartbeatSec: config.AGENT_HEARTBEAT_SEC, handshakeConcurrency: Math.max(1, Math.floor(config.DB_POOL_SIZE / 2)), ackTimeoutSec: config.COMMAND_ACK_TIMEOUT_SEC, push, terms: sessionTerms({ heartbeatSec: config.AGENT_HEARTBEAT_SEC, push: push.enabled, minAgentVersionCode: config.AGENT_MIN_VERSION_CODE }), metrics: infra.metrics, log: infra.log });
  // Presence lives in Redis only: when Redis comes back (maybe empty), say at once where devices are.
  infra.redis.on('ready', () => void gateway.refreshPresence());
  const base = config.CARTABLE_PUBLIC_URL.replace(/\/+$/, '');
  return {
    adapter,
    presence,
    gateway,
    fallback: createHttpsFallback(gateway, new AgentStore(infra.redis, config.REDIS_PREFIX)),
    enrollment: ports.enrollment,
    desiredState: ports.desiredState,
    push,
    attestationRoots: attestationRoots(config.AGENT_ATTESTATION_ROOTS_FILE),
    endpoints: { ws: `${base.replace(/^http/, 'ws')}/agent/v1/ws`, http: `${base}/agent/v1` },
  };
}
export type AgentEdge = ReturnType<typeof createAgentEdge>;
