import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { randomSerial, toPem } from './der';
import { encodeName } from './name';
import { buildCertificate, CLOCK_SKEW_MS, extensions, keyIdentifier } from './x509';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface CreateCaInput {
  commonName: string;
  organisation: string;
  validityYears: number;
}

/** A fresh RSA-2048 CA. The key is generated off the event loop by node:crypto. */
export async function createCa(input: CreateCaInput): Promise<{ certPem: string; keyPem: string }> {
  if (!Number.isInteger(input.validityYears) || input.validityYears < 1) {
    throw new Error(`validityYears must be a positive integer, got ${input.validityYears}`);
  }
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const name = encodeName([
    ['O', input.organisation],
    ['CN', input.commonName],
  ]);
  const now = Date.now();
  const notBefore = new Date(now - CLOCK_SKEW_MS);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + input.validityYears);

  const der = buildCertificate({
    serial: randomSerial(),
    issuer: name,
    subject: name,
    notBefore,
    notAfter,
    spkiDer,
    extensions: [
      extensions.basicConstraints(true),
      extensions.keyUsage(['keyCertSign', 'cRLSign']),
      extensions.subjectKeyIdentifier(keyIdentifier(spkiDer)),
    ],
    signingKey: privateKey,
  });
  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** PKCS#8 with PBES2 + AES-256-CBC, so the key at rest is useless without CARTABLE_SECRET_KEY. */
export function encryptKey(keyPem: string, secret: Buffer | string): string {
  if (secret.length === 0) throw new Error('refusing to encrypt the CA key with an empty secret');
  return createPrivateKey(keyPem)
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: secret })
    .toString();
}

export function decryptKey(encPem: string, secret: Buffer | string): KeyObject {
  // An unencrypted PEM would load whatever the passphrase; a plaintext key at rest is a bug to surface.
  if (!encPem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new Error('CA key is not encrypted at rest: expected an ENCRYPTED PRIVATE KEY PEM');
  }
  try {
    return createPrivateKey({ key: encPem, format: 'pem', passphrase: secret });
  } catch (cause) {
    throw new Error('CA key cannot be decrypted: wrong CARTABLE_SECRET_KEY?', { cause });
  }
}
