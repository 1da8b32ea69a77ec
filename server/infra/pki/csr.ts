import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  bitStringBytes,
  bits,
  bytesOf,
  children,
  contextTagged,
  fromPem,
  integer,
  isContext,
  oidOf,
  parseDer,
  seq,
  toDer,
  toPem,
  oid,
  set,
  utf8,
  type Asn1,
} from './der';
import { decodeName, encodeName } from './name';
import {
  SIGNATURE_ALGORITHMS,
  signatureAlgorithm,
  signDer,
  supportedKeyType,
  verifyDer,
  type KeyType,
} from './signature';

/**
 * PKCS#10 (RFC 2986) walked by hand: forge's CSR API only knows RSA, and Android agents
 * generate EC P-256 keys in their keystore.
 */

/** 'unsupported_key' also covers a signature algorithm we do not accept. */
export type CsrFailure = 'malformed' | 'bad_signature' | 'unsupported_key';

export class CsrError extends Error {
  override readonly name = 'CsrError';

  constructor(
    readonly reason: CsrFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedCsr {
  /** SubjectPublicKeyInfo DER, exactly as the device sent it. */
  publicKeyDer: Buffer;
  keyType: KeyType;
  subject: Record<string, string>;
  /** PKCS#9 challengePassword, as SCEP requests carry their enrollment secret. */
  challengePassword?: string;
}

interface RawCsr {
  infoDer: Buffer;
  publicKeyDer: Buffer;
  subject: Record<string, string>;
  algorithmOid: string;
  signature: Buffer;
  challengePassword?: string;
}

const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
/**
 * SHA-1 with RSA, under its PKCS#1 and its older OIW identifiers, accepted only when asked for:
 * SCEP clients of some vintages and Windows' enrollment client (unless its policy says
 * otherwise) sign their request with it. Never accepted for a certificate.
 */
const SHA1_WITH_RSA = new Set(['1.2.840.113549.1.1.5', '1.3.14.3.2.29']);

function challengeOf(attributes: Asn1 | undefined): string | undefined {
  for (const attribute of children(attributes)) {
    const [type, values] = children(attribute, 2);
    if (oidOf(type) !== CHALLENGE_PASSWORD) continue;
    const [value] = children(values, 1);
    const raw = bytesOf(value);
    // DirectoryString: PrintableString and UTF8String are what clients send; both read as UTF-8.
    return raw.toString('utf8');
  }
  return undefined;
}

function decode(pem: string): RawCsr {
  const [info, algorithm, signature] = children(parseDer(fromPem('CERTIFICATE REQUEST', pem)), 3);
  const [version, subject, spki, attributes] = children(info, 4);
  if (!bytesOf(version).equals(Buffer.from([0]))) throw new Error('unsupported CSR version');
  if (!isContext(attributes, 0)) throw new Error('missing CSR attributes');
  return {
    infoDer: toDer(info!),
    publicKeyDer: toDer(spki!),
    subject: decodeName(subject),
    algorithmOid: oidOf(children(algorithm, 1)[0]),
    signature: bitStringBytes(signature),
    challengePassword: challengeOf(attributes),
  };
}

/** Decodes a CSR and proves the sender holds the private key. Throws CsrError. */
export function parseCsr(pem: string, options: { allowSha1?: boolean } = {}): ParsedCsr {
  let csr: RawCsr;
  let publicKey: KeyObject;
  try {
    csr = decode(pem);
    publicKey = createPublicKey({ key: csr.publicKeyDer, format: 'der', type: 'spki' });
  } catch (error) {
    throw new CsrError('malformed', `malformed CSR: ${(error as Error).message}`);
  }
  const keyType = supportedKeyType(publicKey);
  if (!keyType) throw new CsrError('unsupported_key', 'CSR key must be RSA >= 2048 bits or EC P-256/P-384');
  const sha1 = options.allowSha1 === true && SHA1_WITH_RSA.has(csr.algorithmOid) && keyType === 'rsa';
  if (!sha1 && !SIGNATURE_ALGORITHMS.has(csr.algorithmOid)) {
    throw new CsrError('unsupported_key', `unsupported CSR signature algorithm ${csr.algorithmOid}`);
  }
  if (!(sha1 ? verifySha1Rsa(csr.infoDer, csr.signature, publicKey) : verifyDer(csr.infoDer, csr.algorithmOid, csr.signature, publicKey))) {
    throw new CsrError('bad_signature', 'CSR signature does not verify with its own public key');
  }
  return { publicKeyDer: csr.publicKeyDer, keyType, subject: csr.subject, ...(csr.challengePassword === undefined ? {} : { challengePassword: csr.challengePassword }) };
}

function verifySha1Rsa(tbs: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  try {
    return verify('sha1', tbs, publicKey, signature);
  } catch {
    return false;
  }
}

/** What the Android agent sends at enrollment: subject CN only, no attributes. */
export function createCsr(input: { keyPair: { publicKey: KeyObject; privateKey: KeyObject }; commonName: string; challengePassword?: string }): string {
  const { publicKey, privateKey } = input.keyPair;
  const challenge = input.challengePassword === undefined ? [] : [seq([oid(CHALLENGE_PASSWORD), set([utf8(input.challengePassword)])])];
  const info = seq([
    integer(Buffer.from([0])),
    encodeName([['CN', input.commonName]]),
    parseDer(publicKey.export({ type: 'spki', format: 'der' })),
    contextTagged(0, challenge),
  ]);
  const infoDer = toDer(info);
  const der = toDer(seq([info, signatureAlgorithm(privateKey), bits(signDer(infoDer, privateKey))]));
  return toPem('CERTIFICATE REQUEST', der);
}
