import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { decodeName } from './name';
import { readCertificate } from './x509';

export type DeviceCertificateFailure = 'malformed' | 'wrong_ca' | 'expired' | 'not_yet_valid';

export type DeviceCertificateCheck =
  | { ok: true; deviceId: string; serialHex: string; fingerprintSha256: string; publicKey: KeyObject; spkiDer: Buffer }
  | { ok: false; reason: DeviceCertificateFailure };

export interface VerifyDeviceCertificateInput {
  certPem: string;
  caCertPem: string;
  now?: Date;
  /** Accept a certificate outside its validity period: a re-enrollment proves an old, maybe expired, identity. */
  ignoreValidity?: boolean;
}

/**
 * Authenticates a device certificate against our CA. Revocation (wiped, retired) is the
 * caller's job: look the serial or fingerprint up in the database after this succeeds.
 */
export function verifyDeviceCertificate(input: VerifyDeviceCertificateInput): DeviceCertificateCheck {
  let cert: X509Certificate;
  let deviceId: string | undefined;
  let spkiDer: Buffer;
  try {
    cert = new X509Certificate(input.certPem);
    // Read the CN from the DER: X509Certificate.subject is display text, unsafe to split.
    const view = readCertificate(cert.raw);
    deviceId = decodeName(view.subject).CN;
    spkiDer = view.spkiDer;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!deviceId) return { ok: false, reason: 'malformed' };

  const ca = parsedCa(input.caCertPem);
  // The CA certificate itself passes checkIssued and verify, but it names no device.
  if (cert.ca || !cert.checkIssued(ca.cert) || !signedBy(cert, ca.publicKey)) return { ok: false, reason: 'wrong_ca' };

  const now = (input.now ?? new Date()).getTime();
  const validFrom = Date.parse(cert.validFrom);
  const validTo = Date.parse(cert.validTo);
  if (Number.isNaN(validFrom) || Number.isNaN(validTo)) return { ok: false, reason: 'malformed' };
  if (!input.ignoreValidity && now < validFrom) return { ok: false, reason: 'not_yet_valid' };
  // RFC 5280: notAfter is the last valid instant, inclusive.
  if (!input.ignoreValidity && now > validTo) return { ok: false, reason: 'expired' };

  return {
    ok: true,
    deviceId,
    serialHex: cert.serialNumber.toUpperCase(),
    fingerprintSha256: createHash('sha256').update(cert.raw).digest('hex'),
    publicKey: cert.publicKey,
    spkiDer,
  };
}

let lastCa: { pem: string; cert: X509Certificate; publicKey: KeyObject } | undefined;

/**
 * The CA certificate, parsed once for as long as it stays the same: every device handshake checks
 * a certificate against it, thousands a minute after a gateway restarts.
 */
function parsedCa(pem: string): { cert: X509Certificate; publicKey: KeyObject } {
  if (lastCa?.pem !== pem) {
    const cert = new X509Certificate(pem);
    lastCa = { pem, cert, publicKey: cert.publicKey };
  }
  return lastCa;
}

function signedBy(cert: X509Certificate, caPublicKey: KeyObject): boolean {
  try {
    return cert.verify(caPublicKey);
  } catch {
    return false;
  }
}

/**
 * Checks a device's proof of possession (SHA-256; ECDSA in DER form, RSA PKCS#1 v1.5).
 * Input comes straight off the network, so every failure is just `false`.
 */
export function verifyChallengeSignature(publicKey: KeyObject, payload: Buffer, signatureB64: string): boolean {
  if (typeof signatureB64 !== 'string' || !Buffer.isBuffer(payload)) return false;
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length === 0) return false;
  try {
    return verify('sha256', payload, publicKey, signature);
  } catch {
    return false;
  }
}
