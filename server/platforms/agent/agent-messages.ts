import {
  createMessage,
  stripUnknownFields,
  validateCommandResultData,
  type Command,
  type CommandResult,
  type Envelope,
  type Hardware,
  type KnownMessage,
  type LocationFix as WireFix,
  type ParseResult,
  type ReportApps,
  type ReportInventory,
  type ReportStatus,
} from '../../../agent-protocol/src';
import type { DeviceIdentity, LocationFix } from '../../domain/devices';
import type { AppsReport, CommandOutcome, CommandQueuePort, DesiredStatePort, DeviceIdentityPort, InventoryPort, InventoryReport, PlatformAdapter, StatusReport } from '../../domain/platform-ports';
import { ack, isUuid, protocolError } from './agent-replies';
import { renewCertificate } from './certificate-renewal';
import { recordPolicyEvent } from './policy-reports';
import type { AgentPush } from './push/agent-push';
import { reportRequestMessage, requestAppsAgain, trackSequence, type ChannelState } from './report-requests';

/** Types the server answers with an `ack` once stored: an agent keeps them in its outbox until then. */
const ACKED_TYPES: ReadonlySet<string> = new Set(['report.inventory', 'report.apps', 'report.status', 'report.events', 'report.location', 'command.result', 'certificate.renew', 'push.token']);

