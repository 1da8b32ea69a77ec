import { X509Certificate, createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parseCsr } from '../../server/infra/pki/csr';
import {
  CANCELLABLE_COMMAND_STATES,
  COMMAND_RESULT_STATUSES,
  COMMAND_STATES,
  FINAL_COMMAND_STATES,
  MESSAGE_DIRECTION,
  OUTBOX_TYPES,
  UNSEQUENCED_OUTBOX_TYPES,
  attestationChallenge,
  commandStateForResult,
  reenrollSigningInput,
  renewSigningInput,
  COMMAND_KINDS,
  CommandParams,
  ERROR_CODES,
  ERROR_CODE_INFO,
  HttpBodies,
  MAX_FRAME_BYTES,
  MESSAGE_TYPES,
  MessageTypes,
  NamedSchemas,
  TIMERS,
  WS_CLOSE,
  authSigningInput,
  backoffDelayMs,
  createMessage,
  isCommandExpired,
  parseEnvelope,
  serializeMessage,
  stripUnknownFields,
  validateCommandParams,
  validateCommandResultData,
  validateMessage,
  validateSchema,
  type SchemaName,
} from './index';

const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const SCHEMA_DIR = join(ROOT, 'schema');

interface Example {
  name: string;
  line: number;
  value: unknown;
}

/** Every ```json block of the README, with the name of the `<!-- example: NAME -->` line before it. */
function readmeExamples(): Example[] {
  const lines = README.split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```json') continue;
    let j = i - 1;
    while (j >= 0 && lines[j]?.trim() === '') j--;
    const marker = /^<!--\s*example:\s*([\w.]+)\s*-->$/.exec(lines[j]?.trim() ?? '');
    const end = lines.findIndex((l, k) => k > i && l.trim() === '```');
    const text = lines.slice(i + 1, end).join('\n');
    out.push({ name: marker?.[1] ?? '(missing marker)', line: i + 1, value: JSON.parse(text) as unknown });
    i = end;
  }
  return out;
}

const examples = readmeExamples();
const byName = (name: string) => examples.filter((e) => e.name === name).map((e) => e.value);
const isMessageName = (n: string): n is keyof typeof MessageTypes => n in MessageTypes;
const isSchemaName = (n: string): n is SchemaName => n in NamedSchemas;

const DEVICE = 'd7c55fbd-73bf-4f74-a953-439c77cdf19c';
const ID = '0f721f42-1c98-4e53-863d-4a93416286f7';
const frame = (o: unknown) => JSON.stringify(o);

