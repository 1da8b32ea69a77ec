import { X509Certificate } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { appleScepChallenges, appleScepEnrollments, auditEvents, devices, enrollmentTokens } from '../../server/infra/db/schema';
import { AppleDevice, type Transport } from '../helpers/apple-device';
import { challengeHash, createAppleEnrollmentService } from '../../server/modules/apple-enrollment/apple-enrollment.service';
import { buildPkcsReq, fetchEnrollmentProfile, getCaCert, readCertRep, rsaKeyPair, scepEnroll, type KeyPair } from '../helpers/apple-scep-client';
import { openAppleWorld, TEST_TOPIC, type AppleWorld } from './apple-enrollment.helpers';

let world: AppleWorld;
let keys: KeyPair[];

beforeAll(async () => {
  world = await openAppleWorld();
  // RSA-2048 generation is the slow part of SCEP for a client: a few keys, made once.
  keys = await Promise.all([rsaKeyPair(), rsaKeyPair(), rsaKeyPair()]);
});
afterAll(() => world.close());

const db = () => world.t.infra.database.db;
const countEnrollments = async () => (await db().select().from(appleScepEnrollments)).length;

describe('iPad enrollment link', () => {
  it('comes with the created token, with its QR code, and does not reveal the token', async () => {
    const created = await world.createToken();
    expect(created.apple.enrollmentUrl).toMatch(new RegExp(`^${world.baseUrl}/apple/enroll/${created.enrollmentToken.id}\\.[A-Za-z0-9_-]{22}$`));
    expect(created.apple.enrollmentUrl).not.toContain(created.token);
    expect(created.apple.qrCodeSvg).toMatch(/^<svg/);

    const again = await fetch(`${world.baseUrl}/api/v1/enrollment-tokens/${created.enrollmentToken.id}/apple`, { headers: { authorization: `Bearer ${world.admin}` } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { enrollmentUrl: string }).enrollmentUrl).toBe(created.apple.enrollmentUrl);
    const [audit] = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'enrollment_token.apple_link'), eq(auditEvents.targetId, created.enrollmentToken.id)));
    expect(audit).toBeDefined();
  });

  it('serves a signed enrollment profile with the SCEP and MDM payloads Apple expects', async () => {
    const created = await world.createToken();
    const response = await fetch(created.apple.enrollmentUrl);
    expect(response.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(response.headers.get('cache-control')).toBe('no-store');

    const served = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    // The profile signer is issued by the device CA.
    expect(new X509Certificate(served.signerPem).checkIssued(new X509Certificate(world.t.services.pki.caCertPem()))).toBe(true);
    expect(served.scep).toMatchObject({ URL: world.scepUrl, Keysize: 2048, 'Key Type': 'RSA', 'Key Usage': 5 });
    expect(served.scep.Challenge).toMatch(/^[0-9a-f]{40}$/);
    expect(served.scep.Subject.every((rdn) => Array.isArray(rdn) && rdn.every((pair) => Array.isArray(pair) && pair.length === 2))).toBe(true);
    expect(served.mdm).toMatchObject({
      IdentityCertificateUUID: served.scep.PayloadUUID,
      Topic: TEST_TOPIC,
      ServerURL: `${world.baseUrl}/apple/mdm`,
      CheckInURL: `${world.baseUrl}/apple/checkin`,
      SignMessage: true,
      AccessRights: 8191,
      CheckOutWhenRemoved: true,
    });
    expect(served.mdm.ServerCapabilities).toContain('com.apple.mdm.per-user-connections');
    expect(served.profile.PayloadType).toBe('Configuration');

    // Two downloads, two challenges: each profile buys one certificate.
    const second = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    expect(second.scep.Challenge).not.toBe(served.scep.Challenge);
    const stored = await db().select().from(appleScepChallenges).where(eq(appleScepChallenges.tokenId, created.enrollmentToken.id));
    // Three: the download that checked the headers took one too.
    expect(stored).toHaveLength(3);
    expect(stored.map((row) => row.challengeHash)).not.toContain(served.scep.Challenge);
  });

  it('is refused when altered, and once its token is revoked', async () => {
    const created = await world.createToken();
    const altered = created.apple.enrollmentUrl.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await fetch(altered)).status).toBe(404);
    await fetch(`${world.baseUrl}/api/v1/enrollment-tokens/${created.enrollmentToken.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${world.admin}` } });
    const revoked = await fetch(created.apple.enrollmentUrl);
    expect(revoked.status).toBe(403);
    expect(((await revoked.json()) as { code: string }).code).toBe('token_revoked');
  });

  it('says the push certificate is missing when no topic is known', async () => {
    const created = await world.createToken();
    const services = world.t.services;
    const withoutTopic = createAppleEnrollmentService({ db: db(), pki: services.pki, linkKey: Buffer.alloc(32, 1), topic: async () => null, challengeTtlSec: 60 });
    await expect(withoutTopic.grantProfile(withoutTopic.linkOf(created.enrollmentToken.id), null)).rejects.toMatchObject({ kind: 'conflict', code: 'apns_not_configured' });
    // Nothing was handed out.
    expect(await db().select().from(appleScepChallenges).where(eq(appleScepChallenges.tokenId, created.enrollmentToken.id))).toHaveLength(0);
  });
});