export interface AgentMessageDeps {
  queue: CommandQueuePort;
  inventory: InventoryPort;
  adapter: PlatformAdapter<Command>;
  identity: Pick<DeviceIdentityPort, 'renewCertificate'>;
  push: Pick<AgentPush, 'register'>;
  desiredState: DesiredStatePort;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

const error = protocolError;

export function storedFix(fix: WireFix): LocationFix {
  return {
    lat: fix.lat,
    lon: fix.lon,
    accuracyM: fix.accuracyM,
    altitudeM: fix.altitudeM ?? null,
    speedMps: fix.speedMps ?? null,
    bearingDeg: fix.bearingDeg ?? null,
    provider: fix.provider,
    fixTime: new Date(fix.fixTime),
    timeUnverified: fix.timeUnverified === true,
  };
}

/** The hardware section without its network identifier, which goes with the network facts. */
export function hardwareFacts(hardware: Hardware): Omit<Hardware, 'wifiMac'> {
  const { wifiMac: _wifiMac, ...rest } = hardware;
  return rest;
}

/** Inventory in neutral columns; each section keeps only the fields the protocol defines. */
function inventoryReport(body: ReportInventory): InventoryReport {
  const { hardware, software, storage, memory, network, management } = body;
  const serial = hardware.serial && hardware.serial !== 'unknown' ? hardware.serial : null;
  return {
    serial,
    imei: network.imei ?? hardware.imei ?? null,
    manufacturer: hardware.manufacturer,
    model: hardware.model,
    osVersion: software.androidVersion,
    agentVersion: software.agentVersionName,
    managementMode: management.deviceOwner ? 'device_owner' : 'none',
    storageTotalBytes: storage.totalBytes,
    storageFreeBytes: storage.freeBytes,
    facts: { hardware: { ...hardwareFacts(hardware), totalRamBytes: memory.totalBytes }, software, management, network: { ...network, ...(hardware.wifiMac ? { wifiMac: hardware.wifiMac } : {}) } },
  };
}

/** An SSID the device could not read (`""` with `ssidUnavailable`, §12.6) is not a network name: only the reason is kept. */
function statusReport(body: ReportStatus): StatusReport {
  const { batteryLevel, charging, storageFreeBytes, wifi, ...rest } = body;
  const { ssid, ...seen } = wifi ?? { ssid: '' };
  return { batteryLevel, charging, storageFreeBytes, facts: rest, network: wifi ? { wifi: ssid === '' ? seen : wifi } : null };
}

function appsReport(body: ReportApps): AppsReport {
  return {
    full: body.full,
    apps: body.apps.map((a) => ({ identifier: a.packageName, name: a.label ?? null, version: a.versionName, versionCode: a.versionCode, installer: a.installer ?? null, system: a.system })),
    removed: body.removed ?? [],
  };
}

/**
 * A result in neutral terms. A position is checked and handed over apart, and never kept in the
 * raw copy: positions are stored only where retention and the audited location read apply.
 */
function commandOutcome(envelope: Envelope, body: CommandResult): CommandOutcome {
  const { commandId, status, result, error: failure } = body;
  const location = result && 'location' in result ? (result.location as unknown) : undefined;
  const fix = location !== undefined && validateCommandResultData('locate', { location }).ok ? storedFix(location as WireFix) : null;
  const { location: _location, ...kept } = result ?? {};
  return {
    commandId: commandId.toLowerCase(),
    status,
    result: result ? kept : null,
    location: fix,
    error: failure ?? null,
    raw: { ...envelope, body: { ...body, ...(result ? { result: kept } : {}) } },
    messageId: envelope.id.toLowerCase(),
  };
}

/**
 * The messages of an authenticated device, the same over the WebSocket and HTTPS exchanges.
 * Bodies are stripped of fields the protocol does not define before anything is stored.
 * Envelope-level failures are the caller's (they close a socket but not an exchange).
 */
export async function handleAgentMessage(deps: AgentMessageDeps, identity: DeviceIdentity, parsed: ParseResult, channel: ChannelState): Promise<Envelope[]> {
  const { deviceId } = identity;
  if (!parsed.ok) {
    const replies = [error(parsed.code, parsed.message, parsed.id)];
    // A message rejected once would be rejected forever: ack it so the agent drops it from its outbox.
    if (parsed.code === 'invalid_body' && isUuid(parsed.id) && parsed.type && ACKED_TYPES.has(parsed.type)) replies.push(ack(parsed.id));
    if (parsed.code === 'invalid_body' && parsed.type === 'report.apps') replies.push(...(await requestAppsAgain(deps.inventory, deviceId)));
    if (parsed.code === 'invalid_body' && parsed.type === 'report.location') deps.inventory.countRefusedPosition('invalid_body');
    return replies;
  }
  if (!parsed.known) return [];
  // Loss detection is a repair aid: a failure to record a sequence number never stops the message
  // itself, and the message does not wait for it.
  const [requests, replies] = await Promise.all([
    trackSequence(deps.inventory, deviceId, parsed.envelope.seq, channel).catch((err: unknown) => {
      deps.log.warn({ err, deviceId }, 'sequence number not recorded');
      return [];
    }),
    answer(deps, identity, parsed),
  ]);
  return [...requests, ...replies];
}

async function answer(deps: AgentMessageDeps, identity: DeviceIdentity, parsed: KnownMessage): Promise<Envelope[]> {
  const { deviceId } = identity;
  const id = parsed.envelope.id;
  if (parsed.type === 'ping') return [createMessage('pong', {}, { ref: id })];
  if (parsed.type === 'command.ack') {
    await deps.queue.report(deviceId, { commandId: parsed.body.commandId.toLowerCase(), status: 'acknowledged', raw: null });
    return [];
  }
  // Agents acknowledge only what asks for it: `command.cancel`, whose id is the command's, and `report.request`.
  if (parsed.type === 'ack' && parsed.envelope.ref) {
    const ref = parsed.envelope.ref.toLowerCase();
    await deps.queue.cancellationsDelivered(deviceId, [ref]);
    await deps.inventory.reportRequestAcked(deviceId, ref);
    return [];
  }
  if (!ACKED_TYPES.has(parsed.type)) return [];
  try {
    const replies = await store(deps, identity, parsed);
    return [...replies, ack(id)];
  } catch (err) {
    deps.log.error({ err, deviceId, type: parsed.type }, 'agent message could not be stored');
    // No ack: the agent keeps the message in its outbox and sends it again.
    return [error('server_error', 'The message could not be stored; it will be accepted when sent again.', id)];
  }
}

/** Every store below is idempotent for a given message id, so a re-sent report changes nothing twice. */
async function store(deps: AgentMessageDeps, identity: DeviceIdentity, parsed: KnownMessage): Promise<Envelope[]> {
  const { deviceId } = identity;
  const messageId = parsed.envelope.id.toLowerCase();
  switch (parsed.type) {
    case 'report.inventory':
      await deps.inventory.updateInventory(deviceId, inventoryReport(stripUnknownFields(parsed.type, parsed.body)));
      return [];
    case 'report.apps':
      await deps.inventory.updateApps(deviceId, appsReport(stripUnknownFields(parsed.type, parsed.body)));
      return [];
    case 'report.status':
      await deps.inventory.updateStatus(deviceId, statusReport(stripUnknownFields(parsed.type, parsed.body)));
      return [];
    case 'report.events': {
      const { events } = stripUnknownFields(parsed.type, parsed.body);
      await deps.inventory.recordEvents(
        deviceId,
        messageId,
        events.map((e) => ({ kind: e.kind, at: new Date(e.at), data: e.data ?? {}, timeUnverified: e.timeUnverified === true })),
      );
      for (const e of events) await recordPolicyEvent(deps.desiredState, deviceId, e.kind, e.data ?? {});
      return [];
    }
    case 'report.location': {
      const body = stripUnknownFields(parsed.type, parsed.body);
      const outcome = await deps.inventory.recordLocation(deviceId, messageId, storedFix(body), body.commandId?.toLowerCase() ?? null);
      return outcome.stored ? [] : [error(outcome.code, outcome.message, parsed.envelope.id)];
    }
    case 'command.result': {
      const outcome = commandOutcome(parsed.envelope, stripUnknownFields(parsed.type, parsed.body));
      // An impossible position is not kept; the command's outcome is, without it.
      const refused = outcome.location ? deps.inventory.checkFix(outcome.location) : null;
      await deps.queue.report(deviceId, refused ? { ...outcome, location: null, result: { ...outcome.result, locationRefused: refused } } : outcome);
      return refused ? [error('location_implausible', 'The position is impossible (coordinates, or a fix time far in the future); it was discarded.', parsed.envelope.id)] : [];
    }
    case 'push.token':
      await deps.push.register(deviceId, stripUnknownFields(parsed.type, parsed.body));
      return [];
    case 'certificate.renew':
      return [await renewCertificate(deps.identity, identity, parsed.envelope.id, parsed.body)];
    default:
      return [];
  }
}

/**
 * The device's pending commands and cancellations as protocol messages, oldest first. A
 * cancellation's message id is the command's id, so the agent's `ack` names the command, and
 * a cancellation is sent again until acknowledged.
 */
export async function commandMessages(deps: Pick<AgentMessageDeps, 'queue' | 'adapter' | 'inventory'>, deviceId: string, newSession: boolean, options: { reportRequest?: boolean } = {}): Promise<Envelope[]> {
  const handOut = await deps.queue.next(deviceId, { newSession });
  const cancels = handOut.cancelled.map((commandId) => createMessage('command.cancel', { commandId }, { id: commandId }));
  // A report request waiting for its ack goes again at each new session (and in every exchange).
  const request = newSession || options.reportRequest ? await deps.inventory.pendingReportRequest(deviceId) : null;
  const commands = await Promise.all(handOut.commands.map(async (c) => createMessage('command', await deps.adapter.render(c))));
  // A `nudge` makes the agent flush its outbox: what it sent and we could not store comes again.
  return [...cancels, ...(request ? [reportRequestMessage(request)] : []), ...commands, ...(handOut.redelivered ? [createMessage('nudge', {})] : [])];
}
