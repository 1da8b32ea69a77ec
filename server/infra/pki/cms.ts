import { createHash, type KeyObject } from 'node:crypto';
import { contextTagged, fromPem, integer, nul, octets, oid, parseDer, seq, set, time, toDer, type Asn1 } from './der';
import { signDer, supportedKeyType } from './signature';
import { readCertificate } from './x509';

/**
 * CMS SignedData (RFC 5652) with the content attached, as Apple wants signed configuration
 * profiles. forge lays out the ASN.1 (its own pkcs7 signer would sign with its slow pure-JS
 * RSA); node:crypto signs.
 */

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

export interface CmsSigner {
  /** The signer's certificate, PEM. */
  certPem: string;
  key: KeyObject;
  /** Certificates to include after the signer's, e.g. the issuing CA, PEM. */
  chainPem?: string[];
}

const attribute = (type: string, value: Asn1) => seq([oid(type), set([value])]);

/** DER wants a SET OF in the order of its encoded elements; Go and Apple verifiers re-encode to check. */
function derSet(elements: Asn1[]): Asn1 {
  const sorted = elements.map(toDer).sort(Buffer.compare);
  return set(sorted.map((der) => parseDer(der)));
}

export function signCms(content: Buffer, signer: CmsSigner, signingTime = new Date()): Buffer {
  const keyType = supportedKeyType(signer.key);
  if (!keyType) throw new Error('the signing key must be RSA >= 2048 bits or EC P-256/P-384');
  const signerDer = fromPem('CERTIFICATE', signer.certPem);
  const certificates = [signerDer, ...(signer.chainPem ?? []).map((pem) => fromPem('CERTIFICATE', pem))];
  const { issuer, serial } = readCertificate(signerDer);
  const sha256 = seq([oid(OID.sha256), nul()]);

  const signedAttributes = derSet([
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octets(createHash('sha256').update(content).digest())),
  ]);
  // The signature covers the attributes as a universal SET; they travel as [0] IMPLICIT.
  const signature = signDer(toDer(signedAttributes), signer.key);
  const signerInfo = seq([
    integer(Buffer.from([1])),
    seq([issuer, serial]),
    sha256,
    contextTagged(0, signedAttributes.value as Asn1[]),
    keyType === 'rsa' ? seq([oid(OID.rsaEncryption), nul()]) : seq([oid(OID.ecdsaWithSha256)]),
    octets(signature),
  ]);

  const signedData = seq([
    integer(Buffer.from([1])),
    set([sha256]),
    seq([oid(OID.data), contextTagged(0, [octets(content)])]),
    contextTagged(0, certificates.map((der) => parseDer(der))),
    set([signerInfo]),
  ]);
  return toDer(seq([oid(OID.signedData), contextTagged(0, [signedData])]));
}
