import { createCipheriv, createHash, createPublicKey, constants, publicEncrypt, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { contextTagged, implicitPrimitive, integer, nul, octets, oid, parseDer, seq, set, toDer, type Asn1 } from '../../../infra/pki/der';
import { readCertificate } from '../../../infra/pki/x509';
import { CMS_OID, FAIL_INFO, MESSAGE_TYPE, PKI_STATUS, SCEP_ATTRIBUTE, type FailInfo } from './scep-oids';

/**
 * The CertRep (RFC 8894 §3.3.2): a SignedData signed by the CA whose signed attributes answer
 * the request, and which, on success, carries the issued certificate in a degenerate PKCS#7
 * encrypted to the requester's certificate. Laid out with the project's DER helpers and signed
 * with node:crypto, as the profile signer does.
 */

export interface CertRepSigner {
  caCertDer: Buffer;
  /** SHA-256 with RSA PKCS#1 v1.5 by the CA key. */
  sign(data: Buffer): Buffer;
}

export interface CertRepRequest {
  transactionId: string;
  senderNonce: Buffer;
  signerCertDer: Buffer;
}

export type CertRepOutcome = { status: 'success'; certDer: Buffer; contentEncryptionOid?: string } | { status: 'failure'; failInfo: FailInfo };

const AES_128_CBC = '2.16.840.1.101.3.4.1.2';
/** Ciphers we encrypt the answer with: the requester's own choice when it is one of these. */
const ANSWER_CIPHERS: ReadonlyMap<string, { name: string; keyBytes: number; ivBytes: number }> = new Map([
  [AES_128_CBC, { name: 'aes-128-cbc', keyBytes: 16, ivBytes: 16 }],
  ['2.16.840.1.101.3.4.1.22', { name: 'aes-192-cbc', keyBytes: 24, ivBytes: 16 }],
  ['2.16.840.1.101.3.4.1.42', { name: 'aes-256-cbc', keyBytes: 32, ivBytes: 16 }],
  ['1.2.840.113549.3.7', { name: 'des-ede3-cbc', keyBytes: 24, ivBytes: 8 }],
]);

const printable = (value: string) => forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.PRINTABLESTRING, false, value);
const attribute = (type: string, value: Asn1) => seq([oid(type), set([value])]);

/** DER wants a SET OF sorted by encoding; Go's verifiers re-encode the attributes and reject anything else. */
function derSet(elements: Asn1[]): Asn1 {
  return set(elements.map(toDer).sort(Buffer.compare).map((der) => parseDer(der)));
}

/** A certs-only SignedData (RFC 8894 §3.4): no signer, no content. */
function degenerate(certDer: Buffer): Buffer {
  const signedData = seq([integer(Buffer.from([1])), set([]), seq([oid(CMS_OID.data)]), contextTagged(0, [parseDer(certDer)]), set([])]);
  return toDer(seq([oid(CMS_OID.signedData), contextTagged(0, [signedData])]));
}

/** EnvelopedData for the requester: RSA key transport to its certificate, AES (or 3DES) content. */
function envelope(content: Buffer, recipientCertDer: Buffer, contentEncryptionOid: string | undefined): Buffer {
  const cipherOid = contentEncryptionOid && ANSWER_CIPHERS.has(contentEncryptionOid) ? contentEncryptionOid : AES_128_CBC;
  const cipher = ANSWER_CIPHERS.get(cipherOid)!;
  const recipient = readCertificate(recipientCertDer);
  const key = randomBytes(cipher.keyBytes);
  const iv = randomBytes(cipher.ivBytes);
  const encipher = createCipheriv(cipher.name, key, iv);
  const encrypted = Buffer.concat([encipher.update(content), encipher.final()]);
  const encryptedKey = publicEncrypt({ key: createPublicKey({ key: recipient.spkiDer, format: 'der', type: 'spki' }), padding: constants.RSA_PKCS1_PADDING }, key);

  const keyTransport = seq([integer(Buffer.from([0])), seq([recipient.issuer, recipient.serial]), seq([oid(CMS_OID.rsaEncryption), nul()]), octets(encryptedKey)]);
  const enveloped = seq([
    integer(Buffer.from([0])),
    set([keyTransport]),
    seq([oid(CMS_OID.data), seq([oid(cipherOid), octets(iv)]), implicitPrimitive(0, encrypted)]),
  ]);
  return toDer(seq([oid(CMS_OID.envelopedData), contextTagged(0, [enveloped])]));
}

/** The DER CertRep answering `request`. */
export function buildCertRep(request: CertRepRequest, outcome: CertRepOutcome, signer: CertRepSigner): Buffer {
  const content = outcome.status === 'success' ? envelope(degenerate(outcome.certDer), request.signerCertDer, outcome.contentEncryptionOid) : undefined;
  const ca = readCertificate(signer.caCertDer);
  const sha256 = seq([oid(CMS_OID.sha256), nul()]);

  const attributes = [
    attribute(CMS_OID.contentType, oid(CMS_OID.data)),
    attribute(CMS_OID.messageDigest, octets(createHash('sha256').update(content ?? Buffer.alloc(0)).digest())),
    attribute(SCEP_ATTRIBUTE.messageType, printable(MESSAGE_TYPE.CertRep)),
    attribute(SCEP_ATTRIBUTE.pkiStatus, printable(outcome.status === 'success' ? PKI_STATUS.SUCCESS : PKI_STATUS.FAILURE)),
    attribute(SCEP_ATTRIBUTE.transactionID, printable(request.transactionId)),
    attribute(SCEP_ATTRIBUTE.recipientNonce, octets(request.senderNonce)),
    attribute(SCEP_ATTRIBUTE.senderNonce, octets(randomBytes(16))),
    ...(outcome.status === 'failure' ? [attribute(SCEP_ATTRIBUTE.failInfo, printable(FAIL_INFO[outcome.failInfo]))] : []),
  ];
  const signedAttributes = derSet(attributes);
  // The signature covers the attributes as a universal SET; they travel as [0] IMPLICIT.
  const signature = signer.sign(toDer(signedAttributes));
  const signerInfo = seq([
    integer(Buffer.from([1])),
    seq([ca.issuer, ca.serial]),
    sha256,
    contextTagged(0, signedAttributes.value as Asn1[]),
    seq([oid(CMS_OID.rsaEncryption), nul()]),
    octets(signature),
  ]);
  // A failure carries no envelope: an empty OCTET STRING, as micromdm/scep's responder sends,
  // which verifiers that insist on attached content accept too.
  const encapsulated = seq([oid(CMS_OID.data), contextTagged(0, [octets(content ?? Buffer.alloc(0))])]);
  const signedData = seq([integer(Buffer.from([1])), set([sha256]), encapsulated, contextTagged(0, [parseDer(signer.caCertDer)]), set([signerInfo])]);
  return toDer(seq([oid(CMS_OID.signedData), contextTagged(0, [signedData])]));
}