describe('README examples', () => {
  it('finds examples, each preceded by an <!-- example: NAME --> marker', () => {
    expect(examples.length).toBeGreaterThan(30);
    for (const e of examples) expect({ line: e.line, name: e.name }).toEqual({ line: e.line, name: expect.stringMatching(/^[\w.]+$/) });
  });

  it.each(examples.map((e) => [`${e.name} (line ${e.line})`, e] as const))('%s validates', (_label, e) => {
    if (isMessageName(e.name)) {
      const r = parseEnvelope(frame(e.value));
      if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
      expect(r.known).toBe(true);
      expect(r.type).toBe(e.name);
      if (r.known && r.type === 'command') {
        const p = validateCommandParams(r.body.kind, r.body.params);
        expect(p).toEqual({ ok: true, known: true });
      }
      if (r.known && r.type === 'command.result' && r.body.result && 'location' in r.body.result) {
        expect(validateCommandResultData('locate', r.body.result).ok).toBe(true);
      }
    } else if (isSchemaName(e.name)) {
      const r = validateSchema(e.name, e.value);
      if (!r.ok) throw new Error(r.errors.join('; '));
      if (e.name === 'ExchangeRequest' || e.name === 'ExchangeResponse') {
        const from = e.name === 'ExchangeRequest' ? 'agent' : 'server';
        for (const m of (e.value as { messages: unknown[] }).messages) {
          const mr = validateMessage(m, { from });
          expect(mr.ok && mr.known).toBe(true);
        }
      }
    } else {
      throw new Error(`unknown example name "${e.name}" at line ${e.line}`);
    }
  });

  it('covers every message type, HTTP body and the QR payload', () => {
    const names = new Set(examples.map((e) => e.name));
    for (const t of MESSAGE_TYPES) expect({ t, present: names.has(t) }).toEqual({ t, present: true });
    for (const n of [...Object.keys(HttpBodies), 'ProvisioningQr']) expect({ n, present: names.has(n) }).toEqual({ n, present: true });
  });

  it('lists every message type in the table of §4.1', () => {
    const table = README.slice(README.indexOf('### 4.1 Message types'), README.indexOf('### 4.2 Forward compatibility'));
    for (const t of MESSAGE_TYPES) expect({ t, listed: new RegExp(`^\\| (\`\\w+\` / )?\`${t}\`( / \`\\w+\`)? \\|`, 'm').test(table) }).toEqual({ t, listed: true });
  });

  it('documents every command kind, error code and close code', () => {
    for (const k of COMMAND_KINDS) expect(README).toContain(`\`${k}\``);
    for (const code of Object.keys(ERROR_CODE_INFO)) expect(README).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'));
    for (const close of Object.values(WS_CLOSE)) expect(README).toMatch(new RegExp(`^\\| \`${close}\` \\|`, 'm'));
  });

  it('validates against the generated JSON Schema files too (draft-07, Ajv)', () => {
    const index = JSON.parse(readFileSync(join(SCHEMA_DIR, 'index.json'), 'utf8')) as {
      envelope: string;
      messages: Record<string, string>;
      http: Record<string, string>;
      other: Record<string, string>;
    };
    const ajv = new Ajv({ strict: true, allErrors: true });
    const load = (file: string) => ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as object);
    const envelope = load(index.envelope);
    for (const e of examples) {
      const file = index.messages[e.name] ?? index.http[e.name] ?? index.other[e.name];
      if (!file) throw new Error(`no schema file for ${e.name}`);
      const check = load(file);
      if (index.messages[e.name]) {
        expect(envelope(e.value)).toBe(true);
        expect(check((e.value as { body: unknown }).body)).toBe(true);
      } else {
        expect(check(e.value)).toBe(true);
      }
    }
  });

  it('keeps the generated JSON Schema files in sync with the TypeBox schemas', () => {
    const index = JSON.parse(readFileSync(join(SCHEMA_DIR, 'index.json'), 'utf8')) as { messages: Record<string, string> };
    for (const [type, schema] of Object.entries(MessageTypes)) {
      const file = JSON.parse(readFileSync(join(SCHEMA_DIR, index.messages[type] ?? 'missing'), 'utf8')) as Record<string, unknown>;
      const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
      expect({ type, properties: file.properties, required: file.required }).toEqual({ type, properties: plain.properties, required: plain.required });
    }
  });
});

