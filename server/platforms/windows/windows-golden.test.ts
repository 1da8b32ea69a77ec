import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueDeviceCertificate } from '../../infra/pki';
import { checkProfile } from '../../modules/profiles/profile-validation';
import { provisioningDoc } from './enrollment/provisioning-doc';
import { buildSyncML, parseSyncML } from './management/syncml-message';
import { windowsCommands } from './windows-commands';

const GOLDEN = join(__dirname, '../../../test/fixtures/windows/golden');

/** Compares with the reviewed file; `UPDATE_GOLDEN=1` rewrites it, and the diff is reviewed in the commit. */
function expectGolden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  if (!existsSync(file)) throw new Error(`no golden file ${file}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/** The reviewed school Wi-Fi template, as the catalog loads it. */
function schoolWifi() {
  const checked = checkProfile(JSON.parse(readFileSync(join(__dirname, '../../../profiles/wifi-ecole.json'), 'utf8')));
  if (!checked.ok) throw new Error('profiles/wifi-ecole.json is invalid');
  return checked.profile;
}

const DEVICE_ID = '7d1f1b8e-2b7c-4a53-9d0e-3f1d2a6c9b10';
const COMMAND_ID = '0a6f7c2e-5b1d-4c8e-9f3a-1e2d3c4b5a69';

describe('Windows wire format', () => {
  it('the provisioning document keeps its shape: CA, certificate, DM account with digest, poll schedule', async () => {
    const ca = await createCa({ commonName: 'Cartable test CA', organisation: 'Cartable', validityYears: 1 });
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const issued = issueDeviceCertificate({ caCertPem: ca.certPem, caKey: createPrivateKey(ca.keyPem), subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: DEVICE_ID, validityDays: 365 });
    const doc = provisioningDoc({
      caCertPem: ca.certPem,
      certificatePem: issued.certPem,
      store: 'User',
      managementUrl: 'https://mdm.agglo.example.fr/ManagementServer/MDM.svc',
      deviceId: DEVICE_ID,
      digestUser: DEVICE_ID,
      digestSecret: 'secret-of-the-device',
      poll: { firstIntervalMin: 3, firstRetries: 10, secondIntervalMin: 15, secondRetries: 8, remainingIntervalMin: 120 },
    });
    // Keys are fresh at each run: their certificates and thumbprints are named, the rest is pinned.
    let pinned = doc;
    for (const [pem, name] of [[ca.certPem, 'CA'], [issued.certPem, 'DEVICE']] as const) {
      const x = new X509Certificate(pem);
      pinned = pinned.replaceAll(x.raw.toString('base64'), `{${name}_DER_B64}`).replaceAll(x.fingerprint.replaceAll(':', ''), `{${name}_SHA1}`);
    }
    expectGolden('provisioning-doc.xml', `${pinned}\n`);
  });

  it('a session reply keeps its shape: statuses, then a refresh, a reboot and a Wi-Fi profile with their CmdIDs', () => {
    const device = readFileSync(join(GOLDEN, 'session-device-message.xml'), 'utf8');
    const message = parseSyncML(device);
    expect(message.commands.map((c) => `${c.element}:${c.cmdId}`)).toEqual(['Alert:2', 'Alert:3', 'Replace:4']);
    const now = new Date('2026-01-01T00:00:00Z');
    const rendered = [
      ...windowsCommands({ id: COMMAND_ID, kind: 'refresh_inventory', params: {}, createdAt: now, expiresAt: now }),
      ...windowsCommands({ id: COMMAND_ID, kind: 'reboot', params: {}, createdAt: now, expiresAt: now }),
      ...windowsCommands({ id: COMMAND_ID, kind: 'install_profile', params: { profile: schoolWifi() }, createdAt: now, expiresAt: now }),
    ];
    const reply = buildSyncML(
      { sessionId: message.sessionId, msgId: message.msgId, deviceId: message.source, serverUrl: 'https://mdm.agglo.example.fr/ManagementServer/MDM.svc' },
      [{ cmdRef: '0', cmd: 'SyncHdr', code: 212, chal: { nonce: 'bm9uY2U=' } }, ...message.commands.map((c) => ({ cmdRef: c.cmdId, cmd: c.element, code: 200 }))],
      rendered.map((command, i) => ({ cmdId: `${COMMAND_ID}.${i}`, command })),
    );
    expectGolden('session-reply.xml', `${reply}\n`);
  });
});
