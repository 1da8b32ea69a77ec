import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, CsrError, parseCsr } from './index';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cartable-csr-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[], files: Record<string, string>): string {
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ecKeys(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

const unwrap = (pem: string): Buffer => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const wrap = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;

function csrFailure(pem: string): string {
  try {
    parseCsr(pem);
  } catch (error) {
    if (error instanceof CsrError) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('CSR', () => {
  it.each([
    ['EC P-256', () => ecKeys(), 'ec'],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'ec'],
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'rsa'],
  ])('round-trips %s and is accepted by openssl', (_label, keys, keyType) => {
    const keyPair = keys();
    const pem = createCsr({ keyPair, commonName: 'tab-0001' });
    const parsed = parseCsr(pem);
    expect(parsed.keyType).toBe(keyType);
    expect(parsed.subject).toEqual({ CN: 'tab-0001' });
    expect(parsed.publicKeyDer.equals(keyPair.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(openssl(['req', '-verify', '-noout', '-in', 'req.pem'], { 'req.pem': pem })).toBe('');
  });

  it('parses a CSR made by openssl with several subject attributes', () => {
    const key = ecKeys().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pem = openssl(['req', '-new', '-utf8', '-key', 'k.pem', '-sha256', '-subj', '/O=École/OU=CM2/CN=tab-0002'], { 'k.pem': key });
    expect(parseCsr(pem).subject).toEqual({ O: 'École', OU: 'CM2', CN: 'tab-0002' });
  });

  it('rejects a tampered CSR as bad_signature', () => {
    const der = unwrap(createCsr({ keyPair: ecKeys(), commonName: 'tab-aaaa' }));
    der.write('tab-bbbb', der.indexOf('tab-aaaa'));
    expect(csrFailure(wrap(der))).toBe('bad_signature');
  });

  it('rejects garbage and truncated input as malformed', () => {
    const der = unwrap(createCsr({ keyPair: ecKeys(), commonName: 'tab-0003' }));
    expect(csrFailure('hello')).toBe('malformed');
    expect(csrFailure('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----')).toBe('malformed');
    expect(csrFailure(wrap(der.subarray(0, 80)))).toBe('malformed');
    expect(csrFailure(wrap(ecKeys().publicKey.export({ type: 'spki', format: 'der' })))).toBe('malformed');
  });

  it('rejects weak and unsupported keys', () => {
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const req = (key: string) => openssl(['req', '-new', '-key', 'k.pem', '-subj', '/CN=x'], { 'k.pem': key });
    expect(csrFailure(req(rsa1024))).toBe('unsupported_key');
    expect(csrFailure(req(ed25519))).toBe('unsupported_key');
  });
});