describe('authentication test vector', () => {
  const hello = byName('hello')[0] as { body: { certificate: string; signature: string; deviceId: string } };
  const challenge = byName('challenge')[0] as { body: { nonce: string } };
  const enroll = byName('EnrollResponse')[0] as { certificate: string; chain: string[]; deviceId: string };
  const session = byName('SessionRequest')[0] as { certificate: string; nonce: string; signature: string; deviceId: string };
  const cert = new X509Certificate(hello.body.certificate);

  it('signs "cartable-agent-auth:v1:" + nonce + ":" + deviceId', () => {
    expect(authSigningInput('abc=', DEVICE)).toBe(`cartable-agent-auth:v1:abc=:${DEVICE}`);
    const data = Buffer.from(authSigningInput(challenge.body.nonce, hello.body.deviceId), 'utf8');
    expect(verify('sha256', data, cert.publicKey, Buffer.from(hello.body.signature, 'base64'))).toBe(true);
    const data2 = Buffer.from(authSigningInput(session.nonce, session.deviceId), 'utf8');
    expect(verify('sha256', data2, new X509Certificate(session.certificate).publicKey, Buffer.from(session.signature, 'base64'))).toBe(true);
  });

  it('uses a device certificate issued by the CA of the chain, with CN = deviceId', () => {
    const ca = new X509Certificate(enroll.chain[enroll.chain.length - 1] ?? '');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subject).toBe(`CN=${enroll.deviceId}`);
    expect(enroll.certificate).toBe(hello.body.certificate);
  });

  it('signs renewal and re-enrollment proofs with the current key, for a CSR of a new key certified by the same CA', () => {
    const renew = byName('certificate.renew')[0] as { id: string; body: { csr: string; signature: string } };
    const issued = byName('certificate.issued')[0] as { ref: string; body: { certificate: string; chain: string[] } };
    const reenroll = byName('EnrollRequest').find((e) => (e as { previous?: unknown }).previous) as {
      csr: string;
      previous: { deviceId: string; certificate: string; signature: string };
    };
    const relinked = byName('EnrollResponse').find((e) => (e as { previousDeviceId?: string }).previousDeviceId) as { deviceId: string; certificate: string; previousDeviceId: string };
    const ok = (data: string, sig: string) => verify('sha256', Buffer.from(data, 'utf8'), cert.publicKey, Buffer.from(sig, 'base64'));
    expect(ok(renewSigningInput(DEVICE, renew.body.csr), renew.body.signature)).toBe(true);
    expect(ok(renewSigningInput(DEVICE, `${renew.body.csr} `), renew.body.signature)).toBe(false);
    expect(reenroll.previous).toMatchObject({ deviceId: DEVICE, certificate: hello.body.certificate });
    expect(ok(reenrollSigningInput(DEVICE, reenroll.csr), reenroll.previous.signature)).toBe(true);
    // A proof for one purpose is no proof for the other.
    expect(ok(renewSigningInput(DEVICE, reenroll.csr), reenroll.previous.signature)).toBe(false);

    const csrKey = parseCsr(renew.body.csr).publicKeyDer;
    expect(csrKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(false);
    const ca = new X509Certificate(enroll.chain[enroll.chain.length - 1] ?? '');
    expect(issued.ref).toBe(renew.id);
    expect(issued.body.chain).toEqual(enroll.chain);
    for (const [pem, cn] of [[issued.body.certificate, DEVICE], [relinked.certificate, relinked.deviceId]] as const) {
      const c = new X509Certificate(pem);
      expect(c.verify(ca.publicKey)).toBe(true);
      expect(c.subject).toBe(`CN=${cn}`);
      expect(c.publicKey.export({ type: 'spki', format: 'der' }).equals(csrKey)).toBe(true);
    }
    expect(relinked.previousDeviceId).toBe(DEVICE);
    expect(parseCsr(reenroll.csr).publicKeyDer.equals(csrKey)).toBe(true);
  });

  it('uses 365-day device certificates', () => {
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(TIMERS.certificateValidityDays);
  });

  it('derives the attestation challenge from the enrollment token', () => {
    const c = attestationChallenge('Zk9q3vR2xW8pL4nB6yT1cH5jM0aS7dFe');
    expect(c).toHaveLength(32);
    expect(c.equals(attestationChallenge('Zk9q3vR2xW8pL4nB6yT1cH5jM0aS7dFe'))).toBe(true);
    expect(c.equals(attestationChallenge('another'))).toBe(false);
  });

  it('publishes the private key matching the certificate', () => {
    const pem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(README)?.[0] ?? '';
    const pub = createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
    expect(pub.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
  });
});

describe('forward compatibility', () => {
  it('tolerates unknown fields in the envelope, the body and nested objects', () => {
    const r = parseEnvelope(
      frame({
        type: 'report.status',
        id: ID,
        ts: '2026-12-01T08:00:00Z',
        body: { batteryLevel: 50, charging: 'ac', storageFreeBytes: 1, thermal: 'ok', wifi: { ssid: 'x', rssi: -50, bssid: 'y' } },
      }),
    );
    expect(r.ok && r.known).toBe(true);
  });

  it('accepts unknown types without validating their body', () => {
    const r = parseEnvelope(frame({ type: 'report.future_thing', id: ID, body: { anything: [1, 2] } }));
    expect(r).toMatchObject({ ok: true, known: false, type: 'report.future_thing', body: { anything: [1, 2] } });
  });

  it('treats a known type sent in the wrong direction as unknown when `from` is given', () => {
    const cmd = byName('command')[0];
    expect(parseEnvelope(frame(cmd), MAX_FRAME_BYTES, { from: 'agent' })).toMatchObject({ ok: true, known: false });
    expect(parseEnvelope(frame(cmd), MAX_FRAME_BYTES, { from: 'server' })).toMatchObject({ ok: true, known: true });
  });

  it('accepts unknown command kinds (answered UNSUPPORTED by the agent)', () => {
    expect(validateCommandParams('ring', {})).toEqual({ ok: true, known: false });
    expect(validateCommandParams('lost_mode_on', {})).toMatchObject({ ok: false, known: true });
    expect(Object.keys(CommandParams).sort()).toEqual([...COMMAND_KINDS].sort());
  });

  it('strips unknown fields but keeps free-form objects intact', () => {
    const body = {
      commandId: ID,
      kind: 'lock',
      params: { message: 'm', futureParam: 1 },
      issuedAt: '2026-12-01T08:00:00Z',
      expiresAt: '2026-12-01T08:10:00Z',
      extra: true,
    };
    const clean = stripUnknownFields('command', body);
    expect(clean).toEqual({ ...body, extra: undefined, params: { message: 'm', futureParam: 1 } });
    expect('extra' in clean).toBe(false);
    expect('extra' in body).toBe(true);
  });
});

describe('strict validation (§4.3)', () => {
  const enroll = () => structuredClone(byName('EnrollRequest')[0]) as { hardware: Record<string, unknown>; agent: Record<string, unknown> };

  it('never coerces a numeric string, a number or a string boolean', () => {
    const numeric = enroll();
    numeric.hardware.sdkInt = '34';
    expect(validateSchema('EnrollRequest', numeric)).toEqual({ ok: false, errors: [expect.stringMatching(/^\/hardware\/sdkInt: /)] });
    const body = { batteryLevel: '50', charging: 'ac', storageFreeBytes: 1 };
    expect(parseEnvelope(frame({ type: 'report.status', id: ID, body }))).toMatchObject({ ok: false, code: 'invalid_body' });
    const flag = { type: 'report.inventory', id: ID, body: { ...(byName('report.inventory')[0] as { body: object }).body, management: { deviceOwner: 'true', kioskActive: false } } };
    expect(parseEnvelope(frame(flag))).toMatchObject({ ok: false, code: 'invalid_body' });
    const zero = enroll();
    zero.agent.versionCode = '10000';
    expect(validateSchema('EnrollRequest', zero).ok).toBe(false);
  });

  it('leaves the input untouched (no defaults inserted, nothing converted)', () => {
    const value = enroll();
    const copy = structuredClone(value);
    validateSchema('EnrollRequest', value);
    expect(value).toEqual(copy);
  });

  it('never echoes an id that is not a UUID', () => {
    expect(validateMessage({ type: 'report.status', id: '42', body: {} })).toEqual(expect.objectContaining({ ok: false, code: 'invalid_envelope', id: undefined }));
    expect(validateMessage({ type: 'report.status', id: ID, body: {} })).toMatchObject({ ok: false, code: 'invalid_body', id: ID });
  });

  it('accepts cleartext URLs in the schemas (development) but nothing else', () => {
    const qr = structuredClone(byName('ProvisioningQr')[0]) as Record<string, unknown>;
    const bundle = qr['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE'] as Record<string, string>;
    bundle['fr.cartable.agent.SERVER_URL'] = 'http://192.168.1.20:3000';
    qr['android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION'] = 'http://192.168.1.20:3000/files/cartable-agent.apk';
    expect(validateSchema('ProvisioningQr', qr).ok).toBe(true);
    bundle['fr.cartable.agent.SERVER_URL'] = 'ftp://mdm.example.org';
    expect(validateSchema('ProvisioningQr', qr).ok).toBe(false);
  });
});

describe('revision 1.1 vocabulary', () => {
  it('maps every result status to a command state, a wipe executing being final', () => {
    for (const status of COMMAND_RESULT_STATUSES) expect(COMMAND_STATES).toContain(commandStateForResult('lock', status));
    expect(commandStateForResult('reboot', 'executing')).toBe('executing');
    expect(commandStateForResult('wipe', 'executing')).toBe('succeeded');
    expect(FINAL_COMMAND_STATES).not.toContain('executing');
    expect(CANCELLABLE_COMMAND_STATES.filter((s) => FINAL_COMMAND_STATES.includes(s))).toEqual([]);
    for (const state of COMMAND_STATES) expect(README).toMatch(new RegExp(`^\\| \`${state}\` \\| (yes|no) \\|`, 'm'));
  });

  it('routes outbox messages from the agent and numbers all of them but report.status', () => {
    for (const type of OUTBOX_TYPES) expect(MESSAGE_DIRECTION[type as keyof typeof MESSAGE_DIRECTION]).toBe('agent_to_server');
    expect([...UNSEQUENCED_OUTBOX_TYPES]).toEqual(['report.status']);
    const numbered = parseEnvelope(frame({ type: 'report.events', id: ID, seq: 0, body: { events: [{ kind: 'boot', at: '2026-12-01T08:00:00Z' }] } }));
    expect(numbered).toMatchObject({ ok: false, code: 'invalid_envelope' });
  });

  it('requires ref on certificate.issued', () => {
    const issued = structuredClone(byName('certificate.issued')[0]) as { ref?: string };
    delete issued.ref;
    expect(parseEnvelope(frame(issued))).toMatchObject({ ok: false, code: 'invalid_envelope' });
  });
});

describe('malformed messages', () => {
  const cases: [string, string, string | Buffer][] = [
    ['oversized frame', 'message_too_big', frame({ type: 'ping', id: ID, body: { pad: 'x'.repeat(MAX_FRAME_BYTES) } })],
    ['oversized in UTF-8 bytes', 'message_too_big', frame({ type: 'ping', id: ID, body: { pad: 'é'.repeat(MAX_FRAME_BYTES / 2) } })],
    ['oversized Buffer', 'message_too_big', Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20)],
    ['not JSON', 'invalid_json', '{"type":"ping",'],
    ['empty frame', 'invalid_json', ''],
    ['JSON array', 'invalid_envelope', '[]'],
    ['JSON null', 'invalid_envelope', 'null'],
    ['JSON string', 'invalid_envelope', '"hello"'],
    ['missing id', 'invalid_envelope', frame({ type: 'ping', body: {} })],
    ['id not a UUID', 'invalid_envelope', frame({ type: 'ping', id: '42', body: {} })],
    ['missing type', 'invalid_envelope', frame({ id: ID, body: {} })],
    ['bad type syntax', 'invalid_envelope', frame({ type: 'Report Status', id: ID, body: {} })],
    ['missing body', 'invalid_envelope', frame({ type: 'ping', id: ID })],
    ['body is an array', 'invalid_envelope', frame({ type: 'ping', id: ID, body: [] })],
    ['body is null', 'invalid_envelope', frame({ type: 'ping', id: ID, body: null })],
    ['ref not a UUID', 'invalid_envelope', frame({ type: 'pong', id: ID, ref: 'x', body: {} })],
    ['ack without ref', 'invalid_envelope', frame({ type: 'ack', id: ID, body: {} })],
    ['command.ack without ref', 'invalid_envelope', frame({ type: 'command.ack', id: ID, body: { commandId: ID } })],
    ['hello without signature', 'invalid_body', frame({ type: 'hello', id: ID, body: { deviceId: DEVICE } })],
    ['status with unknown charging value', 'invalid_body', frame({ type: 'report.status', id: ID, body: { batteryLevel: 5, charging: 'solar', storageFreeBytes: 1 } })],
    ['battery over 100', 'invalid_body', frame({ type: 'report.status', id: ID, body: { batteryLevel: 101, charging: 'ac', storageFreeBytes: 1 } })],
    ['result with unknown status', 'invalid_body', frame({ type: 'command.result', id: ID, body: { commandId: ID, status: 'done' } })],
    ['location out of range', 'invalid_body', frame({ type: 'report.location', id: ID, body: { lat: 91, lon: 0, accuracyM: 1, provider: 'gps', fixTime: '2026-12-01T08:00:00Z' } })],
    ['time without zone', 'invalid_body', frame({ type: 'challenge', id: ID, body: { nonce: 'I9TKKIvnyAOdlQW3Wccnse/0e2p8T/u+D6Vyf7GPQDo=', serverTime: '2026-12-01 08:00' } })],
  ];

  it.each(cases)('%s → %s', (_label, code, raw) => {
    const r = parseEnvelope(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it('returns the id and type of a rejected message when readable', () => {
    expect(parseEnvelope(frame({ type: 'hello', id: ID, body: {} }))).toMatchObject({ ok: false, code: 'invalid_body', id: ID, type: 'hello' });
  });

  it('honours a custom size limit', () => {
    expect(parseEnvelope(frame({ type: 'ping', id: ID, body: {} }), 10)).toMatchObject({ ok: false, code: 'message_too_big' });
  });
});

describe('helpers and constants', () => {
  it('creates, serialises and parses messages', () => {
    const m = createMessage('ack', {}, { ref: ID });
    const r = parseEnvelope(serializeMessage(m));
    expect(r).toMatchObject({ ok: true, known: true, type: 'ack', envelope: { ref: ID } });
    expect(() => serializeMessage(createMessage('ping', {}), 10)).toThrow(RangeError);
  });

  it('evaluates command expiry with the clock skew', () => {
    const c = { expiresAt: '2026-12-01T08:10:00Z' };
    const now = Date.parse('2026-12-01T08:05:00Z');
    expect(isCommandExpired(c, now)).toBe(false);
    expect(isCommandExpired(c, now, 6 * 60_000)).toBe(true);
    expect(isCommandExpired({ expiresAt: 'garbage' }, now)).toBe(true);
  });

  it('computes a full-jitter backoff capped at 5 minutes', () => {
    expect(backoffDelayMs(0, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelayMs(3, () => 0.5)).toBe(4000);
    expect(backoffDelayMs(30, () => 0.999999)).toBeLessThan(TIMERS.backoffMaxSec * 1000);
    expect(backoffDelayMs(30, () => 0)).toBe(0);
  });

  it('exposes consistent error codes', () => {
    for (const [k, v] of Object.entries(ERROR_CODES)) expect(v).toBe(k);
    expect(ERROR_CODE_INFO.auth_failed).toMatchObject({ http: 401, wsClose: WS_CLOSE.AUTH_FAILED });
    expect(ERROR_CODE_INFO.device_revoked).toMatchObject({ http: 403, wsClose: WS_CLOSE.DEVICE_REVOKED });
    expect(ERROR_CODE_INFO.message_too_big).toMatchObject({ http: 413, wsClose: WS_CLOSE.MESSAGE_TOO_BIG });
  });
});
