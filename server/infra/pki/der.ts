import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * ASN.1/DER plumbing shared by the CA, CSR and certificate code. forge only lays out the
 * structures; every signature is made and checked with node:crypto.
 */

export type Asn1 = forge.asn1.Asn1;

const { Class, Type } = forge.asn1;

// @types/node-forge only declares the boolean form of fromDer; the options object is the real API.
const fromDerWithOptions = forge.asn1.fromDer as unknown as (
  bytes: string,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Asn1;

/**
 * Parses DER and insists it is canonical (re-encoding gives the same bytes), so that
 * `toDer(child)` yields exactly the bytes a signature was computed over.
 */
export function parseDer(der: Buffer): Asn1 {
  const node = fromDerWithOptions(der.toString('binary'), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
  if (!toDer(node).equals(der)) throw new Error('not canonical DER');
  return node;
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

export function seq(children: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, children);
}

export function set(children: Asn1[]): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.SET, true, children);
}

export function oid(dotted: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(dotted).getBytes());
}

export function nul(): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.NULL, false, '');
}

export function bool(value: boolean): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, value ? '\xff' : '\x00');
}

export function utf8(value: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.UTF8, false, Buffer.from(value, 'utf8').toString('binary'));
}

/** `bytes` must already be a minimal two's-complement encoding. */
export function integer(bytes: Buffer): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, bytes.toString('binary'));
}

export function octets(bytes: Buffer): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes.toString('binary'));
}

export function bits(bytes: Buffer, unusedBits = 0): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(unusedBits) + bytes.toString('binary'));
}

/** A constructed [tag]: an EXPLICIT wrapper, or an IMPLICIT SET/SEQUENCE. */
export function contextTagged(tag: number, content: Asn1[]): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, true, content);
}

export function implicitPrimitive(tag: number, bytes: Buffer): Asn1 {
  return forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, false, bytes.toString('binary'));
}

/** RFC 5280 4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050 on. */
export function time(date: Date): Asn1 {
  return date.getUTCFullYear() < 2050
    ? forge.asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, forge.asn1.dateToUtcTime(date))
    : forge.asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, forge.asn1.dateToGeneralizedTime(date));
}

/** 16 random bytes, top bit cleared (positive) and next bit set (no leading zero to strip). */
export function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

/** Narrowing accessors: each throws on an unexpected shape, which callers map to "malformed". */
export function children(node: Asn1 | undefined, min = 0): Asn1[] {
  if (!node || !Array.isArray(node.value) || node.value.length < min) throw new Error('unexpected ASN.1 structure');
  return node.value;
}

export function bytesOf(node: Asn1 | undefined): Buffer {
  if (!node || typeof node.value !== 'string') throw new Error('unexpected ASN.1 structure');
  return Buffer.from(node.value, 'binary');
}

export function oidOf(node: Asn1 | undefined): string {
  if (node?.type !== Type.OID || node.tagClass !== Class.UNIVERSAL) throw new Error('expected an OID');
  return forge.asn1.derToOid(bytesOf(node).toString('binary'));
}

/** BIT STRING content without its unused-bits byte; only whole-byte strings occur in keys and signatures. */
export function bitStringBytes(node: Asn1 | undefined): Buffer {
  if (node?.type !== Type.BITSTRING) throw new Error('expected a BIT STRING');
  const raw = bytesOf(node);
  if (raw[0] !== 0) throw new Error('BIT STRING with unused bits');
  return raw.subarray(1);
}

export function isContext(node: Asn1 | undefined, tag: number): boolean {
  return node?.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag;
}

export function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function fromPem(label: string, pem: string): Buffer {
  const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!match?.[1]) throw new Error(`no ${label} PEM block`);
  return Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
}
