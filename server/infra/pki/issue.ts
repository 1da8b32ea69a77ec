import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { fromPem, randomSerial, toPem } from './der';
import { encodeName, type IssuedNameAttribute } from './name';
import { supportedKeyType, type KeyType } from './signature';
import { buildCertificate, buildCertificateOffLoop, CLOCK_SKEW_MS, extensions, keyIdentifier, readCertificate, type CertificateFields, type CertificateView } from './x509';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface IssueDeviceCertificateInput {
  caCertPem: string;
  caKey: KeyObject;
  /** SubjectPublicKeyInfo DER, normally `parseCsr(...).publicKeyDer`. */
  subjectPublicKeyDer: Buffer;
  /** The device id: devices are later identified by this CN, never by an id they claim. */
  commonName: string;
  /** Given when the key was already parsed and checked (a verified CSR): saves parsing it again. */
  subjectKeyType?: KeyType;
  organisationalUnit?: string;
  validityDays: number;
}

export interface IssuedCertificate {
  certPem: string;
  /** Upper-case hex, the same form as node:crypto's X509Certificate.serialNumber. */
  serialHex: string;
  /** Lower-case hex SHA-256 of the DER certificate. */
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

let issuer: { certPem: string; key: KeyObject; view: CertificateView } | undefined;

/**
 * The CA certificate, parsed and checked against its key once per CA rather than for every
 * device: at an enrollment burst this parsing cost as much as the signature itself.
 */
function issuerOf(certPem: string, key: KeyObject): CertificateView {
  if (issuer?.certPem === certPem && issuer.key === key) return issuer.view;
  const view = readCertificate(fromPem('CERTIFICATE', certPem));
  // A CA key that does not match the CA certificate would mint certificates no one can verify.
  if (!createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(view.spkiDer)) {
    throw new Error('CA key does not match the CA certificate');
  }
  issuer = { certPem, key, view };
  return view;
}

/** A client-auth certificate for a device key. One RSA signature via node:crypto, about 1 ms. */
export function issueDeviceCertificate(input: IssueDeviceCertificateInput): IssuedCertificate {
  const leaf = leafOf(input, 'client');
  return leaf.describe(buildCertificate(leaf.fields));
}

/** The same, its signature computed on the thread pool: the form enrollment endpoints use under load. */
export async function issueDeviceCertificateOffLoop(input: IssueDeviceCertificateInput): Promise<IssuedCertificate> {
  const leaf = leafOf(input, 'client');
  return leaf.describe(await buildCertificateOffLoop(leaf.fields));
}

/**
 * A certificate that signs documents (configuration profiles, as CMS SignedData): digital
 * signature only and no extended key usage, which CMS verifiers (`openssl cms -verify`'s
 * S/MIME purpose among them) accept.
 */
export function issueSigningCertificate(input: IssueDeviceCertificateInput): IssuedCertificate {
  const leaf = leafOf(input, 'signing');
  return leaf.describe(buildCertificate(leaf.fields));
}

/** Everything a leaf certificate says but its signature, and how to describe it once signed. */
function leafOf(input: IssueDeviceCertificateInput, purpose: 'client' | 'signing'): { fields: CertificateFields; describe(der: Buffer): IssuedCertificate } {
  if (!input.commonName) throw new Error('a certificate needs a commonName');
  if (!Number.isInteger(input.validityDays) || input.validityDays < 0) {
    throw new Error(`validityDays must be a non-negative integer, got ${input.validityDays}`);
  }
  const keyType = input.subjectKeyType ?? supportedKeyType(createPublicKey({ key: input.subjectPublicKeyDer, format: 'der', type: 'spki' }));
  if (!keyType) throw new Error('device key must be RSA >= 2048 bits or EC P-256/P-384');

  const ca = issuerOf(input.caCertPem, input.caKey);

  // Whole seconds: X.509 times carry no milliseconds, and callers store what the certificate says.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const notBefore = new Date(now - CLOCK_SKEW_MS);
  const notAfter = new Date(now + input.validityDays * DAY_MS);
  const serial = randomSerial();
  const subject: Array<[IssuedNameAttribute, string]> = input.organisationalUnit
    ? [['OU', input.organisationalUnit], ['CN', input.commonName]]
    : [['CN', input.commonName]];

  const fields: CertificateFields = {
    serial,
    issuer: ca.subject,
    subject: encodeName(subject),
    notBefore,
    notAfter,
    spkiDer: input.subjectPublicKeyDer,
    extensions: [
      extensions.basicConstraints(false),
      // keyEncipherment only means something for RSA; EC keys agree, they do not encipher.
      extensions.keyUsage(keyType === 'rsa' && purpose === 'client' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature']),
      ...(purpose === 'client' ? [extensions.clientAuth()] : []),
      extensions.authorityKeyIdentifier(ca.subjectKeyId ?? keyIdentifier(ca.spkiDer)),
      extensions.subjectKeyIdentifier(keyIdentifier(input.subjectPublicKeyDer)),
    ],
    signingKey: input.caKey,
  };
  return {
    fields,
    describe: (der) => ({
      certPem: toPem('CERTIFICATE', der),
      serialHex: serial.toString('hex').toUpperCase(),
      fingerprintSha256: createHash('sha256').update(der).digest('hex'),
      notBefore,
      notAfter,
    }),
  };
}
