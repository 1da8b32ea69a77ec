import { sign, verify, type KeyObject } from 'node:crypto';
import { nul, oid, seq, type Asn1 } from './der';

export type KeyType = 'rsa' | 'ec';

/** Signature algorithms accepted on incoming structures; we always sign with SHA-256 ourselves. */
export const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { hash: string; keyType: KeyType }> = new Map([
  ['1.2.840.113549.1.1.11', { hash: 'sha256', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.12', { hash: 'sha384', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.13', { hash: 'sha512', keyType: 'rsa' }],
  ['1.2.840.10045.4.3.2', { hash: 'sha256', keyType: 'ec' }],
  ['1.2.840.10045.4.3.3', { hash: 'sha384', keyType: 'ec' }],
  ['1.2.840.10045.4.3.4', { hash: 'sha512', keyType: 'ec' }],
] as const);

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const EC_CURVES = new Set(['prime256v1', 'secp384r1']);

/** RSA of at least 2048 bits or EC P-256/P-384; anything else (rsa-pss, ed25519, small RSA…) is null. */
export function supportedKeyType(key: KeyObject): KeyType | null {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') return (details?.modulusLength ?? 0) >= 2048 ? 'rsa' : null;
  if (key.asymmetricKeyType === 'ec') return EC_CURVES.has(details?.namedCurve ?? '') ? 'ec' : null;
  return null;
}

/** The AlgorithmIdentifier `signDer` will use with this key. */
export function signatureAlgorithm(privateKey: KeyObject): Asn1 {
  const keyType = supportedKeyType(privateKey);
  if (!keyType) throw new Error(`cannot sign with a ${privateKey.asymmetricKeyType ?? 'unknown'} key`);
  // RFC 4055 wants an explicit NULL parameter for RSA, RFC 5758 wants none for ECDSA.
  return keyType === 'rsa' ? seq([oid(SHA256_WITH_RSA), nul()]) : seq([oid(ECDSA_WITH_SHA256)]);
}

/** node:crypto signs PKCS#1 v1.5 for RSA and DER-encoded ECDSA, the forms X.509 and PKCS#10 use. */
export function signDer(tbs: Buffer, privateKey: KeyObject): Buffer {
  return sign('sha256', tbs, privateKey);
}

/**
 * The same signature, computed on libuv's thread pool: a certificate authority signing for an
 * enrollment burst leaves the event loop to the protocol traffic.
 */
export function signDerOffLoop(tbs: Buffer, privateKey: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign('sha256', tbs, privateKey, (error, signature) => (error ? reject(error) : resolve(signature))));
}

/** False rather than an exception when the key and algorithm disagree or the signature is garbage. */
export function verifyDer(tbs: Buffer, algorithmOid: string, signature: Buffer, publicKey: KeyObject): boolean {
  const algorithm = SIGNATURE_ALGORITHMS.get(algorithmOid);
  if (!algorithm || algorithm.keyType !== publicKey.asymmetricKeyType) return false;
  try {
    return verify(algorithm.hash, tbs, publicKey, signature);
  } catch {
    return false;
  }
}
