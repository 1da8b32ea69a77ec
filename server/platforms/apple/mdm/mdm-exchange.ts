import type { Logger } from 'pino';
import { ConflictError } from '../../../domain/errors';
import type { CommandQueuePort, InventoryPort, PlatformAdapter } from '../../../domain/platform-ports';
import type { AppleDevicesService } from '../../../modules/apple-mdm/apple-devices.service';
import type { LastSeen } from '../../last-seen';
import { RenderError } from '../apple-commands';
import { identify, type IdentityDeps } from './apple-identity';
import { bool, buildPlist, data, parsePlistDict, str, type PlistDict } from './apple-plist';
import { decodeReport, isCommandUuid, REPORT_STATUSES, type ReportStatus } from './command-reports';

/** An answer to a device: never 401 (an iPad may unenroll on it). */
export interface Answer {
  status: 200 | 400 | 403 | 410;
  body?: string;
  /** Why a request was refused, for the log (never sent to the device). */
  refusal?: { code: string; message: string };
}

export interface ExchangeDeps {
  identity: IdentityDeps;
  devices: AppleDevicesService;
  queue: CommandQueuePort;
  inventory: InventoryPort;
  lastSeen: Pick<LastSeen, 'touch'>;
  adapter: PlatformAdapter<PlistDict>;
  log: Logger;
}

const ok = (body?: string): Answer => ({ status: 200, body });
const refuse = (status: 400 | 403 | 410, code: string, message: string): Answer => ({ status, refusal: { code, message } });
/** At most this many commands are skipped at once because they cannot be rendered (and are failed instead). */
const MAX_RENDER_FAILURES = 10;

/**
 * The two Apple MDM endpoints: check-ins (Authenticate, TokenUpdate, CheckOut) and the command
 * exchange (a report, then the next command). The device is who its certificate says; the UDID
 * it writes must be the one it authenticated with.
 */
export function createMdmExchange(deps: ExchangeDeps) {
  const { devices, queue, inventory, adapter } = deps;

  async function checkin(headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<Answer> {
    const who = await identify(deps.identity, headers, body);
    if (!who.ok) return refuse(who.status, who.code, who.message);
    const message = parsePlistDict(body);
    if (!message) return refuse(400, 'malformed_plist', 'the body is not an XML property list dict');
    const type = str(message.MessageType);
    const device = who.device;
    // User channels (Shared iPad, macOS users) are not offered: declined as NanoMDM does.
    if (message.UserID !== undefined || type === 'UserAuthenticate') return refuse(410, 'user_channel_declined', 'user channels are not supported');
    const udid = str(message.UDID);
    const topic = str(message.Topic);
    if (!udid || !topic) return refuse(400, 'missing_fields', `${type ?? 'the message'} needs UDID and Topic`);
    if (device.udid !== null && device.udid !== udid) return refuse(403, 'udid_mismatch', 'the UDID is not the one this certificate authenticated with');

    switch (type) {
      case 'Authenticate':
        try {
          await devices.authenticate(device, {
            udid,
            topic,
            serial: str(message.SerialNumber),
            imei: str(message.IMEI),
            model: str(message.Model) ?? str(message.ModelName),
            osVersion: str(message.OSVersion),
            buildVersion: str(message.BuildVersion),
            productName: str(message.ProductName),
            deviceName: str(message.DeviceName),
          });
        } catch (error) {
          // Two first check-ins with one SCEP certificate: the second finds the enrollment taken.
          if (error instanceof ConflictError) return refuse(403, error.code, error.message);
          throw error;
        }
        return ok();
      case 'TokenUpdate': {
        if (device.udid === null) return refuse(400, 'not_authenticated', 'TokenUpdate before Authenticate');
        const token = data(message.Token);
        const pushMagic = str(message.PushMagic);
        if (!token || token.length === 0 || token.length > 100 || !pushMagic) return refuse(400, 'missing_fields', 'TokenUpdate needs Token and PushMagic');
        const { enrolled } = await devices.tokenUpdate(device, { topic, tokenHex: token.toString('hex'), pushMagic, unlockToken: data(message.UnlockToken), awaitingConfiguration: bool(message.AwaitingConfiguration) ?? false });
        // Just enrolled: its inventory was asked for; a push brings it at once.
        if (enrolled) void adapter.wake([device.deviceId]).catch((error: Error) => deps.log.warn({ err: error, deviceId: device.deviceId }, 'wake after enrollment failed'));
        return ok();
      }
      case 'CheckOut':
        await devices.checkOut(device);
        return ok();
      default:
        return refuse(400, 'unknown_message_type', `unsupported check-in message ${JSON.stringify(type)}`);
    }
  }

  /** The next command as a plist, failing (never blocking on) commands that cannot be rendered. */
  async function nextCommand(deviceId: string, newSession: boolean): Promise<string | undefined> {
    for (let failures = 0; failures <= MAX_RENDER_FAILURES; failures++) {
      const handOut = await queue.next(deviceId, { newSession: newSession && failures === 0, limit: 1 });
      // iPads cannot be told of a cancellation: a cancelled command is simply never handed out.
      if (handOut.cancelled.length > 0) await queue.cancellationsDelivered(deviceId, handOut.cancelled);
      const command = handOut.commands[0];
      if (!command) return undefined;
      try {
        return buildPlist(await adapter.render(command));
      } catch (error) {
        if (!(error instanceof RenderError)) throw error;
        await queue.report(deviceId, { commandId: command.id, status: 'failed', error: { code: 'render_failed', message: error.message }, raw: null });
      }
    }
    return undefined;
  }

  async function command(headers: Record<string, string | string[] | undefined>, body: Buffer): Promise<Answer> {
    const who = await identify(deps.identity, headers, body);
    if (!who.ok) return refuse(who.status, who.code, who.message);
    const report = parsePlistDict(body);
    if (!report) return refuse(400, 'malformed_plist', 'the body is not an XML property list dict');
    const device = who.device;
    if (report.UserID !== undefined) return refuse(410, 'user_channel_declined', 'user channels are not supported');
    const status = str(report.Status);
    if (!status || !(REPORT_STATUSES as readonly string[]).includes(status)) return refuse(400, 'unknown_status', `unknown Status ${JSON.stringify(status)}`);
    if (device.udid === null) return refuse(400, 'not_authenticated', 'the device has not authenticated');
    if (str(report.UDID) !== device.udid) return refuse(403, 'udid_mismatch', 'the UDID is not the one this certificate authenticated with');

    deps.lastSeen.touch(device.deviceId);
    if (status !== 'Idle') {
      const commandId = report.CommandUUID;
      if (!isCommandUuid(commandId)) return refuse(400, 'missing_command_uuid', `a ${status} report needs the CommandUUID it answers`);
      const { outcome, facts } = decodeReport(report, status as Exclude<ReportStatus, 'Idle'>, commandId.toLowerCase());
      // What the device tells of itself is recorded before the outcome, so a succeeded refresh shows fresh facts.
      if (facts.inventory) await inventory.updateInventory(device.deviceId, facts.inventory);
      if (facts.status) await inventory.updateStatus(device.deviceId, facts.status);
      if (facts.supervised !== null) await devices.setSupervised(device.deviceId, facts.supervised);
      if (facts.apps) await inventory.updateApps(device.deviceId, facts.apps);
      await queue.report(device.deviceId, outcome);
    }
    // After NotNow the device is busy: what it put off waits for its next connection.
    const next = await nextCommand(device.deviceId, status === 'Idle');
    return ok(next);
  }

  return { checkin, command };
}
export type MdmExchange = ReturnType<typeof createMdmExchange>;
