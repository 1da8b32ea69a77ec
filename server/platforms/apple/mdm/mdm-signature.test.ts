import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { signDetached } from '../../../../test/helpers/apple-device';
import { createCa, issueDeviceCertificate, issueSigningCertificate, signCms } from '../../../infra/pki';
import { berBytes, berChildren, readBer, type Ber } from '../../../infra/pki/ber';
import { contextTagged, fromPem, integer, nul, octets, oid, parseDer, seq, set, toDer, type Asn1 } from '../../../infra/pki/der';
import { readCertificate } from '../../../infra/pki/x509';
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

const OIDS = { data: '1.2.840.113549.1.7.1', signedData: '1.2.840.113549.1.7.2', contentType: '1.2.840.113549.1.9.3', messageDigest: '1.2.840.113549.1.9.4', rsa: '1.2.840.113549.1.1.1', sha256: '2.16.840.1.101.3.4.2.1', md5: '1.2.840.113549.2.5' };
const attribute = (type: string, value: Asn1) => seq([oid(type), set([value])]);

/** A detached SignedData with the variations the checks must see through or refuse. */
function cms(over: { certificates?: string[]; digestOid?: string; contentType?: string; digestOf?: Buffer; signedAttrs?: (der: Buffer) => Buffer; key?: KeyObject } = {}): { der: Buffer; keep: Buffer[] } {
  const signerDer = fromPem('CERTIFICATE', device.certPem);
  const { issuer, serial } = readCertificate(signerDer);
  const algorithm = seq([oid(over.digestOid ?? OIDS.sha256), nul()]);
  const attrs = set([attribute(OIDS.contentType, oid(over.contentType ?? OIDS.data)), attribute(OIDS.messageDigest, octets(createHash('sha256').update(over.digestOf ?? body).digest()))]);
  const signature = sign('sha256', toDer(attrs), over.key ?? device.key);
  const sentAttrs = (over.signedAttrs ?? ((d) => d))(toDer(contextTagged(0, attrs.value as Asn1[])));
  const certificates = (over.certificates ?? [device.certPem]).map((pem) => fromPem('CERTIFICATE', pem));
  const signerInfo = seq([integer(Buffer.from([1])), seq([issuer, serial]), algorithm, parseDer(sentAttrs), seq([oid(OIDS.rsa), nul()]), octets(signature)]);
  const signedData = seq([integer(Buffer.from([1])), set([algorithm]), seq([oid(OIDS.data)]), contextTagged(0, certificates.map((d) => parseDer(d))), set([signerInfo])]);
  return { der: toDer(seq([oid(OIDS.signedData), contextTagged(0, [signedData])])), keep: [...certificates, sentAttrs] };
}

/** The same structure with indefinite lengths (BER) everywhere but in the certificates and the signed attributes. */
function indefinite(node: Ber, keep: Buffer[]): Buffer {
  const bytes = berBytes(node);
  if (!node.constructed || keep.some((k) => k.equals(bytes))) return bytes;
  return Buffer.concat([bytes.subarray(0, 1), Buffer.from([0x80]), ...berChildren(node).map((c) => indefinite(c, keep)), Buffer.from([0, 0])]);
}

const header = (der: Buffer) => der.toString('base64');

describe('Mdm-Signature structure', () => {
  let other: string;
  beforeAll(() => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    other = issueDeviceCertificate({ caCertPem: ca.certPem, caKey: createPrivateKey(ca.keyPem), subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: 'device-2', validityDays: 30 }).certPem;
  });

  test('BER with indefinite lengths is read like DER', () => {
    const { der, keep } = cms();
    expect(verifyMdmSignature(header(der), body).ok).toBe(true);
    const ber = indefinite(readBer(der), keep);
    expect(ber.includes(Buffer.from([0x30, 0x80]))).toBe(true);
    expect(verifyMdmSignature(header(ber), body).ok).toBe(true);
  });

  test('the signer is found by issuer and serial among several certificates', () => {
    const check = verifyMdmSignature(header(cms({ certificates: [other, device.certPem] }).der), body);
    expect(check.ok).toBe(true);
    if (check.ok) expect(createHash('sha256').update(check.certificate.raw).digest('hex')).toBe(device.fingerprint);
    expect(verifyMdmSignature(header(cms({ certificates: [other] }).der), body)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  test('a signed digest of another body is refused', () => {
    expect(verifyMdmSignature(header(cms({ digestOf: Buffer.from('another body') }).der), body)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  test('signed attributes changed after signing are refused', () => {
    // The last byte of the digest flipped, and the digest of the body recomputed cannot help: the signature covers the attributes.
    const flip = (d: Buffer) => Buffer.concat([d.subarray(0, -1), Buffer.from([d[d.length - 1]! ^ 1])]);
    expect(verifyMdmSignature(header(cms({ signedAttrs: flip }).der), body)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(verifyMdmSignature(header(cms({ signedAttrs: flip, digestOf: Buffer.from('x') }).der), Buffer.from('x'))).toMatchObject({ ok: false });
  });

  test('a signed content type other than data is refused', () => {
    expect(verifyMdmSignature(header(cms({ contentType: OIDS.signedData }).der), body)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  test('an unsupported digest algorithm is refused', () => {
    expect(verifyMdmSignature(header(cms({ digestOid: OIDS.md5 }).der), body)).toMatchObject({ ok: false, reason: 'unsupported' });
  });

  test('truncated or padded headers are refused', () => {
    const { der } = cms();
    expect(verifyMdmSignature(header(der.subarray(0, der.length - 10)), body)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(verifyMdmSignature(header(Buffer.concat([der, Buffer.from([0])])), body)).toMatchObject({ ok: false, reason: 'malformed' });
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

  test('an accepted certificate is still refused once its device is retired, or for another CA', async () => {
    const headers = { 'mdm-signature': signDetached(body, device.certPem, device.key) };
    expect(await identify(deps(), headers, body)).toMatchObject({ ok: true });
    const retired = deps({ enrollmentOfCertificate: async () => ({ ...enrollment, deviceStatus: 'retired' as const }) });
    expect(await identify(retired, headers, body)).toMatchObject({ ok: false, status: 403, code: 'device_revoked' });
    const otherCa = await createCa({ commonName: 'Another CA', organisation: 'Cartable', validityYears: 1 });
    expect(await identify(deps({ caCertPem: () => otherCa.certPem }), headers, body)).toMatchObject({ ok: false, status: 403, code: 'certificate_wrong_ca' });
    expect(await identify(deps(), headers, body, new Date(Date.now() + 40 * 86_400_000))).toMatchObject({ ok: false, status: 403, code: 'certificate_expired' });
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
