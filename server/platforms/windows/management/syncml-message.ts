import { all, childrenOf, escapeText, first, parseXml, path, tagOf, text, localName, XmlError, type XNode } from '../xml';
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

export interface ReplyStatus {
  cmdRef: string;
  cmd: string;
  code: number;
  chal?: { nonce: string };
}

/** `<name attributes>text</name>`, or `<name attributes/>` for no text: what the builder writes for the same element. */
const element = (name: string, text: string, attributes = '') => (text === '' ? `<${name}${attributes}/>` : `<${name}${attributes}>${escapeText(text)}</${name}>`);
const metinf = (name: string, text: string) => element(name, text, ' xmlns="syncml:metinf"');

/**
 * The server's message: SyncHdr, our Statuses (CmdID 1…), then the commands given, then Final.
 * Written from a template (the same document the XML builder makes of it, as the golden test
 * pins), every value escaped by the builder's own escaping: it is written at every message.
 */
export function buildSyncML(header: { sessionId: string; msgId: string; deviceId: string; serverUrl: string }, statuses: ReplyStatus[], commands: Array<{ cmdId: string; command: SyncCommand }>): string {
  let xml = `<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>${element('SessionID', header.sessionId)}${element('MsgID', header.msgId)}<Target>${element('LocURI', header.deviceId)}</Target><Source>${element('LocURI', header.serverUrl)}</Source></SyncHdr><SyncBody>`;
  const msgRef = element('MsgRef', header.msgId);
  let next = 1;
  for (const s of statuses) {
    xml += `<Status><CmdID>${next++}</CmdID>${msgRef}${element('CmdRef', s.cmdRef)}${element('Cmd', s.cmd)}`;
    if (s.chal) xml += `<Chal><Meta>${metinf('Type', 'syncml:auth-md5')}${metinf('Format', 'b64')}${metinf('NextNonce', s.chal.nonce)}</Meta></Chal>`;
    xml += `<Data>${s.code}</Data></Status>`;
  }
  for (const { cmdId, command } of commands) {
    xml += `<${command.verb}>${element('CmdID', cmdId)}`;
    for (const item of command.items) {
      xml += `<Item><Target>${element('LocURI', item.locUri)}</Target>`;
      if (item.format) xml += `<Meta>${metinf('Format', item.format)}</Meta>`;
      if (item.data !== undefined) xml += element('Data', item.data);
      xml += '</Item>';
    }
    xml += `</${command.verb}>`;
  }
  return `${xml}<Final/></SyncBody></SyncML>`;
}
