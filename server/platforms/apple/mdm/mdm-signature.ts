import { createHash, verify as verifySignature, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import { ContentInfo, SignedData, IssuerAndSerialNumber, Certificate } from 'pkijs';

/**
 * The `Mdm-Signature` header (SignMessage=true): base64 of a CMS SignedData over the exact raw
 * body, content detached, signer certificate included. pkijs reads the CMS structure; the digest
 * and the signature are checked with node:crypto (OpenSSL), never with pure-JS RSA.
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
export type SignatureCheck = { ok: true; certificate: X509Certificate } | { ok: false; reason: SignatureFailure; message: string };

const fail = (reason: SignatureFailure, message: string): SignatureCheck => ({ ok: false, reason, message });

/** The header's bytes: at most this long (a certificate chain and a signature fit in a few KiB). */
export const MAX_SIGNATURE_HEADER = 32 * 1024;

function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The certificates exactly as they were sent (re-encoding a parsed certificate could change its bytes). */
function certificateBytes(signedDataSchema: asn1js.Sequence): Buffer[] {
  const field = signedDataSchema.valueBlock.value.find((v) => v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 0);
  if (!field || !(field instanceof asn1js.Constructed)) return [];
  return field.valueBlock.value.map((c) => Buffer.from(c.valueBeforeDecodeView));
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

function check(der: Buffer, body: Buffer): SignatureCheck {
  const parsed = asn1js.fromBER(arrayBufferOf(der));
  if (parsed.offset === -1) return fail('malformed', 'the Mdm-Signature header is not DER');
  const info = new ContentInfo({ schema: parsed.result });
  if (info.contentType !== OID.signedData) return fail('malformed', 'the Mdm-Signature header is not a SignedData');
  const signed = new SignedData({ schema: info.content });
  if (signed.signerInfos.length !== 1) return fail('malformed', 'the signature must have exactly one signer');
  const signer = signed.signerInfos[0]!;
  if (!(signer.sid instanceof IssuerAndSerialNumber)) return fail('unsupported', 'the signer must be named by issuer and serial number');

  // The signer's certificate by issuer and serial, never simply the first one listed.
  const raw = certificateBytes(info.content as asn1js.Sequence);
  const listed = (signed.certificates ?? []).map((c, i) => ({ c, der: raw[i] }));
  const sid = signer.sid;
  const match = listed.find(({ c }) => c instanceof Certificate && c.serialNumber.isEqual(sid.serialNumber) && c.issuer.isEqual(sid.issuer));
  if (!match?.der) return fail('malformed', "the signer's certificate is not in the signature");
  const certificate = new X509Certificate(match.der);

  const digestName = DIGESTS.get(signer.digestAlgorithm.algorithmId);
  if (!digestName) return fail('unsupported', `unsupported digest ${signer.digestAlgorithm.algorithmId}`);
  const encapsulated = signed.encapContentInfo.eContent;
  // Detached, as devices send it; an attached copy (some test clients) must be the body itself.
  if (encapsulated && !Buffer.from(encapsulated.getValue()).equals(body)) return fail('bad_signature', 'the signed content is not the body');

  let signedBytes: Buffer;
  if (signer.signedAttrs) {
    const attribute = (type: string) => signer.signedAttrs!.attributes.find((a) => a.type === type);
    const digest = attribute(OID.messageDigest)?.values[0];
    if (!(digest instanceof asn1js.OctetString)) return fail('malformed', 'the signed attributes carry no message digest');
    const contentType = attribute(OID.contentType)?.values[0];
    if (!(contentType instanceof asn1js.ObjectIdentifier) || contentType.valueBlock.toString() !== OID.data) return fail('malformed', 'the signed content type is not data');
    if (!Buffer.from(digest.valueBlock.valueHexView).equals(createHash(digestName).update(body).digest())) return fail('bad_signature', 'the body does not match the signed digest');
    // Signed as a universal SET, sent as [0] IMPLICIT: pkijs keeps the original bytes, retagged.
    signedBytes = Buffer.from(signer.signedAttrs.encodedValue);
  } else {
    signedBytes = body;
  }

  const algorithm = signer.signatureAlgorithm.algorithmId;
  const hash = algorithm === OID.rsaEncryption ? digestName : SIGNATURES.get(algorithm);
  if (!hash) return fail('unsupported', `unsupported signature algorithm ${algorithm}`);
  let valid = false;
  try {
    valid = verifySignature(hash, signedBytes, certificate.publicKey, Buffer.from(signer.signature.valueBlock.valueHexView));
  } catch {
    valid = false;
  }
  return valid ? { ok: true, certificate } : fail('bad_signature', 'the signature does not verify');
}
