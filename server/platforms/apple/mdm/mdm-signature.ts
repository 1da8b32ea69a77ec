import { createHash, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { berBytes, berChildren, berContent, berOctets, berOid, isContext, isUniversal, readBer, type Ber } from '../../../infra/pki/ber';

/**
 * The `Mdm-Signature` header (SignMessage=true): base64 of a CMS SignedData over the exact raw
 * body, content detached, signer certificate included. It is read on every iPad request, so the
 * CMS structure is walked in place (infra/pki/ber) rather than parsed into objects; the digest and
 * the signature are checked with node:crypto (OpenSSL), never with pure-JS RSA.
 */

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

/** Digests Apple devices and Go clients use (SHA-1 by mdmb and older iPadOS, SHA-2 otherwise). */
const DIGESTS: ReadonlyMap<string, string> = new Map([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);

/** Signature algorithms that name their hash; `rsaEncryption` takes the SignerInfo's digest. */
const SIGNATURES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.113549.1.1.5', 'sha1'],
  ['1.2.840.113549.1.1.11', 'sha256'],
  ['1.2.840.113549.1.1.12', 'sha384'],
  ['1.2.840.113549.1.1.13', 'sha512'],
  ['1.2.840.10045.4.1', 'sha1'],
  ['1.2.840.10045.4.3.2', 'sha256'],
  ['1.2.840.10045.4.3.3', 'sha384'],
  ['1.2.840.10045.4.3.4', 'sha512'],
]);

export type SignatureFailure = 'missing' | 'malformed' | 'bad_signature' | 'unsupported';
export type SignatureCheck = { ok: true; certificate: X509Certificate; fingerprintSha256: string } | { ok: false; reason: SignatureFailure; message: string };

/**
 * Signer certificates as parsed, by the SHA-256 of their DER: an iPad signs every request with
 * the same certificate, and parsing it (and its key) again each time was a tenth of a check-in's
 * CPU. What is kept depends on the certificate's bytes alone; nothing about a signature is.
 */
const PARSED_MAX = 10_000;
const parsedCertificates = new Map<string, { certificate: X509Certificate; publicKey: KeyObject }>();

function parsedCertificate(der: Buffer, fingerprintSha256: string): { certificate: X509Certificate; publicKey: KeyObject } {
  let parsed = parsedCertificates.get(fingerprintSha256);
  if (!parsed) {
    const certificate = new X509Certificate(der);
    parsed = { certificate, publicKey: certificate.publicKey };
    // A Map iterates in insertion order: the first key is the oldest entry.
    if (parsedCertificates.size >= PARSED_MAX) parsedCertificates.delete(parsedCertificates.keys().next().value!);
    parsedCertificates.set(fingerprintSha256, parsed);
  }
  return parsed;
}

const fail = (reason: SignatureFailure, message: string): SignatureCheck => ({ ok: false, reason, message });

/** The header's bytes: at most this long (a certificate chain and a signature fit in a few KiB). */
export const MAX_SIGNATURE_HEADER = 32 * 1024;

const SEQUENCE = 0x10;
const SET = 0x11;
const INTEGER = 0x02;

/** The children of a universal SEQUENCE or SET, or of a context [tag] EXPLICIT/IMPLICIT constructed element. */
function fields(node: Ber | undefined, what: string, tag = SEQUENCE, context = false): Ber[] {
  const expected = context ? isContext(node, tag) : isUniversal(node, tag) && node.constructed;
  if (!node || !expected) throw new Error(`${what} is not well formed`);
  return berChildren(node);
}

const algorithmOf = (node: Ber | undefined, what: string): string => berOid(fields(node, what)[0]);

/** A Name or INTEGER compared by value, whatever the length encoding (BER) of each of its parts. */
function sameValue(a: Ber, b: Ber): boolean {
  if (a.tagClass !== b.tagClass || a.tag !== b.tag || a.constructed !== b.constructed) return false;
  if (!a.constructed) return berContent(a).equals(berContent(b));
  const [left, right] = [berChildren(a), berChildren(b)];
  return left.length === right.length && left.every((child, i) => sameValue(child, right[i]!));
}

/** The listed certificate whose issuer and serial number are the signer's, as received. */
function signerCertificate(certificates: Ber[], issuer: Ber, serial: Ber): Buffer | undefined {
  for (const certificate of certificates) {
    // Other CertificateChoices (attribute certificates, [1] to [3]) cannot be the signer's.
    if (!isUniversal(certificate, SEQUENCE)) continue;
    const tbs = fields(fields(certificate, 'a certificate')[0], 'a certificate');
    const [candidateSerial, , candidateIssuer] = isContext(tbs[0], 0) ? tbs.slice(1) : tbs;
    if (candidateSerial && candidateIssuer && sameValue(candidateSerial, serial) && sameValue(candidateIssuer, issuer)) return berBytes(certificate);
  }
  return undefined;
}

