import { XMLBuilder } from 'fast-xml-parser';
import type { CspCommand } from './csp.compiler';

/** Ordered mode: OMA-DM commands run in document order, so the builder must keep it. */
const builder = new XMLBuilder({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@', format: true, indentBy: '  ', suppressEmptyNode: true });

type Node = Record<string, unknown>;
const element = (name: string, children: Node[] | string, attributes?: Record<string, string>): Node => ({
  [name]: typeof children === 'string' ? [{ '#text': children }] : children,
  ...(attributes ? { ':@': attributes } : {}),
});

/**
 * The commands as the `SyncBody` of an OMA-DM 1.2 message (MS-MDM), each with its CmdID. The
 * session engine places it after its own `SyncHdr` and Status elements. Values are text:
 * the builder escapes the XML they carry (a WLAN profile, an ADMX value), as Windows expects.
 */
export function renderSyncBody(commands: CspCommand[], cmdId: (index: number) => string): string {
  const elements = commands.map((command, i) => {
    const item = [element('Target', [element('LocURI', command.locUri)])];
    if (command.format) item.push(element('Meta', [element('Format', command.format, { '@xmlns': 'syncml:metinf' })]));
    if (command.data !== undefined) item.push(element('Data', command.data));
    return element(command.verb, [element('CmdID', cmdId(i)), element('Item', item)]);
  });
  return (builder.build([element('SyncBody', [...elements, element('Final', [])])]) as string).trimStart();
}
