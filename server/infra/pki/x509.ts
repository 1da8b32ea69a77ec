import { createHash, type KeyObject } from 'node:crypto';
import {
  bitStringBytes,
  bits,
  bool,
  bytesOf,
  children,
  contextTagged,
  implicitPrimitive,
  integer,
  isContext,
  octets,
  oid,
  oidOf,
  parseDer,
  seq,
  time,
  toDer,
  type Asn1,
} from './der';
import { signatureAlgorithm, signDer, signDerOffLoop } from './signature';

/** Building and reading X.509 v3 certificates (RFC 5280) at the ASN.1 level. */

/** notBefore is backdated so clocks running a little behind ours (fresh tablets often do) still accept. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface CertificateFields {
  serial: Buffer;
  issuer: Asn1;
  subject: Asn1;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, embedded byte for byte so any key type the CSR carried survives. */
  spkiDer: Buffer;
  extensions: Asn1[];
  signingKey: KeyObject;
}

export function buildCertificate(fields: CertificateFields): Buffer {
  const { tbs, algorithm } = toBeSigned(fields);
  return toDer(seq([tbs, algorithm, bits(signDer(toDer(tbs), fields.signingKey))]));
}

/** The same certificate, signed on the thread pool: what an enrollment burst issues. */
export async function buildCertificateOffLoop(fields: CertificateFields): Promise<Buffer> {
  const { tbs, algorithm } = toBeSigned(fields);
  return toDer(seq([tbs, algorithm, bits(await signDerOffLoop(toDer(tbs), fields.signingKey))]));
}

function toBeSigned(fields: CertificateFields): { tbs: Asn1; algorithm: Asn1 } {
  const algorithm = signatureAlgorithm(fields.signingKey);
  const tbs = seq([
    contextTagged(0, [integer(Buffer.from([2]))]),
    integer(fields.serial),
    algorithm,
    fields.issuer,
    seq([time(fields.notBefore), time(fields.notAfter)]),
    fields.subject,
    parseDer(fields.spkiDer),
    contextTagged(3, [seq(fields.extensions)]),
  ]);
  return { tbs, algorithm };
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const [, publicKey] = children(parseDer(spkiDer), 2);
  return createHash('sha1').update(bitStringBytes(publicKey)).digest();
}

const KEY_USAGE_BITS = {
  digitalSignature: 0x80,
  keyEncipherment: 0x20,
  keyCertSign: 0x04,
  cRLSign: 0x02,
} as const;

function ext(id: string, critical: boolean, value: Asn1): Asn1 {
  // DER forbids encoding the DEFAULT FALSE of `critical`.
  return seq(critical ? [oid(id), bool(true), octets(toDer(value))] : [oid(id), octets(toDer(value))]);
}

export const extensions = {
  basicConstraints(isCa: boolean): Asn1 {
    // pathLen 0: this CA only ever issues end-entity certificates.
    return ext('2.5.29.19', true, seq(isCa ? [bool(true), integer(Buffer.from([0]))] : []));
  },
  keyUsage(usages: ReadonlyArray<keyof typeof KEY_USAGE_BITS>): Asn1 {
    const mask = usages.reduce((acc, usage) => acc | KEY_USAGE_BITS[usage], 0);
    // DER BIT STRING: trailing zero bits are dropped and counted as unused.
    let unused = 0;
    while (unused < 7 && (mask & (1 << unused)) === 0) unused++;
    return ext('2.5.29.15', true, bits(Buffer.from([mask]), unused));
  },
  clientAuth(): Asn1 {
    return ext('2.5.29.37', false, seq([oid('1.3.6.1.5.5.7.3.2')]));
  },
  subjectKeyIdentifier(keyId: Buffer): Asn1 {
    return ext('2.5.29.14', false, octets(keyId));
  },
  authorityKeyIdentifier(keyId: Buffer): Asn1 {
    return ext('2.5.29.35', false, seq([implicitPrimitive(0, keyId)]));
  },
};

export interface CertificateView {
  issuer: Asn1;
  serial: Asn1;
  subject: Asn1;
  spkiDer: Buffer;
  subjectKeyId: Buffer | null;
}

/** The parts node:crypto's X509Certificate does not expose: the raw subject Name and the SKI. */
export function readCertificate(der: Buffer): CertificateView {
  const [tbs] = children(parseDer(der), 3);
  const fields = children(tbs, 6);
  const at = isContext(fields[0], 0) ? 1 : 0;
  const subject = fields[at + 4]!;
  const spki = fields[at + 5];
  if (!spki) throw new Error('certificate without a public key');
  const extensionList = fields.find((field) => isContext(field, 3));
  return {
    issuer: fields[at + 2]!,
    serial: fields[at]!,
    subject,
    spkiDer: toDer(spki),
    subjectKeyId: extensionList ? findSubjectKeyId(children(extensionList, 1)[0]) : null,
  };
}

function findSubjectKeyId(extensionList: Asn1 | undefined): Buffer | null {
  for (const extension of children(extensionList)) {
    const parts = children(extension, 2);
    if (oidOf(parts[0]) === '2.5.29.14') return bytesOf(parseDer(bytesOf(parts[parts.length - 1])));
  }
  return null;
}
