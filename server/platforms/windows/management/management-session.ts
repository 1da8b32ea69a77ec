import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { CommandOutcome, CommandQueuePort, InventoryPort, PlatformAdapter } from '../../../domain/platform-ports';
import type { OpenedSessions, WindowsDevicesService, WindowsEnrollment } from '../../../modules/windows-mdm/windows-devices.service';
import type { LastSeen } from '../../last-seen';
import type { PeriodicWrites } from '../../periodic-writes';
import { profileRemoval, RenderError, type SyncCommand, type WindowsRendered } from '../windows-commands';
import { buildXml } from '../xml';
import { inventoryReport } from './inventory';
import { emptySession, type InFlight, type SessionDevice, type SessionState, type SessionStore } from './session-state';
import { buildSyncML, childText, itemsOf, parseSyncML, SyncMLError, type ReplyStatus, type SyncMessage } from './syncml-message';

export interface ManagementAnswer {
  status: 200 | 400;
  body: string;
  refusal?: { code: string; message: string };
}

export interface ManagementDeps {
  devices: WindowsDevicesService;
  queue: CommandQueuePort;
  inventory: InventoryPort;
  /** Last-seen times, written for all devices every few seconds. */
  lastSeen: Pick<LastSeen, 'touch'>;
  /** Sessions opened, counted per device and written every few seconds. */
  sessionsOpened: Pick<PeriodicWrites<Omit<OpenedSessions, 'deviceId'>>, 'add'>;
  adapter: PlatformAdapter<WindowsRendered>;
  sessions: SessionStore;
  serverUrl: string;
  /** The header in which the TLS terminator forwards the client certificate's SHA-1 thumbprint; unset: digest only. */
  thumbprintHeader?: string;
  commandsPerMessage: number;
  log: Logger;
}

const UNENROLLMENT = 'com.microsoft:mdm.unenrollment.userrequest';
/** Our CmdIDs are `<command id>.<part>`: a reply names its command even when the session's state is gone. */
const cmdIdOf = (commandId: string, part: number) => `${commandId}.${part}`;
const CMD_REF = /^([0-9a-f-]{36})\.(\d+)$/;

