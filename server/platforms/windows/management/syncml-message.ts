import { all, buildXml, childrenOf, el, first, parseXml, path, tagOf, text, localName, XmlError, type XNode } from '../xml';
import type { SyncCommand } from '../windows-commands';

/** One element of a device's SyncBody, in document order. */
export interface DeviceCommand {
  element: string;
  cmdId: string;
  node: XNode;
}

export interface SyncMessage {
  verDtd: string;
  verProto: string;
  sessionId: string;
  msgId: string;
  source: string;
  target: string;
  cred: { type: string; data: string } | null;
  commands: DeviceCommand[];
  final: boolean;
}

export class SyncMLError extends Error {}

/** Decodes an OMA-DM message, keeping the order of its commands; throws SyncMLError when it is not one. */
export function parseSyncML(raw: string): SyncMessage {
  let nodes: XNode[];
  try {
    nodes = parseXml(raw);
  } catch (error) {
    if (error instanceof XmlError) throw new SyncMLError(error.message);
    throw error;
  }
  const syncml = first(nodes, 'SyncML');
  if (!syncml) throw new SyncMLError('the body is not a SyncML message');
  const header = childrenOf(first(childrenOf(syncml), 'SyncHdr'));
  const body = first(childrenOf(syncml), 'SyncBody');
  if (header.length === 0 || !body) throw new SyncMLError('a SyncML message needs SyncHdr and SyncBody');
  const value = (...names: string[]) => text(path(header, ...names)).trim();
  const cred = first(header, 'Cred');
  const commands: DeviceCommand[] = [];
  let final = false;
  for (const node of childrenOf(body)) {
    const tag = tagOf(node);
    if (!tag) continue;
    const element = localName(tag);
    if (element === 'Final') {
      final = true;
      continue;
    }
    commands.push({ element, cmdId: text(first(childrenOf(node), 'CmdID')).trim(), node });
  }
  return {
    verDtd: value('VerDTD'),
    verProto: value('VerProto'),
    sessionId: value('SessionID'),
    msgId: value('MsgID'),
    source: value('Source', 'LocURI'),
    target: value('Target', 'LocURI'),
    cred: cred ? { type: text(path(childrenOf(cred), 'Meta', 'Type')).trim(), data: text(first(childrenOf(cred), 'Data')).trim() } : null,
    commands,
    final,
  };
}

export const childText = (node: XNode, ...names: string[]) => text(path(childrenOf(node), ...names)).trim();

/** The Items of a command: source or target LocURI, data, and Meta/Format. */
export function itemsOf(node: XNode): Array<{ locUri: string; data: string; format: string | null }> {
  return all(childrenOf(node), 'Item').map((item) => {
    const kids = childrenOf(item);
    const locUri = text(path(kids, 'Source', 'LocURI')).trim() || text(path(kids, 'Target', 'LocURI')).trim();
    const format = text(path(kids, 'Meta', 'Format')).trim();
    return { locUri, data: text(first(kids, 'Data')), format: format || null };
  });
}

const metinf = { xmlns: 'syncml:metinf' };

export interface ReplyStatus {
  cmdRef: string;
  cmd: string;
  code: number;
  chal?: { nonce: string };
}

/** The server's message: SyncHdr, our Statuses (CmdID 1…), then the commands given, then Final. */
export function buildSyncML(header: { sessionId: string; msgId: string; deviceId: string; serverUrl: string }, statuses: ReplyStatus[], commands: Array<{ cmdId: string; command: SyncCommand }>): string {
  let next = 1;
  const statusNodes = statuses.map((s) =>
    el('Status', [
      el('CmdID', String(next++)),
      el('MsgRef', header.msgId),
      el('CmdRef', s.cmdRef),
      el('Cmd', s.cmd),
      s.chal ? el('Chal', [el('Meta', [el('Type', 'syncml:auth-md5', metinf), el('Format', 'b64', metinf), el('NextNonce', s.chal.nonce, metinf)])]) : undefined,
      el('Data', String(s.code)),
    ]),
  );
  const commandNodes = commands.map(({ cmdId, command }) =>
    el(command.verb, [
      el('CmdID', cmdId),
      ...command.items.map((item) =>
        el('Item', [el('Target', [el('LocURI', item.locUri)]), item.format ? el('Meta', [el('Format', item.format, metinf)]) : undefined, item.data !== undefined ? el('Data', item.data === '' ? [] : item.data) : undefined]),
      ),
    ]),
  );
  const hdr = el('SyncHdr', [
    el('VerDTD', '1.2'),
    el('VerProto', 'DM/1.2'),
    el('SessionID', header.sessionId),
    el('MsgID', header.msgId),
    el('Target', [el('LocURI', header.deviceId)]),
    el('Source', [el('LocURI', header.serverUrl)]),
  ]);
  return buildXml([el('SyncML', [hdr, el('SyncBody', [...statusNodes, ...commandNodes, el('Final', [])])], { xmlns: 'SYNCML:SYNCML1.2' })]);
}