/** Verifies the detached signature over `body` and returns its signer's certificate. Never throws. */
export function verifyMdmSignature(headerValue: string | undefined, body: Buffer): SignatureCheck {
  if (!headerValue) return fail('missing', 'no Mdm-Signature header');
  if (headerValue.length > MAX_SIGNATURE_HEADER) return fail('malformed', 'the Mdm-Signature header is too long');
  const compact = headerValue.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return fail('malformed', 'the Mdm-Signature header is not base64');
  try {
    return check(Buffer.from(compact, 'base64'), body);
  } catch (error) {
    return fail('malformed', `the Mdm-Signature header is not a CMS SignedData (${(error as Error).message})`);
  }
}

/** The signed attribute `type`: it must appear once, with one value (RFC 5652 §11). */
function attributeValue(attributes: Ber[], type: string): Ber | undefined {
  const found = attributes.filter((a) => berOid(fields(a, 'an attribute')[0]) === type);
  if (found.length !== 1) return undefined;
  const values = fields(fields(found[0], 'an attribute')[1], 'an attribute', SET);
  return values.length === 1 ? values[0] : undefined;
}

function check(der: Buffer, body: Buffer): SignatureCheck {
  const root = readBer(der);
  if (root.end !== der.length) return fail('malformed', 'the Mdm-Signature header has data after its SignedData');
  const [contentType, content] = fields(root, 'the ContentInfo');
  if (berOid(contentType) !== OID.signedData) return fail('malformed', 'the Mdm-Signature header is not a SignedData');
  // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
  const signedData = fields(fields(content, 'the ContentInfo', 0, true)[0], 'the SignedData');
  const encapsulated = fields(signedData[2], 'the encapsulated content');
  const certificates = signedData.find((f) => isContext(f, 0));
  const signerInfos = fields(signedData[signedData.length - 1], 'the signer infos', SET);
  if (signerInfos.length !== 1) return fail('malformed', 'the signature must have exactly one signer');
  const signer = fields(signerInfos[0], 'the signer info');
  // version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature, [1] unsignedAttrs
  const [, sid, digestAlgorithm, ...rest] = signer;
  const signedAttrs = isContext(rest[0], 0) ? rest.shift() : undefined;
  const [signatureAlgorithm, signature] = rest;
  if (!isUniversal(sid, SEQUENCE)) return fail('unsupported', 'the signer must be named by issuer and serial number');
  const [issuer, serial] = fields(sid, 'the signer identifier');
  if (!isUniversal(issuer, SEQUENCE) || !isUniversal(serial, INTEGER)) return fail('malformed', 'the signer identifier is not well formed');

  // The signer's certificate by issuer and serial, never simply the first one listed.
  const certificateDer = certificates && signerCertificate(berChildren(certificates), issuer, serial);
  if (!certificateDer) return fail('malformed', "the signer's certificate is not in the signature");
  const fingerprintSha256 = createHash('sha256').update(certificateDer).digest('hex');
  const { certificate, publicKey } = parsedCertificate(certificateDer, fingerprintSha256);

  const digestOid = algorithmOf(digestAlgorithm, 'the digest algorithm');
  const digestName = DIGESTS.get(digestOid);
  if (!digestName) return fail('unsupported', `unsupported digest ${digestOid}`);
  if (berOid(encapsulated[0]) !== OID.data) return fail('malformed', 'the signed content is not data');
  // Detached, as devices send it; an attached copy (some test clients) must be the body itself.
  const attached = encapsulated[1];
  if (attached && !berOctets(fields(attached, 'the encapsulated content', 0, true)[0]).equals(body)) return fail('bad_signature', 'the signed content is not the body');

  let signedBytes: Buffer;
  if (signedAttrs) {
    const attributes = berChildren(signedAttrs);
    const digest = attributeValue(attributes, OID.messageDigest);
    if (!isUniversal(digest, 0x04)) return fail('malformed', 'the signed attributes carry no message digest');
    const signedType = attributeValue(attributes, OID.contentType);
    if (!isUniversal(signedType, 0x06) || berOid(signedType) !== OID.data) return fail('malformed', 'the signed content type is not data');
    if (!berOctets(digest).equals(createHash(digestName).update(body).digest())) return fail('bad_signature', 'the body does not match the signed digest');
    // Signed as a universal SET, sent as [0] IMPLICIT: the bytes as received, retagged.
    signedBytes = Buffer.from(berBytes(signedAttrs));
    signedBytes[0] = 0x31;
  } else {
    signedBytes = body;
  }

  const algorithm = algorithmOf(signatureAlgorithm, 'the signature algorithm');
  const hash = algorithm === OID.rsaEncryption ? digestName : SIGNATURES.get(algorithm);
  if (!hash) return fail('unsupported', `unsupported signature algorithm ${algorithm}`);
  const signatureBytes = berOctets(signature);
  let valid = false;
  try {
    valid = verifySignature(hash, signedBytes, publicKey, signatureBytes);
  } catch {
    valid = false;
  }
  return valid ? { ok: true, certificate, fingerprintSha256 } : fail('bad_signature', 'the signature does not verify');
}
