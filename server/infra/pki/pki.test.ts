import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCa,
  createCsr,
  decryptKey,
  encryptKey,
  issueDeviceCertificate,
  parseCsr,
  verifyChallengeSignature,
  verifyDeviceCertificate,
} from './index';

const SECRET = 'a-test-secret-that-is-at-least-32-chars';
const DAY_MS = 24 * 60 * 60 * 1000;

let dir: string;
let ca: { certPem: string; caKey: KeyObject };
let otherCa: { certPem: string; caKey: KeyObject };

function openssl(args: string[], files: Record<string, string> = {}): string {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function newCa(commonName: string): Promise<{ certPem: string; caKey: KeyObject }> {
  const { certPem, keyPem } = await createCa({ commonName, organisation: 'Académie de Test', validityYears: 10 });
  return { certPem, caKey: decryptKey(encryptKey(keyPem, SECRET), SECRET) };
}

function ecKeys(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function issueFor(keyPair: { publicKey: KeyObject; privateKey: KeyObject }, deviceId: string, validityDays = 365) {
  const csr = parseCsr(createCsr({ keyPair, commonName: deviceId }));
  return issueDeviceCertificate({
    caCertPem: ca.certPem,
    caKey: ca.caKey,
    subjectPublicKeyDer: csr.publicKeyDer,
    commonName: deviceId,
    validityDays,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cartable-pki-'));
  [ca, otherCa] = await Promise.all([newCa('Cartable Test CA'), newCa('Somebody Else CA')]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CA', () => {
  it('is a self-signed v3 CA certificate with the required extensions', () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe(cert.issuer);
    expect(cert.subject).toContain('CN=Cartable Test CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);

    const text = openssl(['x509', '-noout', '-text', '-in', 'ca.pem'], { 'ca.pem': ca.certPem });
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toContain('X509v3 Subject Key Identifier');
  });

  it('keeps the key encrypted at rest and names the secret when decryption fails', async () => {
    const { keyPem } = await createCa({ commonName: 'Key CA', organisation: 'Test', validityYears: 1 });
    const encrypted = encryptKey(keyPem, SECRET);
    expect(encrypted).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    expect(decryptKey(encrypted, Buffer.from(SECRET)).asymmetricKeyType).toBe('rsa');
    expect(() => decryptKey(encrypted, 'another-secret-of-at-least-32-characters')).toThrow(/wrong CARTABLE_SECRET_KEY/);
    expect(() => decryptKey(keyPem, SECRET)).toThrow(/not encrypted/);
  });
});

describe('device certificates', () => {
  it.each([
    ['EC P-256', () => ecKeys(), 'Digital Signature\n'],
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'Digital Signature, Key Encipherment'],
  ])('issues a %s client certificate that node:crypto and openssl verify', (_label, keys, keyUsage) => {
    const keyPair = keys();
    const issued = issueFor(keyPair, 'device-42');
    const cert = new X509Certificate(issued.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=device-42');
    expect(cert.serialNumber).toBe(issued.serialHex);
    expect(cert.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(issued.fingerprintSha256);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(keyPair.publicKey.export({ type: 'spki', format: 'der' }));
    expect(Date.parse(cert.validFrom)).toBe(issued.notBefore.getTime());
    expect(Date.parse(cert.validTo)).toBe(issued.notAfter.getTime());
    expect(issued.notBefore.getTime()).toBeLessThanOrEqual(Date.now() - 5 * 60 * 1000 + 1000);

    const files = { 'ca.pem': ca.certPem, 'dev.pem': issued.certPem };
    const verified = openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'ca.pem', 'dev.pem'], files);
    expect(verified.trim()).toBe('dev.pem: OK');
    const text = openssl(['x509', '-noout', '-text', '-in', 'dev.pem']);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain(keyUsage);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Client Authentication/);
    expect(text).toContain('X509v3 Authority Key Identifier');
  });

  it('puts the organisational unit in the subject and encodes post-2049 dates', () => {
    const issued = issueDeviceCertificate({
      caCertPem: ca.certPem,
      caKey: ca.caKey,
      subjectPublicKeyDer: ecKeys().publicKey.export({ type: 'spki', format: 'der' }),
      commonName: 'device-43',
      organisationalUnit: 'École Jules Ferry',
      validityDays: 12_000,
    });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toBe('OU=École Jules Ferry\nCN=device-43');
    expect(issued.notAfter.getUTCFullYear()).toBeGreaterThan(2050);
    expect(Date.parse(cert.validTo)).toBe(issued.notAfter.getTime());
    const files = { 'ca.pem': ca.certPem, 'ou.pem': issued.certPem };
    expect(openssl(['verify', '-x509_strict', '-CAfile', 'ca.pem', 'ou.pem'], files).trim()).toBe('ou.pem: OK');
  });

  it('refuses to sign with a key that is not the CA key', () => {
    const input = { caCertPem: ca.certPem, caKey: otherCa.caKey, commonName: 'd', validityDays: 1 };
    const subjectPublicKeyDer = ecKeys().publicKey.export({ type: 'spki', format: 'der' });
    expect(() => issueDeviceCertificate({ ...input, subjectPublicKeyDer })).toThrow(/does not match/);
  });

  it('issues 100 certificates in well under a second', () => {
    const subjectPublicKeyDer = ecKeys().publicKey.export({ type: 'spki', format: 'der' });
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++) {
      issueDeviceCertificate({ caCertPem: ca.certPem, caKey: ca.caKey, subjectPublicKeyDer, commonName: `device-${i}`, validityDays: 365 });
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`issued 100 device certificates in ${elapsedMs.toFixed(1)} ms`);
    expect(elapsedMs).toBeLessThan(2000);
  });
});

describe('verifyDeviceCertificate', () => {
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('accepts a certificate from our CA and names the device', () => {
    const issued = issueFor(keyPair, 'device-7');
    const result = verifyDeviceCertificate({ certPem: issued.certPem, caCertPem: ca.certPem });
    expect(result).toMatchObject({ ok: true, deviceId: 'device-7', serialHex: issued.serialHex, fingerprintSha256: issued.fingerprintSha256 });
    expect(result.ok && result.publicKey.export({ type: 'spki', format: 'der' })).toEqual(keyPair.publicKey.export({ type: 'spki', format: 'der' }));
    // The key's bytes as the certificate holds them are those a renewal's CSR is compared with.
    expect(result.ok && result.spkiDer).toEqual(keyPair.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('rejects another CA, the CA itself, garbage and out-of-validity certificates', () => {
    const issued = issueFor(keyPair, 'device-8', 0);
    const verifyAt = (certPem: string, caCertPem: string, now?: Date) => verifyDeviceCertificate({ certPem, caCertPem, now });
    expect(verifyAt(issued.certPem, otherCa.certPem)).toEqual({ ok: false, reason: 'wrong_ca' });
    expect(verifyAt(ca.certPem, ca.certPem)).toEqual({ ok: false, reason: 'wrong_ca' });
    expect(verifyAt('not a certificate', ca.certPem)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifyAt(issued.certPem, ca.certPem, new Date(Date.now() + DAY_MS))).toEqual({ ok: false, reason: 'expired' });
    expect(verifyAt(issued.certPem, ca.certPem, new Date(Date.now() - DAY_MS))).toEqual({ ok: false, reason: 'not_yet_valid' });
  });
});

describe('verifyChallengeSignature', () => {
  const payload = Buffer.from('nonce:5f3a9c|device-7');

  it.each([
    ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['RSA-2048', generateKeyPairSync('rsa', { modulusLength: 2048 })],
  ])('accepts the device key and nothing else (%s)', (_label, keyPair) => {
    const signature = sign('sha256', payload, keyPair.privateKey).toString('base64');
    const stranger = sign('sha256', payload, ecKeys().privateKey).toString('base64');
    expect(verifyChallengeSignature(keyPair.publicKey, payload, signature)).toBe(true);
    expect(verifyChallengeSignature(keyPair.publicKey, Buffer.from('other payload'), signature)).toBe(false);
    expect(verifyChallengeSignature(keyPair.publicKey, payload, stranger)).toBe(false);
    expect(verifyChallengeSignature(keyPair.publicKey, payload, '')).toBe(false);
    expect(verifyChallengeSignature(keyPair.publicKey, payload, '%%% not base64 %%%')).toBe(false);
    expect(verifyChallengeSignature(keyPair.publicKey, payload, undefined as unknown as string)).toBe(false);
  });
});