describe('SCEP', () => {
  it('advertises its capabilities and serves the CA certificate', async () => {
    const caps = await (await fetch(`${world.scepUrl}?operation=GetCACaps`)).text();
    expect(caps.split('\n')).toEqual(expect.arrayContaining(['POSTPKIOperation', 'SHA-256', 'AES', 'SCEPStandard']));
    expect((await getCaCert(world.scepUrl)).equals(new X509Certificate(world.t.services.pki.caCertPem()).raw)).toBe(true);
  });

  it("issues a client-auth identity from the profile's challenge, recorded for the check-in to find", async () => {
    const created = await world.createToken({ maxUses: 5 });
    const { scep } = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    const result = await scepEnroll(scep.URL, scep.Challenge, keys[0]!, { commonName: 'DMPXK0001' });
    if (result.status !== 'success') throw new Error(`refused: ${result.failInfo}`);

    const cert = new X509Certificate(result.certPem);
    expect(cert.checkIssued(new X509Certificate(world.t.services.pki.caCertPem()))).toBe(true);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(cert.publicKey.export({ type: 'spki', format: 'der' }).equals(keys[0]!.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    const check = world.t.services.pki.verifyDeviceCertificate(result.certPem);
    if (!check.ok) throw new Error(check.reason);

    const [row] = await db().select().from(appleScepEnrollments).where(eq(appleScepEnrollments.fingerprintSha256, check.fingerprintSha256));
    expect(row).toMatchObject({ deviceId: check.deviceId, schoolId: world.tree.schools[0]!.id, tokenId: created.enrollmentToken.id, claimedAt: null });
    const [token] = await db().select().from(enrollmentTokens).where(eq(enrollmentTokens.id, created.enrollmentToken.id));
    expect(token!.uses).toBe(1);
    const [audit] = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'apple.scep.issue'), eq(auditEvents.targetId, check.deviceId)));
    expect(audit).toBeDefined();

    // The same request again (its answer lost): the same certificate, no second use of the token.
    const retry = await scepEnroll(scep.URL, scep.Challenge, keys[0]!, { useGet: true });
    expect(retry.status === 'success' && retry.certPem).toBe(result.certPem);
    // Another key with the spent challenge: refused, and audited.
    const reuse = await scepEnroll(scep.URL, scep.Challenge, keys[1]!);
    expect(reuse).toMatchObject({ status: 'failure', failInfo: '2' });
    const refusals = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'apple.scep.refused'), eq(auditEvents.targetId, created.enrollmentToken.id)));
    expect(refusals).toHaveLength(1);
    expect((await db().select().from(enrollmentTokens).where(eq(enrollmentTokens.id, created.enrollmentToken.id)))[0]!.uses).toBe(1);
  });

  it('gives an identity the first check-in turns into a device of the token\'s school', async () => {
    const created = await world.createToken({ schoolId: world.tree.schools[1]!.id });
    const { scep, mdm } = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    const result = await scepEnroll(scep.URL, scep.Challenge, keys[2]!);
    if (result.status !== 'success') throw new Error(`refused: ${result.failInfo}`);
    const transport: Transport = async (method, path, body, headers) => {
      const response = await fetch(`${world.baseUrl}${path}`, { method, body: new Uint8Array(body), headers });
      return { status: response.status, body: await response.text() };
    };
    const ipad = new AppleDevice(transport, result.certPem, keys[2]!.privateKey, mdm.Topic);
    expect((await ipad.authenticate()).status).toBe(200);
    const check = world.t.services.pki.verifyDeviceCertificate(result.certPem);
    if (!check.ok) throw new Error(check.reason);
    const [device] = await db().select().from(devices).where(eq(devices.id, check.deviceId));
    expect(device).toMatchObject({ schoolId: world.tree.schools[1]!.id, platform: 'ios', serial: ipad.serial });
    const [row] = await db().select().from(appleScepEnrollments).where(eq(appleScepEnrollments.deviceId, check.deviceId));
    expect(row!.claimedAt).not.toBeNull();
    expect((await ipad.tokenUpdate()).status).toBe(200);
  });

  it('answers FAILURE badRequest to a wrong challenge and stores nothing', async () => {
    const before = await countEnrollments();
    const result = await scepEnroll(world.scepUrl, 'f'.repeat(40), keys[1]!);
    expect(result).toMatchObject({ status: 'failure', failInfo: '2' });
    expect(await countEnrollments()).toBe(before);
    const metrics = await world.t.ops.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/cartable_scep_requests_total\{outcome="refused"\} [1-9]/);
  });

  it('refuses a challenge once its token is used up', async () => {
    const created = await world.createToken({ maxUses: 1 });
    const first = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    const second = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    expect((await scepEnroll(first.scep.URL, first.scep.Challenge, keys[1]!)).status).toBe('success');
    expect(await scepEnroll(second.scep.URL, second.scep.Challenge, keys[2]!)).toMatchObject({ status: 'failure', failInfo: '2' });
  });

  it('refuses an expired challenge, and purges it a day later', async () => {
    const created = await world.createToken();
    const { scep } = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
    const hash = challengeHash(scep.Challenge);
    await db().update(appleScepChallenges).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(appleScepChallenges.challengeHash, hash));
    expect(await scepEnroll(scep.URL, scep.Challenge, keys[1]!)).toMatchObject({ status: 'failure', failInfo: '2' });
    const [refusal] = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'apple.scep.refused'), eq(auditEvents.targetId, created.enrollmentToken.id)));
    expect(refusal!.details).toMatchObject({ reason: 'challenge expired' });

    const service = world.t.services.appleEnrollment;
    await service.purgeExpiredChallenges();
    expect(await db().select().from(appleScepChallenges).where(eq(appleScepChallenges.challengeHash, hash))).toHaveLength(1);
    expect(await service.purgeExpiredChallenges(new Date(Date.now() + 25 * 3600 * 1000))).toBeGreaterThanOrEqual(1);
    expect(await db().select().from(appleScepChallenges).where(eq(appleScepChallenges.challengeHash, hash))).toHaveLength(0);
  });

  describe('bad input is a 400, and nothing is stored', () => {
    let challenge: string;
    let caCertDer: Buffer;
    beforeAll(async () => {
      const created = await world.createToken();
      challenge = (await fetchEnrollmentProfile(created.apple.enrollmentUrl)).scep.Challenge;
      caCertDer = await getCaCert(world.scepUrl);
    });

    const post = (body: Buffer) => fetch(`${world.scepUrl}?operation=PKIOperation`, { method: 'POST', headers: { 'content-type': 'application/x-pki-message' }, body: new Uint8Array(body) });

    async function expectRefused(body: Buffer, code: string, detail: RegExp) {
      const before = await countEnrollments();
      const response = await post(body);
      expect(response.status).toBe(400);
      const problem = (await response.json()) as { code: string; detail: string };
      expect(problem.code).toBe(code);
      expect(problem.detail).toMatch(detail);
      expect(await countEnrollments()).toBe(before);
      const [row] = await db().select().from(appleScepChallenges).where(eq(appleScepChallenges.challengeHash, challengeHash(challenge)));
      expect(row!.usedAt).toBeNull();
    }

    it('malformed PKCS#7', () => expectRefused(Buffer.from('30820100deadbeef', 'hex'), 'scep_bad_message', /BER|ContentInfo/));
    it('not a SignedData', () => expectRefused(Buffer.from('300d06092a864886f70d010703a000', 'hex'), 'scep_bad_message', /content type|ContentInfo|BER/));
    it('a broken signature', () => expectRefused(buildPkcsReq({ keyPair: keys[2]!, caCertDer, challenge, corruptSignature: true }).der, 'scep_bad_message', /signature/));
    it('a message type other than PKCSReq', () => expectRefused(buildPkcsReq({ keyPair: keys[2]!, caCertDer, challenge, messageType: '20' }).der, 'scep_bad_message', /messageType 20/));
    it('an oversized body', () => expectRefused(Buffer.alloc(world.env.config.APPLE_SCEP_MAX_BYTES + 1, 0x30), 'message_too_big', /at most/));
    it('an empty body and an unknown operation', async () => {
      expect((await post(Buffer.alloc(0))).status).toBe(400);
      expect((await fetch(`${world.scepUrl}?operation=GetNextCACert`)).status).toBe(400);
      expect((await fetch(`${world.scepUrl}?operation=PKIOperation&message=%%%`)).status).toBe(400);
    });

    it('and the challenge still works afterwards', async () => {
      const request = buildPkcsReq({ keyPair: keys[2]!, caCertDer, challenge });
      const response = await post(request.der);
      expect(response.status).toBe(200);
      const result = await readCertRep(Buffer.from(await response.arrayBuffer()), request, caCertDer, keys[2]!.privateKey);
      expect(result.status).toBe('success');
    });
  });
});
