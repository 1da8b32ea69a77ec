import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecurityLevel } from '@peculiar/asn1-android';
import { attestationChallenge } from '../../agent-protocol/src';
import { deviceProfile } from '../../agent-protocol/simulator/device-profile';
import { createCsr } from '../../server/infra/pki';
import { attestationChain, attestationRoot } from '../helpers/attestation-chain';
import { createPrincipalToken } from '../helpers/auth';
import { startAgentWorld, type AgentWorld } from './agent-harness';

/**
 * Keystore key attestation at enrollment (agent protocol §7.6): verified against the trusted
 * roots and recorded with the device, never a reason to refuse a tablet.
 */
let w: AgentWorld;
let bearer: string;
let dir: string;
const root = attestationRoot();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cartable-attestation-'));
  writeFileSync(join(dir, 'roots.pem'), root.pem);
  w = await startAgentWorld({ AGENT_ATTESTATION_ROOTS_FILE: join(dir, 'roots.pem') });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await w?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Enrolls a tablet with a fresh key and the chain `chainFor` builds for it; returns what administrators see. */
async function enroll(chainFor?: (spki: Buffer, serial: string) => string[]): Promise<Record<string, unknown>> {
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = keyPair.publicKey.export({ type: 'spki', format: 'der' });
  const profile = deviceProfile(Math.floor(Math.random() * 1e6));
  const serial = `ATT${randomBytes(5).toString('hex')}`;
  const body = {
    token: w.token,
    csr: createCsr({ keyPair, commonName: 'fr.cartable.agent' }),
    hardware: { ...profile.hardware, serial },
    agent: profile.agent,
    ...(chainFor ? { attestation: { certificateChain: chainFor(spki, serial) } } : {}),
  };
  const res = await fetch(`${w.url}/agent/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  const { deviceId } = (await res.json()) as { deviceId: string };
  const device = await w.t.app.inject({ method: 'GET', url: `/api/v1/devices/${deviceId}`, headers: { authorization: `Bearer ${bearer}` } });
  return (device.json() as { facts: Record<string, unknown> }).facts.attestation as Record<string, unknown>;
}

describe('key attestation at enrollment', () => {
  it('records a verified attestation with its security levels, root of trust and attested serial', async () => {
    const attestation = await enroll((spki, serial) => attestationChain(root, { spki, challenge: attestationChallenge(w.token), serial, level: SecurityLevel.strongBox }));
    expect(attestation).toEqual({
      result: 'verified',
      attestationSecurityLevel: 'StrongBox',
      keymasterSecurityLevel: 'StrongBox',
      verifiedBootState: 'Verified',
      deviceLocked: true,
      osVersion: 140000,
      osPatchLevel: 202610,
      attestedSerial: expect.stringMatching(/^ATT/),
      serialMatches: true,
      revocationChecked: false,
    });
  });

  it('records why an attestation failed, and enrolls the tablet all the same', async () => {
    const challenge = attestationChallenge(w.token);
    expect(await enroll((spki) => attestationChain(root, { spki, challenge: attestationChallenge('another token') }))).toEqual({ result: 'failed', reason: 'challenge_mismatch' });
    expect(await enroll((spki) => attestationChain(attestationRoot(), { spki, challenge }))).toEqual({ result: 'failed', reason: 'unknown_root' });
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    expect(await enroll(() => attestationChain(root, { spki: otherKey, challenge }))).toEqual({ result: 'failed', reason: 'key_mismatch' });
    expect(await enroll((spki) => attestationChain(root, { spki, challenge }).reverse())).toEqual({ result: 'failed', reason: 'bad_chain' });
    expect(await enroll(() => [randomBytes(64).toString('base64')])).toEqual({ result: 'failed', reason: 'malformed' });
  });

  it('records an enrollment without attestation as absent', async () => {
    expect(await enroll()).toEqual({ result: 'absent' });
  });
});
