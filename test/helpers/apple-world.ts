import { createPublicKey, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { communes, deviceCertificates, devices, organisations, schools } from '../../server/infra/db/schema';
import { AppleDevice, newDeviceKey, type Transport } from './apple-device';
import { createPrincipalToken } from './auth';
import { FakeApns, signPushCsr } from './fake-apns';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from './test-env';

export interface AppleMdmWorld {
  env: TestEnv;
  t: TestApp;
  apns: FakeApns;
  /** The server's address: iPads speak real HTTP, the raw body must reach the signature check byte for byte. */
  base: string;
  transport: Transport;
  org: { id: string };
  school: { id: string };
  /** An organisation-wide administrator's API token. */
  admin: string;
  /** The topic of the push certificate the world uploaded. */
  topic: string;
  /** What the SCEP responder leaves behind: the enrollment's device row and the identity certificate it issued (clientAuth, our CA). */
  scepEnrolled(): Promise<{ device: AppleDevice; deviceId: string }>;
  /** An iPad through SCEP, then Authenticate and TokenUpdate. */
  enrolled(): Promise<{ device: AppleDevice; deviceId: string }>;
  close(): Promise<void>;
}

/** A listening server, a fake APNs it pushes to, an organisation with one school, and an uploaded push certificate. */
export async function openAppleMdmWorld(schoolName: string): Promise<AppleMdmWorld> {
  const apns = new FakeApns();
  await apns.start();
  const dir = mkdtempSync(join(tmpdir(), 'cartable-apns-'));
  writeFileSync(join(dir, 'ca.pem'), apns.tls.certPem);
  const env = await createTestEnv({ APPLE_APNS_URL: apns.url, APPLE_APNS_CA_FILE: join(dir, 'ca.pem') });
  const t = await startTestApp(env, { listen: true });
  const address = t.app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const db = t.infra.database.db;
  const tag = randomUUID().slice(0, 8);
  const org = (await db.insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning())[0]!;
  const [commune] = await db.insert(communes).values({ organisationId: org.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  const school = (await db.insert(schools).values({ organisationId: org.id, communeId: commune!.id, code: tag, name: schoolName }).returning())[0]!;
  const admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: org.id });
  const topic = `com.apple.mgmt.External.${randomUUID()}`;
  const api = (method: 'POST' | 'PUT', url: string, payload?: object) => t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });
  const request = await api('POST', '/apple/push-certificate/request');
  if (request.statusCode !== 201) throw new Error(`push certificate request answered ${request.statusCode}`);
  const upload = await api('PUT', '/apple/push-certificate', { certificatePem: signPushCsr(request.json<{ csrPem: string }>().csrPem, topic) });
  if (upload.statusCode !== 200 || upload.json<{ topic: string }>().topic !== topic) throw new Error(`push certificate upload answered ${upload.statusCode}`);

  const transport: Transport = async (method, url, body, headers) => {
    const r = await fetch(`${base}${url}`, { method, body, headers });
    return { status: r.status, body: await r.text() };
  };
  async function scepEnrolled() {
    const [row] = await db.insert(devices).values({ organisationId: org.id, schoolId: school.id, platform: 'ios', name: 'iPad (enrolling)' }).returning();
    const key = await newDeviceKey();
    const issued = await t.services.pki.issueDeviceCertificate(createPublicKey(key).export({ type: 'spki', format: 'der' }), row!.id);
    await db.insert(deviceCertificates).values({ deviceId: row!.id, serialHex: issued.serialHex, fingerprintSha256: issued.fingerprintSha256, notBefore: issued.notBefore, notAfter: issued.notAfter });
    return { device: new AppleDevice(transport, issued.certPem, key, topic), deviceId: row!.id };
  }
  return {
    env,
    t,
    apns,
    base,
    transport,
    org,
    school,
    admin,
    topic,
    scepEnrolled,
    async enrolled() {
      const e = await scepEnrolled();
      for (const answer of [await e.device.authenticate(), await e.device.tokenUpdate()]) {
        if (answer.status !== 200) throw new Error(`check-in answered ${answer.status}: ${answer.body}`);
      }
      return e;
    },
    async close() {
      await t.close();
      await env.cleanup();
      await apns.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
