import { createPublicKey, type KeyObject } from 'node:crypto';
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
}

interface RawCsr {
  infoDer: Buffer;
  publicKeyDer: Buffer;
  subject: Record<string, string>;
  algorithmOid: string;
  signature: Buffer;
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
  };
}

/** Decodes a CSR and proves the sender holds the private key. Throws CsrError. */
export function parseCsr(pem: string): ParsedCsr {
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
  if (!SIGNATURE_ALGORITHMS.has(csr.algorithmOid)) {
    throw new CsrError('unsupported_key', `unsupported CSR signature algorithm ${csr.algorithmOid}`);
  }
  if (!verifyDer(csr.infoDer, csr.algorithmOid, csr.signature, publicKey)) {
    throw new CsrError('bad_signature', 'CSR signature does not verify with its own public key');
  }
  return { publicKeyDer: csr.publicKeyDer, keyType, subject: csr.subject };
}

/** What the Android agent sends at enrollment: subject CN only, no attributes. */
export function createCsr(input: { keyPair: { publicKey: KeyObject; privateKey: KeyObject }; commonName: string }): string {
  const { publicKey, privateKey } = input.keyPair;
  const info = seq([
    integer(Buffer.from([0])),
    encodeName([['CN', input.commonName]]),
    parseDer(publicKey.export({ type: 'spki', format: 'der' })),
    contextTagged(0, []),
  ]);
  const infoDer = toDer(info);
  const der = toDer(seq([info, signatureAlgorithm(privateKey), bits(signDer(infoDer, privateKey))]));
  return toPem('CERTIFICATE REQUEST', der);
}
