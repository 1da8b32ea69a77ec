import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, decryptKey, encryptKey, issueSigningCertificate, signCms } from '.';

describe('signCms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cartable-cms-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })],
  ])('signs with an %s identity issued by the CA, and openssl verifies it', async (label, keyPair) => {
    const ca = await createCa({ commonName: 'CMS test CA', organisation: 'Cartable', validityYears: 1 });
    const { publicKey, privateKey } = keyPair();
    const caKey = decryptKey(encryptKey(ca.keyPem, 'secret'), 'secret');
    const signer = issueSigningCertificate({ caCertPem: ca.certPem, caKey, subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: `Signer ${label}`, validityDays: 1 });
    const content = Buffer.from(`contenu signé ${label}\n`, 'utf8');
    const signed = signCms(content, { certPem: signer.certPem, key: privateKey, chainPem: [ca.certPem] }, new Date('2026-09-01T08:00:00Z'));

    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'signed.der'), signed);
    execFileSync('openssl', ['cms', '-verify', '-CAfile', join(dir, 'ca.pem'), '-inform', 'DER', '-in', join(dir, 'signed.der'), '-out', join(dir, 'content')], { stdio: 'pipe' });
    expect(readFileSync(join(dir, 'content'))).toEqual(content);

    const printed = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, 'signed.der')]).toString();
    // Signed attributes in DER order, which compares whole encodings: after the SEQUENCE tag comes the
    // length, so the short contentType sorts first and the 32-byte digest last.
    const order = ['contentType', 'signingTime', 'messageDigest'].map((name) => printed.indexOf(`object: ${name}`));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(printed).toMatch(/Sep\s+1 08:00:00 2026 GMT/);
  });
});
