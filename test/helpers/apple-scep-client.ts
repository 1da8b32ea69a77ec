import { constants, createCipheriv, createDecipheriv, createHash, generateKeyPair, privateDecrypt, publicEncrypt, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import forge from 'node-forge';
import * as pkijs from 'pkijs';
import plist from 'plist';
import { createCsr } from '../../server/infra/pki';
import { contextTagged, fromPem, implicitPrimitive, integer, nul, octets, oid, parseDer, randomSerial, seq, set, toDer, toPem, type Asn1 } from '../../server/infra/pki/der';
import { encodeName } from '../../server/infra/pki/name';
import { buildCertificate, readCertificate } from '../../server/infra/pki/x509';

/**
 * What an iPad does with an enrollment link, over real HTTP: download the signed profile, then
 * enroll over SCEP (RFC 8894) for the identity certificate the MDM payload names. Written from
 * the RFC and Apple's payload schema, not from the server's code, so it can disagree with it.
 */

export interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export interface EnrollmentProfile {
  /** The CMS SignedData as downloaded. */
  signed: Buffer;
  /** The certificate that signed it, PEM. */
  signerPem: string;
  /** The profile itself, parsed from the attached XML. */
  profile: Record<string, unknown>;
  scep: { URL: string; Challenge: string; Keysize: number; 'Key Type': string; 'Key Usage': number; Subject: string[][][]; Name?: string; PayloadUUID: string };
  mdm: Record<string, unknown> & { IdentityCertificateUUID: string; Topic: string; ServerURL: string; CheckInURL?: string };
}

export type ScepResult =
  | { status: 'success'; certPem: string; caCertPem: string; transactionId: string }
  | { status: 'failure'; failInfo: string; transactionId: string };

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256: '2.16.840.1.101.3.4.2.1',
  aes128cbc: '2.16.840.1.101.3.4.1.2',
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
} as const;

const view = (bytes: Buffer) => new Uint8Array(bytes);
const buf = (data: ArrayBuffer | ArrayBufferView) => (ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));

function signedDataOf(der: Buffer): pkijs.SignedData {
  const parsed = asn1js.fromBER(view(der));
  if (parsed.offset === -1) throw new Error('not BER');
  const info = new pkijs.ContentInfo({ schema: parsed.result });
  if (info.contentType !== OID.signedData) throw new Error(`expected SignedData, got ${info.contentType}`);
  return new pkijs.SignedData({ schema: info.content });
}

/** Downloads and checks an enrollment profile as Settings would before offering to install it. */
export async function fetchEnrollmentProfile(url: string): Promise<EnrollmentProfile> {
  const response = await fetch(url);
  if (response.status !== 200) throw Object.assign(new Error(`enrollment profile: HTTP ${response.status}: ${await response.text()}`), { status: response.status });
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-apple-aspen-config')) throw new Error(`enrollment profile: unexpected content-type ${type}`);
  const signed = Buffer.from(await response.arrayBuffer());
  const signedData = signedDataOf(signed);
  const verified = await signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
  if (!verified.signatureVerified || !verified.signerCertificate) throw new Error('enrollment profile: the signature does not verify');
  const content = signedData.encapContentInfo.eContent;
  if (!content) throw new Error('enrollment profile: no content');
  const profile = plist.parse(buf(content.getValue()).toString('utf8')) as Record<string, unknown>;
  const payloads = (profile.PayloadContent ?? []) as Array<Record<string, unknown>>;
  const scepPayload = payloads.find((p) => p.PayloadType === 'com.apple.security.scep');
  const mdm = payloads.find((p) => p.PayloadType === 'com.apple.mdm');
  if (!scepPayload || !mdm) throw new Error('enrollment profile: SCEP or MDM payload missing');
  return {
    signed,
    signerPem: toPem('CERTIFICATE', buf(verified.signerCertificate.toSchema().toBER(false))),
    profile,
    scep: { ...(scepPayload.PayloadContent as EnrollmentProfile['scep']), PayloadUUID: scepPayload.PayloadUUID as string },
    mdm: mdm as EnrollmentProfile['mdm'],
  };
}

const printable = (value: string) => forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.PRINTABLESTRING, false, value);
const attribute = (type: string, value: Asn1) => seq([oid(type), set([value])]);

/** RFC 8894 §2.3: the requester signs with a throw-away self-signed certificate of its CSR key. */
export function selfSignedCertificate(keyPair: KeyPair, commonName: string): Buffer {
  const name = encodeName([['CN', commonName]]);
  const now = Date.now();
  return buildCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3600_000),
    spkiDer: keyPair.publicKey.export({ type: 'spki', format: 'der' }),
    extensions: [],
    signingKey: keyPair.privateKey,
  });
}

