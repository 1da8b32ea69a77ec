import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { signDetached } from '../../../../test/helpers/apple-device';
import { createCa, issueDeviceCertificate, issueSigningCertificate, signCms } from '../../../infra/pki';
import { identify, type IdentityDeps } from './apple-identity';
import { verifyMdmSignature } from './mdm-signature';

const body = Buffer.from('<?xml version="1.0"?><plist version="1.0"><dict><key>Status</key><string>Idle</string></dict></plist>');
let ca: { certPem: string; keyPem: string };
let device: { certPem: string; key: ReturnType<typeof createPrivateKey>; fingerprint: string };

beforeAll(async () => {
  ca = await createCa({ commonName: 'Cartable test CA', organisation: 'Cartable', validityYears: 1 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = issueDeviceCertificate({ caCertPem: ca.certPem, caKey: createPrivateKey(ca.keyPem), subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: 'device-1', validityDays: 30 });
  device = { certPem: issued.certPem, key: privateKey, fingerprint: issued.fingerprintSha256 };
});

describe('Mdm-Signature', () => {
  test.each(['sha1', 'sha256'] as const)('a detached %s signature over the body names its signer', (digest) => {
    const check = verifyMdmSignature(signDetached(body, device.certPem, device.key, digest), body);
    expect(check.ok).toBe(true);
    if (check.ok) expect(createHash('sha256').update(check.certificate.raw).digest('hex')).toBe(device.fingerprint);
  });

  test('a body changed after signing is refused', () => {
    const tampered = Buffer.from(body.toString().replace('Idle', 'Acknowledged'));
    expect(verifyMdmSignature(signDetached(body, device.certPem, device.key), tampered)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  test('a signature by another key than the certificate’s is refused', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(verifyMdmSignature(signDetached(body, device.certPem, other), body)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  test('an attached signature holding the body is accepted, one holding another content is not', () => {
    const signer = { certPem: device.certPem, key: device.key };
    expect(verifyMdmSignature(signCms(body, signer).toString('base64'), body).ok).toBe(true);
    expect(verifyMdmSignature(signCms(Buffer.from('other'), signer).toString('base64'), body)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  test.each([
    ['no header', undefined, 'missing'],
    ['not base64', '***', 'malformed'],
    ['not DER', Buffer.from('hello').toString('base64'), 'malformed'],
  ])('%s', (_name, header, reason) => {
    expect(verifyMdmSignature(header, body)).toMatchObject({ ok: false, reason });
  });
});

describe('identify', () => {
  const enrollment = { certificateId: 'c', deviceId: 'd', organisationId: 'o', schoolId: 's', deviceStatus: 'active' as const, revoked: false, udid: null, enrollmentState: null };
  const deps = (over: Partial<IdentityDeps> = {}): IdentityDeps => ({
    caCertPem: () => ca.certPem,
    enrollmentOfCertificate: async (fp) => (fp === device.fingerprint ? enrollment : null),
    ...over,
  });

  test('a signed request from a certificate of ours names its enrollment', async () => {
    const who = await identify(deps(), { 'mdm-signature': signDetached(body, device.certPem, device.key) }, body);
    expect(who).toMatchObject({ ok: true, device: { deviceId: 'd', fingerprintSha256: device.fingerprint } });
  });

  test('a certificate without clientAuth is refused with 403', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signing = issueSigningCertificate({ caCertPem: ca.certPem, caKey: createPrivateKey(ca.keyPem), subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: 'x', validityDays: 30 });
    expect(await identify(deps(), { 'mdm-signature': signDetached(body, signing.certPem, privateKey) }, body)).toMatchObject({ ok: false, status: 403, code: 'certificate_invalid' });
  });

  test('a revoked certificate is refused with 403, never 401', async () => {
    const who = await identify(deps({ enrollmentOfCertificate: async () => ({ ...enrollment, revoked: true }) }), { 'mdm-signature': signDetached(body, device.certPem, device.key) }, body);
    expect(who).toMatchObject({ ok: false, status: 403, code: 'device_revoked' });
  });

  test('a client certificate forwarded by the proxy is read only from the configured header', async () => {
    const der = Buffer.from(device.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const rfc9440 = { 'x-client-cert': `:${der.toString('base64')}:` };
    expect(await identify(deps({ certHeader: 'X-Client-Cert' }), rfc9440, body)).toMatchObject({ ok: true });
    expect(await identify(deps({ certHeader: 'X-Client-Cert' }), { 'x-client-cert': encodeURIComponent(device.certPem) }, body)).toMatchObject({ ok: true });
    // Without the setting, the header proves nothing: the body must be signed.
    expect(await identify(deps(), rfc9440, body)).toMatchObject({ ok: false, status: 400, code: 'signature_missing' });
  });
});
