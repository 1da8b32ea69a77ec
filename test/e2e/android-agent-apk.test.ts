import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSchema } from '../../agent-protocol/src';
import { provisioningPayload } from '../../server/platforms/agent/provisioning-qr';

/**
 * The agent APK that `npm run build:agent` built (scripts/setup.sh builds it, so that tests do not
 * pay for the build): Debian's tools check it, and its signing certificate gives the checksum a
 * provisioning QR code must carry.
 */
const ROOT = join(__dirname, '../..');
const APK = join(ROOT, 'dist/agent/cartable-agent.apk');

beforeAll(() => {
  if (!existsSync(APK)) throw new Error(`${APK} is missing: build it with npm run build:agent (scripts/setup.sh does)`);
});

describe('the Android agent APK', () => {
  it('is signed, aligned, a device admin, and ships only the agent’s own classes', () => {
    const out = execFileSync('bash', [join(ROOT, 'agent-protocol/android/check-apk.sh'), APK], { encoding: 'utf8' });
    expect(out).toContain('APK checks passed');
  });

  it('gives the provisioning checksum the build printed, which makes a valid QR code with the agent’s component', () => {
    const certs = execFileSync('apksigner', ['verify', '--print-certs', APK], { encoding: 'utf8' });
    const digest = /SHA-256 digest: ([0-9a-f]{64})/.exec(certs)?.[1];
    expect(digest).toBeDefined();
    const checksum = Buffer.from(digest!, 'hex').toString('base64url');
    expect(readFileSync(`${APK}.checksum`, 'utf8').trim()).toBe(checksum);
    expect(execFileSync('aapt', ['dump', 'badging', APK], { encoding: 'utf8' })).toContain("package: name='fr.cartable.agent'");

    const payload = provisioningPayload('https://mdm.example.org', {
      agentPackage: { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/files/cartable-agent.apk', signatureChecksum: checksum },
      token: 'Zk9q3vR2xW8pL4nB6yT1cH5jM0aS7dFe',
      extras: {},
    });
    expect(validateSchema('ProvisioningQr', payload).ok).toBe(true);
  });
});
