import { createHash, X509Certificate } from 'node:crypto';
import type { CertificateEnrollment } from '../../../modules/apple-mdm/apple-devices.service';
import { verifyMdmSignature } from './mdm-signature';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/**
 * 400 when the request carries no readable proof, 403 when the proof holds but the certificate
 * is not one we accept. Never 401: an iPad may unenroll on it.
 */
export type Identified =
  | { ok: true; device: CertificateEnrollment & { fingerprintSha256: string } }
  | { ok: false; status: 400 | 403; code: string; message: string };

export interface IdentityDeps {
  caCertPem(): string;
  enrollmentOfCertificate(fingerprintSha256: string): Promise<CertificateEnrollment | null>;
  /** A header in which the TLS-terminating proxy forwards the client certificate; unset: only Mdm-Signature. */
  certHeader?: string;
}

const refuse = (status: 400 | 403, code: string, message: string): Identified => ({ ok: false, status, code, message });

let parsedCa: { pem: string; certificate: X509Certificate } | null = null;
/** The CA certificate, parsed once rather than at every request. */
function caCertificate(pem: string): X509Certificate {
  if (parsedCa?.pem !== pem) parsedCa = { pem, certificate: new X509Certificate(pem) };
  return parsedCa.certificate;
}

/**
 * Certificates found issued by our CA for client authentication, by SHA-256: an iPad signs every
 * request with the same certificate, and checking the CA's signature on it each time is wasted
 * work. Only these properties of the certificate's own bytes are kept (never a refusal), for a
 * short while and for one CA; validity dates are compared with the clock at every request.
 */
const ACCEPTED_TTL_MS = 5 * 60_000;
const ACCEPTED_MAX = 10_000;
type Accepted = { caPem: string; until: number; validFrom: number; validTo: number };
const acceptedCertificates = new Map<string, Accepted>();

function remember(fingerprintSha256: string, accepted: Accepted): void {
  // A Map iterates in insertion order: the first key is the oldest entry.
  if (acceptedCertificates.size >= ACCEPTED_MAX) acceptedCertificates.delete(acceptedCertificates.keys().next().value!);
  acceptedCertificates.set(fingerprintSha256, accepted);
}

/** RFC 9440 (`:base64-DER:`) or nginx's URL-escaped PEM. */
function forwardedCertificate(value: string): X509Certificate | null {
  try {
    const rfc9440 = /^:([A-Za-z0-9+/=]+):$/.exec(value.trim());
    if (rfc9440) return new X509Certificate(Buffer.from(rfc9440[1]!, 'base64'));
    return new X509Certificate(decodeURIComponent(value));
  } catch {
    return null;
  }
}

/** Who sent this request: the certificate that signed its body (or the proxy's client certificate), issued by our CA. */
export async function identify(deps: IdentityDeps, headers: Record<string, string | string[] | undefined>, body: Buffer, now = new Date()): Promise<Identified> {
  let certificate: X509Certificate;
  let fingerprintSha256: string;
  const forwarded = deps.certHeader ? headers[deps.certHeader.toLowerCase()] : undefined;
  if (typeof forwarded === 'string' && forwarded.length > 0) {
    const parsed = forwardedCertificate(forwarded);
    if (!parsed) return refuse(400, 'certificate_invalid', 'the forwarded client certificate cannot be read');
    certificate = parsed;
    fingerprintSha256 = createHash('sha256').update(certificate.raw).digest('hex');
  } else {
    const header = headers['mdm-signature'];
    const signature = verifyMdmSignature(typeof header === 'string' ? header : undefined, body);
    if (!signature.ok) return refuse(400, `signature_${signature.reason}`, signature.message);
    ({ certificate, fingerprintSha256 } = signature);
  }

  const caPem = deps.caCertPem();
  let accepted = acceptedCertificates.get(fingerprintSha256);
  if (!accepted || accepted.caPem !== caPem || accepted.until <= Date.now()) {
    acceptedCertificates.delete(fingerprintSha256);
    const ca = caCertificate(caPem);
    let issued = false;
    try {
      issued = !certificate.ca && certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
    } catch {
      issued = false;
    }
    if (!issued) return refuse(403, 'certificate_wrong_ca', 'the certificate was not issued by this server');
    if (!(certificate.keyUsage ?? []).includes(CLIENT_AUTH)) return refuse(403, 'certificate_invalid', 'the certificate is not for client authentication');
    accepted = { caPem, until: Date.now() + ACCEPTED_TTL_MS, validFrom: Date.parse(certificate.validFrom), validTo: Date.parse(certificate.validTo) };
    remember(fingerprintSha256, accepted);
  }
  const { validFrom, validTo } = accepted;
  if (Number.isNaN(validFrom) || Number.isNaN(validTo) || now.getTime() < validFrom || now.getTime() > validTo) return refuse(403, 'certificate_expired', 'the certificate is expired or not yet valid');

  // Read at every request, never cached: a revocation or a retirement takes effect at once.
  const device = await deps.enrollmentOfCertificate(fingerprintSha256);
  if (!device) return refuse(403, 'certificate_unknown', 'the certificate belongs to no iPad enrollment');
  if (device.revoked || device.deviceStatus !== 'active') return refuse(403, 'device_revoked', `the device is ${device.deviceStatus === 'active' ? 'revoked' : device.deviceStatus}`);
  return { ok: true, device: { ...device, fingerprintSha256 } };
}