/** A message's id as the queue keeps it (a UUID): the same device, session and MsgID give the same one, so a re-sent message is recognised. */
function messageUuid(deviceId: string, sessionId: string, msgId: string): string {
  const h = createHash('sha256').update(`${deviceId}:${sessionId}:${msgId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** OMA-DM auth-md5: b64(md5(b64(md5(user:secret)) ":" nonce)), the nonce taken raw. */
function digestMatches(hash: string, nonceB64: string, credential: string): boolean {
  const expected = createHash('md5').update(Buffer.concat([Buffer.from(`${hash}:`), Buffer.from(nonceB64, 'base64')])).digest();
  const given = Buffer.from(credential, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The OMA-DM management endpoint (MS-MDM): one POST per message. Each answer holds the Status
 * of the device's header and commands, then up to N queued commands; an answer with nothing
 * queued ends the session. Replies are stored raw against the commands they answer.
 */
export function createManagementSession(deps: ManagementDeps) {
  const { devices, queue, inventory, adapter, sessions } = deps;

  async function handle(raw: string, headers: Record<string, string | string[] | undefined>): Promise<ManagementAnswer> {
    let message: SyncMessage;
    try {
      message = parseSyncML(raw);
    } catch (error) {
      if (error instanceof SyncMLError) return { status: 400, body: '', refusal: { code: 'malformed_syncml', message: error.message } };
      throw error;
    }
    const reply = (statuses: ReplyStatus[], commands: Array<{ cmdId: string; command: SyncCommand }> = []) => buildSyncML({ sessionId: message.sessionId, msgId: message.msgId, deviceId: message.source, serverUrl: deps.serverUrl }, statuses, commands);
    const refuse = (code: number, reason: string, detail: string, chal?: string): ManagementAnswer => ({ status: 200, body: reply([{ cmdRef: '0', cmd: 'SyncHdr', code, ...(chal ? { chal: { nonce: chal } } : {}) }]), refusal: { code: reason, message: detail } });

    if (message.verDtd !== '1.2') return refuse(505, 'unsupported_dtd', `VerDTD ${message.verDtd} is not 1.2`);
    if (message.verProto !== 'DM/1.2') return refuse(513, 'unsupported_protocol', `VerProto ${message.verProto} is not DM/1.2`);
    if (!message.source || !message.sessionId || !message.msgId) return { status: 400, body: '', refusal: { code: 'malformed_syncml', message: 'SyncHdr needs SessionID, MsgID and Source' } };

    // 1201: the tablet opens the session (its poll, a sign-in); 1200: it answers a server push.
    const newSession = message.commands.some((c) => c.element === 'Alert' && ['1200', '1201'].includes(childText(c.node, 'Data')));
    // Who: the forwarded certificate's thumbprint when the terminator sends one, the digest otherwise.
    const forwarded = deps.thumbprintHeader ? headers[deps.thumbprintHeader.toLowerCase()] : undefined;
    const thumbprint = typeof forwarded === 'string' && forwarded.length > 0 ? forwarded.replaceAll(':', '').trim().toUpperCase() : null;

    // Within a session the device its first message authenticated stands: a later message is
    // matched to it by its session and not looked up again (a revocation takes effect at the next
    // session). A message opening a session is always looked up.
    let opened = newSession ? null : await sessions.open(message.source, message.sessionId, null);
    let device: SessionDevice;
    let enrollment: WindowsEnrollment | null = null;
    if (opened?.state.authenticated && opened.state.device && (thumbprint === null || opened.state.device.thumbprint === thumbprint)) device = opened.state.device;
    else {
      if (thumbprint !== null) {
        enrollment = await devices.enrollmentByThumbprint(thumbprint);
        if (!enrollment) return refuse(403, 'certificate_unknown', 'the client certificate was not issued to a Windows tablet by this server');
        if (enrollment.windowsDeviceId !== message.source) return refuse(403, 'source_mismatch', 'the Source is not the device the certificate was issued to');
      } else {
        enrollment = await devices.enrollmentBySource(message.source);
        if (!enrollment) return refuse(403, 'device_unknown', 'no Windows tablet is enrolled with this DeviceID');
      }
      if (enrollment.revoked || enrollment.deviceStatus !== 'active') return refuse(403, 'device_revoked', `the device is ${enrollment.deviceStatus === 'active' ? 'revoked' : enrollment.deviceStatus}`);
      device = { deviceId: enrollment.deviceId, organisationId: enrollment.organisationId, schoolId: enrollment.schoolId, thumbprint };
      // The nonce is taken with the state only for a digest to check: a session already authenticated keeps it.
      const takeNonce = thumbprint === null && message.cred !== null;
      if (!opened || (takeNonce && !opened.state.authenticated)) opened = await sessions.open(message.source, message.sessionId, takeNonce ? device.deviceId : null);
      // A state left by an earlier enrollment of the same DeviceID (a reset tablet) is not this device's.
      if (opened.state.device && opened.state.device.deviceId !== device.deviceId) opened = { ...opened, state: emptySession() };
    }

    const { state } = opened;
    const msgNumber = Number.parseInt(message.msgId, 10);
    // Later messages of a digest session carry no credentials: they must at least follow the
    // authenticated one, so an old session cannot be taken up again out of order.
    if (state.authenticated && !(msgNumber > state.lastMsgId)) return refuse(403, 'message_out_of_order', `MsgID ${message.msgId} does not follow ${state.lastMsgId} in this session`);
    state.lastMsgId = Number.isFinite(msgNumber) ? msgNumber : 0;
    const statuses: ReplyStatus[] = [];
    let nextNonce: string | null = null;
    if (thumbprint !== null) state.authenticated = true;
    else if (!state.authenticated) {
      if (!message.cred) return refuse(407, 'credentials_missing', 'no credentials: a digest is asked for', await sessions.replaceNonce(device.deviceId));
      if (message.cred.type !== 'syncml:auth-md5' || !opened.nonce || !enrollment || !digestMatches(devices.digestHashOf(enrollment), opened.nonce, message.cred.data)) {
        return refuse(401, 'digest_invalid', 'the MD5 digest does not match', await sessions.replaceNonce(device.deviceId));
      }
      state.authenticated = true;
      // 212: authenticated for the session; the nonce for the next one comes with it (kept before the answer leaves).
      nextNonce = sessions.nonce();
      statuses.push({ cmdRef: '0', cmd: 'SyncHdr', code: 212, chal: { nonce: nextNonce } });
    }
    state.device = device;
    if (statuses.length === 0) statuses.push({ cmdRef: '0', cmd: 'SyncHdr', code: 200 });

    deps.lastSeen.touch(device.deviceId);
    if (newSession) deps.sessionsOpened.add(device.deviceId, { sessionId: message.sessionId, count: 1, at: new Date() });

    let unenrolled = false;
    const replies: Parameters<WindowsDevicesService['recordReplies']>[0] = [];
    for (const command of message.commands) {
      if (command.element === 'Status' || command.element === 'Results') {
        const cmdRef = childText(command.node, 'CmdRef');
        const match = CMD_REF.exec(cmdRef);
        const code = command.element === 'Status' ? Number.parseInt(childText(command.node, 'Data'), 10) : null;
        if (cmdRef !== '0') replies.push({ deviceId: device.deviceId, commandId: match?.[1] ?? null, cmdRef, element: command.element, verb: childText(command.node, 'Cmd') || null, code: Number.isFinite(code) ? code : null, raw: buildXml([command.node]), sessionId: message.sessionId, msgId: message.msgId });
        const inFlight = match ? state.inFlight[match[1]!] : undefined;
        if (!inFlight) continue;
        if (code !== null && Number.isFinite(code)) inFlight.codes[match![2]!] = code;
        else for (const item of itemsOf(command.node)) inFlight.results[item.locUri] = item.data;
        continue;
      }
      if (command.element === 'Alert') {
        const data = childText(command.node, 'Data');
        const type = childText(command.node, 'Item', 'Meta', 'Type');
        if (data === '1226' && type === UNENROLLMENT) unenrolled = true;
      }
      if (command.element === 'Replace') for (const item of itemsOf(command.node)) if (item.locUri.startsWith('./DevInfo/')) state.devInfo[item.locUri.slice('./DevInfo/'.length)] = item.data;
      statuses.push({ cmdRef: command.cmdId, cmd: command.element, code: 200 });
    }
    if (replies.length > 0) await devices.recordReplies(replies);

    if (unenrolled) {
      await devices.unenroll(device);
      await sessions.close(message.source, message.sessionId, { deviceId: device.deviceId, state: null, stored: opened.stored, nextNonce });
      return { status: 200, body: reply(statuses) };
    }

    await settle(device.deviceId, state, messageUuid(device.deviceId, message.sessionId, message.msgId));

    // What goes next: 418 re-sends as Replace, then new commands, up to the per-message limit.
    const out: Array<{ cmdId: string; command: SyncCommand }> = [];
    for (const r of state.resend.splice(0)) out.push({ cmdId: `${cmdIdOf(r.commandId, r.part)}`, command: r.command });
    if (out.length < deps.commandsPerMessage) {
      const handOut = await queue.next(device.deviceId, { newSession, limit: deps.commandsPerMessage - out.length });
      // Windows cannot be told of a cancellation: a cancelled command is simply never sent.
      if (handOut.cancelled.length > 0) await queue.cancellationsDelivered(device.deviceId, handOut.cancelled);
      for (const command of handOut.commands) {
        let rendered: WindowsRendered;
        let profile: InFlight['profile'];
        try {
          if (command.kind === 'remove_profile') {
            // Only this tablet knows what its install of the profile put in place.
            const profileId = String(command.params.profileId);
            const removal = await devices.profileRemoval(device.deviceId, profileId);
            if (!removal) {
              // Nothing of it was ever sent to this tablet: it is already as the removal wants it.
              await queue.report(device.deviceId, { commandId: command.id, status: 'succeeded', result: { removed: false, reason: 'never installed on this tablet by Cartable' }, raw: null });
              continue;
            }
            rendered = { commandId: command.id, kind: command.kind, commands: removal.map((r) => ({ verb: r.verb, items: [{ locUri: r.locUri }] })) };
            profile = { id: profileId };
          } else {
            rendered = await adapter.render(command);
            if (command.kind === 'install_profile') {
              const undo = profileRemoval(command);
              if (undo) profile = { id: undo.profileId, removal: undo.removal };
            }
          }
        } catch (error) {
          if (!(error instanceof RenderError)) throw error;
          await queue.report(device.deviceId, { commandId: command.id, status: 'failed', error: { code: 'render_failed', message: error.message }, raw: null });
          continue;
        }
        state.inFlight[command.id] = { kind: command.kind, parts: rendered.commands, codes: {}, results: {}, ...(profile ? { profile } : {}) };
        rendered.commands.forEach((part, i) => out.push({ cmdId: cmdIdOf(command.id, i), command: part }));
      }
    }
    const ended = out.length === 0 && Object.keys(state.inFlight).length === 0;
    await sessions.close(message.source, message.sessionId, { deviceId: device.deviceId, state: ended ? null : state, stored: opened.stored, nextNonce });
    return { status: 200, body: reply(statuses, out) };
  }

  /** Commands whose every part has a status are reported; an Add refused with 418 goes again as Replace. */
  async function settle(deviceId: string, state: SessionState, messageId: string): Promise<void> {
    for (const [commandId, inFlight] of Object.entries(state.inFlight)) {
      const codes = inFlight.parts.map((_, i) => inFlight.codes[String(i)]);
      if (codes.some((c) => c === undefined)) continue;
      const again = inFlight.parts.flatMap((part, i) => (codes[i] === 418 && part.verb === 'Add' ? [i] : []));
      if (again.length > 0) {
        for (const i of again) {
          const replace: SyncCommand = { ...inFlight.parts[i]!, verb: 'Replace' };
          inFlight.parts[i] = replace;
          delete inFlight.codes[String(i)];
          state.resend.push({ commandId, part: i, command: replace });
        }
        continue;
      }
      delete state.inFlight[commandId];
      // Deleting what is already gone (404) leaves the tablet as a removal wants it.
      const failed = codes.find((c, i) => c! >= 300 && !(c === 404 && inFlight.parts[i]!.verb === 'Delete'));
      const raw = { codes, results: inFlight.results };
      let outcome: CommandOutcome;
      if (failed !== undefined) {
        // Some of its settings may have taken: its removal is kept all the same, to undo them later.
        if (inFlight.kind === 'install_profile' && inFlight.profile?.removal) await devices.profileInstalled(deviceId, inFlight.profile.id, inFlight.profile.removal);
        outcome = { commandId, kind: inFlight.kind, status: 'failed', error: { code: `windows_status_${failed}`, message: `the device answered ${failed}` }, raw, messageId };
      } else {
        if (inFlight.kind === 'refresh_inventory') {
          const report = inventoryReport(inFlight.results, state.devInfo);
          await inventory.updateInventory(deviceId, report.inventory);
          await inventory.updateStatus(deviceId, report.status);
        }
        if (inFlight.kind === 'install_profile' && inFlight.profile?.removal) await devices.profileInstalled(deviceId, inFlight.profile.id, inFlight.profile.removal);
        if (inFlight.kind === 'remove_profile' && inFlight.profile) await devices.profileRemoved(deviceId, inFlight.profile.id);
        outcome = { commandId, kind: inFlight.kind, status: 'succeeded', result: inFlight.kind === 'refresh_inventory' ? { nodes: inFlight.results } : null, raw, messageId };
      }
      await queue.report(deviceId, outcome);
    }
  }

  return { handle };
}
export type ManagementSession = ReturnType<typeof createManagementSession>;
