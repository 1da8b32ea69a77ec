import { createMessage, type Command, type Envelope, type ParseResult } from '../../../agent-protocol/src';
import type { CommandDelivery } from '../../modules/commands/command-delivery';
import type { DeviceAgentService, AgentIdentity } from '../../modules/devices/device-agent.service';
import type { AgentStore } from './agent-store';

/** Types the server answers with an `ack` once stored: an agent keeps them in its outbox until then. */
const ACKED_TYPES: ReadonlySet<string> = new Set(['report.inventory', 'report.apps', 'report.status', 'report.events', 'report.location', 'command.result']);

export interface AgentMessageDeps {
  agent: DeviceAgentService;
  delivery: CommandDelivery;
  store: AgentStore;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

const ack = (ref: string) => createMessage('ack', {}, { ref });
const error = (code: string, message: string, ref?: string) => createMessage('error', { code, message }, ref ? { ref } : {});

/**
 * The messages of an authenticated device, the same over the WebSocket and HTTPS exchanges.
 * Envelope-level failures are the caller's (they close a socket but not an exchange).
 */
export async function handleAgentMessage(deps: AgentMessageDeps, identity: AgentIdentity, parsed: ParseResult): Promise<Envelope[]> {
  if (!parsed.ok) {
    const replies = [error(parsed.code, parsed.message, parsed.id)];
    // A message rejected once would be rejected forever: ack it so the agent drops it from its outbox.
    if (parsed.code === 'invalid_body' && parsed.id && parsed.type && ACKED_TYPES.has(parsed.type)) replies.push(ack(parsed.id));
    return replies;
  }
  if (!parsed.known) return [];
  const { deviceId } = identity;
  const id = parsed.envelope.id;

  switch (parsed.type) {
    case 'ping':
      return [createMessage('pong', {}, { ref: id })];
    case 'command.ack':
      await deps.delivery.acknowledge(deviceId, parsed.body.commandId.toLowerCase());
      return [];
    case 'report.inventory':
    case 'report.apps':
    case 'report.status':
    case 'report.events':
    case 'report.location':
    case 'command.result':
      break;
    default:
      return [];
  }

  if (!(await deps.store.claimMessage(deviceId, id))) return [ack(id)];
  try {
    const replies: Envelope[] = [];
    switch (parsed.type) {
      case 'report.inventory':
        await deps.agent.reportInventory(deviceId, parsed.body);
        break;
      case 'report.apps':
        await deps.agent.reportApps(deviceId, parsed.body);
        break;
      case 'report.status':
        await deps.agent.reportStatus(deviceId, parsed.body);
        break;
      case 'report.events':
        await deps.agent.reportEvents(deviceId, parsed.body);
        break;
      case 'report.location': {
        const outcome = await deps.agent.reportLocation(deviceId, parsed.body);
        if (!outcome.stored) replies.push(error(outcome.code, outcome.message, id));
        break;
      }
      case 'command.result': {
        const { commandId, status, result, error: failure } = parsed.body;
        await deps.delivery.recordResult(deviceId, commandId.toLowerCase(), { status, result, error: failure, raw: parsed.envelope });
        break;
      }
    }
    replies.push(ack(id));
    return replies;
  } catch (err) {
    await deps.store.releaseMessage(deviceId, id).catch(() => undefined);
    deps.log.error({ err, deviceId, type: parsed.type }, 'agent message could not be stored');
    // No ack: the agent keeps the message in its outbox and sends it again.
    return [error('server_error', 'The message could not be stored; it will be accepted when sent again.', id)];
  }
}

/** The device's pending commands as protocol messages, oldest first. */
export async function pendingCommandMessages(delivery: CommandDelivery, deviceId: string): Promise<{ messages: Envelope[]; commandIds: string[] }> {
  const pending = await delivery.pendingFor(deviceId);
  const messages = pending.map((c) => {
    const body: Command = (c.payload as Command | null) ?? {
      commandId: c.id,
      kind: c.kind,
      params: c.params,
      issuedAt: c.createdAt.toISOString(),
      expiresAt: c.expiresAt.toISOString(),
    };
    return createMessage('command', body);
  });
  return { messages, commandIds: pending.map((c) => c.id) };
}
