import CFB from 'cfb';
import { refusePackage, type PackageFacts } from './package-facts';

/**
 * An MSI is an OLE compound file whose tables are streams. cfb reads the compound file; the MSI
 * layer on top is small and done here: stream names are compressed into CJK code points, strings
 * live in one pool (`_StringPool` lengths, `_StringData` bytes) and a table stores its rows
 * column by column as indexes into that pool. Only the Property table is read.
 */
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._';

/** The name a stream stands for: two characters per code point from 0x3800, one from 0x4800, `!` (a table) for 0x4840. */
export function decodeStreamName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c >= 0x3800 && c < 0x4800) out += ALPHABET[(c - 0x3800) & 0x3f]! + ALPHABET[((c - 0x3800) >> 6) & 0x3f]!;
    else if (c >= 0x4800 && c < 0x4840) out += ALPHABET[c - 0x4800]!;
    else if (c === 0x4840) out += '!';
    else out += ch;
  }
  return out;
}

export function readMsi(path: string): PackageFacts {
  let container: CFB.CFB$Container;
  try {
    container = CFB.read(path, { type: 'file' });
  } catch (e) {
    return refusePackage('package_corrupt', `The MSI is not a readable compound file: ${(e as Error).message}`);
  }
  const streams = new Map<string, Buffer>();
  for (const entry of container.FileIndex) {
    if (entry.type === 2 && entry.content) streams.set(decodeStreamName(entry.name), Buffer.from(entry.content as Uint8Array));
  }
  const pool = streams.get('!_StringPool');
  const data = streams.get('!_StringData');
  const table = streams.get('!Property');
  if (!pool || !data || !table) refusePackage('package_corrupt', 'The file is a compound file but not an MSI database (no string pool or Property table)');
  const strings = stringPool(pool, data);
  const properties = propertyTable(table, strings.values, strings.longRefs);
  const productCode = properties.get('ProductCode');
  const productVersion = properties.get('ProductVersion');
  const productName = properties.get('ProductName');
  if (!productCode || !/^\{[0-9A-Fa-f-]{36}\}$/.test(productCode)) refusePackage('package_corrupt', 'The MSI has no valid ProductCode property');
  if (!productVersion) refusePackage('package_corrupt', 'The MSI has no ProductVersion property');
  return {
    platform: 'windows',
    kind: 'msi',
    identifier: productCode.toUpperCase(),
    name: productName ?? productCode,
    version: productVersion,
    versionCode: null,
    signingCertSha256: null,
    metadata: {
      productCode: productCode.toUpperCase(),
      productVersion,
      productName: productName ?? null,
      manufacturer: properties.get('Manufacturer') ?? null,
      upgradeCode: properties.get('UpgradeCode') ?? null,
    },
  };
}

function stringPool(pool: Buffer, data: Buffer): { values: string[]; longRefs: boolean } {
  if (pool.length < 4) refusePackage('package_corrupt', 'The MSI string pool is empty');
  const header = pool.readUInt32LE(0);
  const codepage = header & 0x7fffffff;
  const decoder = new TextDecoder(codepage === 65001 ? 'utf-8' : 'windows-1252');
  const values = [''];
  let offset = 0;
  for (let at = 4; at + 4 <= pool.length; at += 4) {
    let length = pool.readUInt16LE(at);
    const refs = pool.readUInt16LE(at + 2);
    // A string of 64 KiB or more: a zero length whose count is the high half, the next entry the low half.
    if (length === 0 && refs !== 0) {
      if (at + 8 > pool.length) break;
      length = (refs << 16) + pool.readUInt16LE(at + 4);
      at += 4;
    }
    if (offset + length > data.length) refusePackage('package_corrupt', 'The MSI string pool points past its data');
    values.push(decoder.decode(data.subarray(offset, offset + length)));
    offset += length;
  }
  return { values, longRefs: (header & 0x80000000) !== 0 };
}

/** Two string columns, Property and Value, stored column after column. */
function propertyTable(table: Buffer, strings: string[], longRefs: boolean): Map<string, string> {
  const width = longRefs ? 3 : 2;
  const rows = Math.floor(table.length / (2 * width));
  const ref = (at: number) => (width === 2 ? table.readUInt16LE(at) : table.readUIntLE(at, 3));
  const properties = new Map<string, string>();
  for (let row = 0; row < rows; row++) {
    const key = strings[ref(row * width)];
    const value = strings[ref((rows + row) * width)];
    if (key !== undefined && value !== undefined) properties.set(key, value);
  }
  return properties;
}
