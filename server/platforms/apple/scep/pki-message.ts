import { createDecipheriv } from 'node:crypto';
import * as asn1js from 'asn1js';
import forge from 'node-forge';
import * as pkijs from 'pkijs';
import { CMS_OID, MESSAGE_TYPE, SCEP_ATTRIBUTE } from './scep-oids';

/**
 * Reading a SCEP PKIMessage (RFC 8894 §3): a CMS SignedData, signed by the requester's
 * self-signed certificate, around an EnvelopedData encrypted to our CA, around a PKCS#10
 * request. pkijs parses the CMS (it tolerates BER and keeps the bytes a signature covers) and
 * checks the signature through WebCrypto; the envelope is opened with node:crypto, since
 * WebCrypto knows neither RSA PKCS#1 v1.5 encryption nor DES.
 */

/** Anything wrong with the message itself; the edge answers 400, as SCEP clients expect. */
export class ScepMessageError extends Error {
  override readonly name = 'ScepMessageError';
}

export interface PkiRequest {
  /** The decimal string of RFC 8894 §3.2.1.2: "19" for PKCSReq. */
  messageType: string;
  transactionId: string;
  senderNonce: Buffer;
  /** The certificate that signed the request (self-signed with the CSR's key for a PKCSReq). */
  signerCertDer: Buffer;
  /** The content encryption algorithm the requester chose, mirrored in the answer when we can. */
  envelope: Buffer;
}

export interface OpenedEnvelope {
  content: Buffer;
  contentEncryptionOid: string;
}

const bytes = (view: ArrayBuffer | ArrayBufferView): Buffer =>
  ArrayBuffer.isView(view) ? Buffer.from(view.buffer, view.byteOffset, view.byteLength) : Buffer.from(view);

function contentInfoOf(der: Buffer, expected: string, what: string): pkijs.ContentInfo {
  const parsed = asn1js.fromBER(new Uint8Array(der));
  if (parsed.offset === -1 || parsed.offset !== der.length) throw new ScepMessageError(`${what} is not a BER/DER structure`);
  let info: pkijs.ContentInfo;
  try {
    info = new pkijs.ContentInfo({ schema: parsed.result });
  } catch {
    throw new ScepMessageError(`${what} is not a CMS ContentInfo`);
  }
  if (info.contentType !== expected) throw new ScepMessageError(`${what} has content type ${info.contentType}, expected ${expected}`);
  return info;
}

/** The value of an OCTET STRING, primitive or constructed (BER allows both). */
function octetsOf(node: unknown): Buffer {
  if (!(node instanceof asn1js.OctetString)) throw new ScepMessageError('expected an OCTET STRING');
  return bytes(node.getValue());
}

/**
 * The encrypted content of an EnvelopedData: pkijs hands the [0] IMPLICIT OCTET STRING back
 * re-tagged but as a bare primitive, or as a constructed block of segments under BER.
 */
function encryptedBytesOf(node: unknown): Buffer {
  if (node instanceof asn1js.OctetString) return bytes(node.getValue());
  if (node instanceof asn1js.Constructed) return Buffer.concat(node.valueBlock.value.map((part) => encryptedBytesOf(part)));
  if (node instanceof asn1js.Primitive) return bytes(node.valueBlock.valueHexView);
  throw new ScepMessageError('the encrypted content is not an OCTET STRING');
}

function attributeValue(signerInfo: pkijs.SignerInfo, type: string): unknown {
  const found = signerInfo.signedAttrs?.attributes.filter((attribute) => attribute.type === type) ?? [];
  if (found.length !== 1 || found[0]!.values.length !== 1) throw new ScepMessageError(`signed attribute ${type} missing or repeated`);
  return found[0]!.values[0];
}

function printable(node: unknown, name: string): string {
  // RFC 8894 says PrintableString; some clients send other string types, which read the same.
  if (node instanceof asn1js.PrintableString || node instanceof asn1js.Utf8String || node instanceof asn1js.IA5String) return node.valueBlock.value;
  throw new ScepMessageError(`${name} is not a string`);
}

