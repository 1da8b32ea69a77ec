/**
 * A small read-only BER reader for structures read on hot paths (the CMS signature of every
 * iPad request): it only locates elements in the original bytes, without building objects or
 * re-encoding anything, so that signed bytes are always the bytes received. DER is a subset of
 * BER; indefinite lengths and constructed strings are accepted because devices may send them.
 * Anything out of bounds or inconsistent throws.
 */

const UNIVERSAL = 0;
const CONTEXT = 2;

export interface Ber {
  readonly bytes: Buffer;
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly tagClass: number;
  readonly tag: number;
  readonly constructed: boolean;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** The contents, end-of-contents octets excluded. */
  readonly contentStart: number;
  readonly contentEnd: number;
  /** Offset just past the element (past its end-of-contents octets when the length is indefinite). */
  readonly end: number;
  readonly depth: number;
}

/** Nesting deeper than this is refused: nothing read with this module nests that far, and it bounds the recursion. */
const MAX_DEPTH = 32;

/** Reads the element at `offset`, which must end by `limit`. */
export function readBer(bytes: Buffer, offset = 0, limit = bytes.length, depth = 0): Ber {
  if (depth > MAX_DEPTH) throw new Error('BER nested too deeply');
  let at = offset;
  const byte = (): number => {
    if (at >= limit) throw new Error('BER truncated');
    return bytes[at++]!;
  };
  const identifier = byte();
  const tagClass = identifier >> 6;
  const constructed = (identifier & 0x20) !== 0;
  let tag = identifier & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let b = byte(), n = 0; ; b = byte(), n++) {
      if (n === 3) throw new Error('BER tag number too large');
      tag = tag * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
  }

  const first = byte();
  if (first === 0x80) {
    // Indefinite length: the contents run to an end-of-contents (00 00) at this level.
    if (!constructed) throw new Error('BER indefinite length on a primitive element');
    const contentStart = at;
    while (!(at + 1 < limit && bytes[at] === 0 && bytes[at + 1] === 0)) at = readBer(bytes, at, limit, depth + 1).end;
    return { bytes, tagClass, tag, constructed, start: offset, contentStart, contentEnd: at, end: at + 2, depth };
  }
  let length = first;
  if (first > 0x80) {
    const count = first & 0x7f;
    // The input is a few KiB: more than 3 length octets is an error, not a large element.
    if (count > 3) throw new Error('BER length too large');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + byte();
  }
  if (length > limit - at) throw new Error('BER length beyond the data');
  return { bytes, tagClass, tag, constructed, start: offset, contentStart: at, contentEnd: at + length, end: at + length, depth };
}

/** The elements inside a constructed element. */
export function berChildren(node: Ber): Ber[] {
  if (!node.constructed) throw new Error('BER element is not constructed');
  const out: Ber[] = [];
  for (let at = node.contentStart; at < node.contentEnd; ) {
    const child = readBer(node.bytes, at, node.contentEnd, node.depth + 1);
    out.push(child);
    at = child.end;
  }
  return out;
}

export function isUniversal(node: Ber | undefined, tag: number): node is Ber {
  return node?.tagClass === UNIVERSAL && node.tag === tag;
}

export function isContext(node: Ber | undefined, tag: number): node is Ber {
  return node?.tagClass === CONTEXT && node.tag === tag && node.constructed;
}

/** The element's bytes as received, identifier to end. */
export function berBytes(node: Ber): Buffer {
  return node.bytes.subarray(node.start, node.end);
}

export function berContent(node: Ber): Buffer {
  return node.bytes.subarray(node.contentStart, node.contentEnd);
}

/** An OCTET STRING's value; a constructed one (BER) is the concatenation of its segments. */
export function berOctets(node: Ber | undefined): Buffer {
  if (!isUniversal(node, 0x04)) throw new Error('BER element is not an OCTET STRING');
  return node.constructed ? Buffer.concat(berChildren(node).map(berOctets)) : berContent(node);
}

/** An OBJECT IDENTIFIER in dotted form. */
export function berOid(node: Ber | undefined): string {
  if (!isUniversal(node, 0x06) || node.constructed || node.contentEnd === node.contentStart) throw new Error('BER element is not an OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let value = 0;
  for (let at = node.contentStart; at < node.contentEnd; at++) {
    const b = node.bytes[at]!;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new Error('BER object identifier arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    }
  }
  if (node.bytes[node.contentEnd - 1]! & 0x80) throw new Error('BER object identifier truncated');
  return arcs.join('.');
}