function envelopeTo(content: Buffer, recipientDer: Buffer): Buffer {
  const recipient = readCertificate(recipientDer);
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
  const encryptedKey = publicEncrypt({ key: new X509Certificate(recipientDer).publicKey, padding: constants.RSA_PKCS1_PADDING }, key);
  const recipientInfo = seq([integer(Buffer.from([0])), seq([recipient.issuer, recipient.serial]), seq([oid(OID.rsaEncryption), nul()]), octets(encryptedKey)]);
  const enveloped = seq([integer(Buffer.from([0])), set([recipientInfo]), seq([oid(OID.data), seq([oid(OID.aes128cbc), octets(iv)]), implicitPrimitive(0, encrypted)])]);
  return toDer(seq([oid(OID.envelopedData), contextTagged(0, [enveloped])]));
}

export interface PkcsReqInput {
  keyPair: KeyPair;
  caCertDer: Buffer;
  challenge: string;
  commonName?: string;
  transactionId?: string;
  /** Tests of the server's refusals: another message type, a broken signature. */
  messageType?: string;
  corruptSignature?: boolean;
}

/** A PKCSReq PKIMessage (RFC 8894 §3.3.1), DER. */
export function buildPkcsReq(input: PkcsReqInput): { der: Buffer; transactionId: string; senderNonce: Buffer; signerCertDer: Buffer } {
  const commonName = input.commonName ?? `ipad-${randomBytes(4).toString('hex')}`;
  const csrDer = fromPem('CERTIFICATE REQUEST', createCsr({ keyPair: input.keyPair, commonName, challengePassword: input.challenge }));
  const envelope = envelopeTo(csrDer, input.caCertDer);
  const signerCertDer = selfSignedCertificate(input.keyPair, commonName);
  const signer = readCertificate(signerCertDer);
  const transactionId = input.transactionId ?? createHash('sha256').update(input.keyPair.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  const senderNonce = randomBytes(16);
  const attributes = set(
    [
      attribute(OID.contentType, oid(OID.data)),
      attribute(OID.messageDigest, octets(createHash('sha256').update(envelope).digest())),
      attribute(OID.messageType, printable(input.messageType ?? '19')),
      attribute(OID.transactionID, printable(transactionId)),
      attribute(OID.senderNonce, octets(senderNonce)),
    ]
      .map(toDer)
      .sort(Buffer.compare)
      .map((der) => parseDer(der)),
  );
  const signature = sign('sha256', toDer(attributes), input.keyPair.privateKey);
  if (input.corruptSignature) signature[10] = signature[10]! ^ 0xff;
  const sha256 = seq([oid(OID.sha256), nul()]);
  const signerInfo = seq([integer(Buffer.from([1])), seq([signer.issuer, signer.serial]), sha256, contextTagged(0, attributes.value as Asn1[]), seq([oid(OID.rsaEncryption), nul()]), octets(signature)]);
  const signedData = seq([integer(Buffer.from([1])), set([sha256]), seq([oid(OID.data), contextTagged(0, [octets(envelope)])]), contextTagged(0, [parseDer(signerCertDer)]), set([signerInfo])]);
  return { der: toDer(seq([oid(OID.signedData), contextTagged(0, [signedData])])), transactionId, senderNonce, signerCertDer };
}

function attributeOf(signerInfo: pkijs.SignerInfo, type: string): asn1js.AsnType | undefined {
  return signerInfo.signedAttrs?.attributes.find((a) => a.type === type)?.values[0] as asn1js.AsnType | undefined;
}

const stringOf = (node: asn1js.AsnType | undefined) => (node as asn1js.PrintableString | undefined)?.valueBlock.value;

/** Reads a CertRep: its signature by the CA, its status, and on success the certificate inside. */
export async function readCertRep(der: Buffer, request: { senderNonce: Buffer; transactionId: string }, caCertDer: Buffer, privateKey: KeyObject): Promise<ScepResult> {
  const signedData = signedDataOf(der);
  const verified = await signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
  if (!verified.signatureVerified || !verified.signerCertificate) throw new Error('CertRep: the signature does not verify');
  if (!buf(verified.signerCertificate.toSchema().toBER(false)).equals(caCertDer)) throw new Error('CertRep: not signed by the CA');
  const signerInfo = signedData.signerInfos[0]!;
  if (stringOf(attributeOf(signerInfo, OID.messageType)) !== '3') throw new Error('CertRep: messageType is not 3');
  const transactionId = stringOf(attributeOf(signerInfo, OID.transactionID));
  if (transactionId !== request.transactionId) throw new Error('CertRep: transactionID not echoed');
  const recipientNonce = buf((attributeOf(signerInfo, OID.recipientNonce) as asn1js.OctetString).getValue());
  if (!recipientNonce.equals(request.senderNonce)) throw new Error('CertRep: recipientNonce is not our senderNonce');
  const status = stringOf(attributeOf(signerInfo, OID.pkiStatus));
  if (status === '2') return { status: 'failure', failInfo: stringOf(attributeOf(signerInfo, OID.failInfo)) ?? '?', transactionId };
  if (status !== '0') throw new Error(`CertRep: pkiStatus ${status}`);

  const eContent = signedData.encapContentInfo.eContent;
  if (!eContent) throw new Error('CertRep: success without content');
  const envelopeInfo = new pkijs.ContentInfo({ schema: asn1js.fromBER(view(buf(eContent.getValue()))).result });
  const enveloped = new pkijs.EnvelopedData({ schema: envelopeInfo.content });
  const recipient = enveloped.recipientInfos[0]!.value as pkijs.KeyTransRecipientInfo;
  const key = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, buf(recipient.encryptedKey.valueBlock.valueHexView));
  const { contentEncryptionAlgorithm, encryptedContent } = enveloped.encryptedContentInfo;
  const cipherName = { '2.16.840.1.101.3.4.1.2': 'aes-128-cbc', '2.16.840.1.101.3.4.1.42': 'aes-256-cbc', '1.2.840.113549.3.7': 'des-ede3-cbc' }[contentEncryptionAlgorithm.algorithmId];
  if (!cipherName) throw new Error(`CertRep: unexpected cipher ${contentEncryptionAlgorithm.algorithmId}`);
  const iv = buf((contentEncryptionAlgorithm.algorithmParams as asn1js.OctetString).getValue());
  const decipher = createDecipheriv(cipherName, key, iv);
  const encrypted = encryptedContent as unknown as asn1js.Primitive;
  const degenerate = Buffer.concat([decipher.update(buf(encrypted.valueBlock.valueHexView)), decipher.final()]);
  const certs = signedDataOf(degenerate).certificates ?? [];
  const cert = certs[0] as pkijs.Certificate | undefined;
  if (!cert) throw new Error('CertRep: no certificate in the degenerate PKCS#7');
  return { status: 'success', certPem: toPem('CERTIFICATE', buf(cert.toSchema().toBER(false))), caCertPem: toPem('CERTIFICATE', caCertDer), transactionId };
}