/** Parses and verifies the outer SignedData; the envelope inside is left closed. */
export async function readPkiMessage(der: Buffer): Promise<PkiRequest> {
  const info = contentInfoOf(der, CMS_OID.signedData, 'the PKIMessage');
  let signedData: pkijs.SignedData;
  try {
    signedData = new pkijs.SignedData({ schema: info.content });
  } catch {
    throw new ScepMessageError('the PKIMessage is not a SignedData');
  }
  if (signedData.signerInfos.length !== 1) throw new ScepMessageError(`a PKIMessage has one signer, this one has ${signedData.signerInfos.length}`);
  const { encapContentInfo } = signedData;
  if (encapContentInfo.eContentType !== CMS_OID.data || !encapContentInfo.eContent) throw new ScepMessageError('the PKIMessage carries no data');
  const signerInfo = signedData.signerInfos[0]!;

  let verified: pkijs.SignedDataVerifyResult;
  try {
    // checkChain off: a PKCSReq is signed by a self-signed certificate; the CSR inside is what we certify.
    verified = await signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
  } catch (error) {
    const message = error instanceof pkijs.SignedDataVerifyError ? error.message : (error as Error).message;
    throw new ScepMessageError(`the PKIMessage signature cannot be checked: ${message}`);
  }
  if (!verified.signatureVerified || !verified.signerCertificate) throw new ScepMessageError('the PKIMessage signature does not verify');

  const messageType = printable(attributeValue(signerInfo, SCEP_ATTRIBUTE.messageType), 'messageType');
  const transactionId = printable(attributeValue(signerInfo, SCEP_ATTRIBUTE.transactionID), 'transactionID');
  const senderNonce = octetsOf(attributeValue(signerInfo, SCEP_ATTRIBUTE.senderNonce));
  if (!/^[\x20-\x7e]{1,128}$/.test(transactionId)) throw new ScepMessageError('transactionID must be 1 to 128 printable characters');
  if (senderNonce.length < 8 || senderNonce.length > 64) throw new ScepMessageError('senderNonce must be 8 to 64 bytes');

  return {
    messageType,
    transactionId,
    senderNonce,
    signerCertDer: bytes(verified.signerCertificate.toSchema().toBER(false)),
    envelope: octetsOf(encapContentInfo.eContent),
  };
}

/** Content ciphers a requester may pick, and the key and IV sizes node:crypto wants. */
const CIPHERS: ReadonlyMap<string, { name: string; keyBytes: number }> = new Map([
  ['2.16.840.1.101.3.4.1.2', { name: 'aes-128-cbc', keyBytes: 16 }],
  ['2.16.840.1.101.3.4.1.22', { name: 'aes-192-cbc', keyBytes: 24 }],
  ['2.16.840.1.101.3.4.1.42', { name: 'aes-256-cbc', keyBytes: 32 }],
  ['1.2.840.113549.3.7', { name: 'des-ede3-cbc', keyBytes: 24 }],
  ['1.3.14.3.2.7', { name: 'des-cbc', keyBytes: 8 }],
]);

/**
 * Opens the EnvelopedData with the CA key. `decryptKey` unwraps the content key (RSA PKCS#1
 * v1.5, the key transport every SCEP client uses).
 */
export function openEnvelope(der: Buffer, decryptKey: (encryptedKey: Buffer) => Buffer): OpenedEnvelope {
  const info = contentInfoOf(der, CMS_OID.envelopedData, 'the pkcsPKIEnvelope');
  let enveloped: pkijs.EnvelopedData;
  try {
    enveloped = new pkijs.EnvelopedData({ schema: info.content });
  } catch {
    throw new ScepMessageError('the pkcsPKIEnvelope is not an EnvelopedData');
  }
  const transports = enveloped.recipientInfos.filter((recipient) => recipient.variant === 1).map((recipient) => recipient.value as pkijs.KeyTransRecipientInfo);
  const forUs = transports.filter((recipient) => recipient.keyEncryptionAlgorithm.algorithmId === CMS_OID.rsaEncryption);
  if (forUs.length === 0) throw new ScepMessageError('the pkcsPKIEnvelope has no RSA key-transport recipient');

  const { contentEncryptionAlgorithm, encryptedContent } = enveloped.encryptedContentInfo;
  const cipher = CIPHERS.get(contentEncryptionAlgorithm.algorithmId);
  if (!cipher) throw new ScepMessageError(`unsupported content encryption ${contentEncryptionAlgorithm.algorithmId}`);
  const iv = octetsOf(contentEncryptionAlgorithm.algorithmParams);
  if (!encryptedContent) throw new ScepMessageError('the pkcsPKIEnvelope has no encrypted content');
  const ciphertext = encryptedBytesOf(encryptedContent);

  for (const recipient of forUs) {
    let key: Buffer;
    try {
      key = decryptKey(bytes(recipient.encryptedKey.valueBlock.valueHexView));
    } catch {
      continue;
    }
    if (key.length !== cipher.keyBytes) continue;
    try {
      return { content: decryptContent(cipher.name, key, iv, ciphertext), contentEncryptionOid: contentEncryptionAlgorithm.algorithmId };
    } catch {
      continue;
    }
  }
  throw new ScepMessageError('the pkcsPKIEnvelope cannot be opened with the CA key');
}

function decryptContent(name: string, key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  if (name !== 'des-cbc') {
    const decipher = createDecipheriv(name, key, iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  }
  // Single DES lives in OpenSSL 3's legacy provider, off in Node; Go SCEP clients still send it.
  const decipher = forge.cipher.createDecipher('DES-CBC', key.toString('binary'));
  decipher.start({ iv: iv.toString('binary') });
  decipher.update(forge.util.createBuffer(ciphertext.toString('binary')));
  if (!decipher.finish()) throw new Error('bad DES padding');
  return Buffer.from(decipher.output.getBytes(), 'binary');
}

export const isPkcsReq = (request: PkiRequest) => request.messageType === MESSAGE_TYPE.PKCSReq;
