import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CsrError, parseCsr } from './index';

/** A request as a real Windows 10 (19043) enrollment client sent it: CN "GUID!DeviceID" plus a NUL, signed with SHA-1 under the OIW identifier. */
const captured = readFileSync(join(__dirname, '../../../test/fixtures/windows/capture-csr.b64'), 'utf8').trim();
const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${captured.replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE REQUEST-----\n`;

describe('a Windows enrollment request', () => {
  it('parses and proves its key when SHA-1 is allowed, odd common name and all', () => {
    const csr = parseCsr(pem, { allowSha1: true });
    expect(csr.keyType).toBe('rsa');
    expect(csr.subject.CN ?? Object.values(csr.subject)[0]).toBe('562A7F9A-6CD8-40B0-9E7E-0DBDD8!B5B954E81FBCB94EB79BD08BE625F4EE\u0000');
  });

  it('is refused where SHA-1 is not allowed', () => {
    expect(() => parseCsr(pem)).toThrow(CsrError);
  });

  it('is refused once a byte of what it signs changes', () => {
    const der = Buffer.from(captured, 'base64');
    // A byte inside the subject's common name.
    der[40] = der[40]! ^ 0x01;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect(() => parseCsr(tampered, { allowSha1: true })).toThrow(expect.objectContaining({ reason: 'bad_signature' }));
  });
});