/** SCEP's GetCACaps, as a list. */
export async function getCaCaps(serverUrl: string): Promise<string[]> {
  const response = await fetch(`${serverUrl}?operation=GetCACaps`);
  if (response.status !== 200) throw new Error(`GetCACaps: HTTP ${response.status}`);
  return (await response.text()).split(/\r?\n/).filter(Boolean);
}

export async function getCaCert(serverUrl: string): Promise<Buffer> {
  const response = await fetch(`${serverUrl}?operation=GetCACert&message=cartable`);
  if (response.status !== 200) throw new Error(`GetCACert: HTTP ${response.status}`);
  if (response.headers.get('content-type') !== 'application/x-x509-ca-cert') throw new Error(`GetCACert: content-type ${response.headers.get('content-type')}`);
  return Buffer.from(await response.arrayBuffer());
}

/**
 * The whole SCEP enrollment of one device: capabilities, CA certificate, PKCSReq (POST when
 * the server says POSTPKIOperation), CertRep. `serverUrl` is the payload's URL, no query.
 */
export async function scepEnroll(serverUrl: string, challenge: string, keyPair: KeyPair, options: { commonName?: string; useGet?: boolean } = {}): Promise<ScepResult> {
  const caps = await getCaCaps(serverUrl);
  const caCertDer = await getCaCert(serverUrl);
  const request = buildPkcsReq({ keyPair, caCertDer, challenge, commonName: options.commonName });
  const post = caps.includes('POSTPKIOperation') && !options.useGet;
  const response = post
    ? await fetch(`${serverUrl}?operation=PKIOperation`, { method: 'POST', headers: { 'content-type': 'application/x-pki-message' }, body: view(request.der) })
    : await fetch(`${serverUrl}?operation=PKIOperation&message=${encodeURIComponent(request.der.toString('base64'))}`);
  if (response.status !== 200) throw Object.assign(new Error(`PKIOperation: HTTP ${response.status}: ${await response.text()}`), { status: response.status });
  if (response.headers.get('content-type') !== 'application/x-pki-message') throw new Error(`PKIOperation: content-type ${response.headers.get('content-type')}`);
  return readCertRep(Buffer.from(await response.arrayBuffer()), request, caCertDer, keyPair.privateKey);
}

/** An RSA-2048 key pair as the SCEP payload asks (`Keysize` 2048, `Key Type` RSA). */
export function rsaKeyPair(): Promise<KeyPair> {
  return promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
}
