import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkProfile, validate } from './profile-validation';

const template = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'profiles', `${name}.json`), 'utf8')) as Record<string, unknown>;
const radiusCa = (template('wifi-ecole-radius').certificates as Array<{ pem: string }>)[0]!.pem;

const base = { schemaVersion: 1, id: 'essai', version: 1, name: 'Essai' };

describe('validate(profile)', () => {
  it('accepts a minimal profile and a full one', () => {
    expect(validate(base)).toEqual([]);
    expect(checkProfile(template('wifi-ecole-radius'))).toMatchObject({ ok: true });
  });

  it('names the JSON path of each shape problem, once per path', () => {
    const problems = validate({
      ...base,
      id: 'Pas Un Id',
      wifi: [{ ssid: 'A', security: 'wep' }],
      restrictions: { camera: 'non', cammera: false },
      webFilter: { mode: 'deny_list', denyList: ['*.jeux.example'] },
    });
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['/id', '/wifi/0/security', '/restrictions/camera', '/restrictions/cammera', '/webFilter/denyList/0']));
    expect(new Set(paths).size).toBe(paths.length);
    expect(problems.find((p) => p.path === '/wifi/0/security')!.message).toMatch(/union.*personal/i);
  });

  it('reports a missing top-level field at its own path', () => {
    expect(validate({ schemaVersion: 1, id: 'x1', version: 1 })).toContainEqual({ path: '/name', message: expect.stringMatching(/required/i) });
  });

  it('checks the rules between fields', () => {
    const problems = validate({
      ...base,
      certificates: [
        { id: 'ca', name: 'CA', pem: radiusCa },
        { id: 'ca', name: 'CA encore', pem: 'pas un certificat' },
      ],
      wifi: [
        { ssid: 'Ecole', security: 'wpa2' },
        { ssid: 'Ecole', security: 'open', password: '12345678' },
        { ssid: 'Radius', security: 'eap', eap: { method: 'peap', caCertificates: ['inconnu'], serverNames: ['radius.example'] }, proxy: { port: 8080 } },
        { ssid: 'Élève-ÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉÉ', security: 'wpa3', password: '12345678', eap: { method: 'ttls', caCertificates: ['ca'], serverNames: ['r.example'] } },
      ],
      proxy: { host: 'proxy.example', port: 3128, pacUrl: 'https://proxy.example/proxy.pac' },
      webFilter: { mode: 'allow_list_only', denyList: ['jeux.example'] },
      kiosk: { apps: {} },
      passcode: { required: false, minLength: 6 },
    });
    expect(problems).toEqual([
      { path: '/certificates/1/id', message: 'duplicate certificate id "ca"' },
      { path: '/certificates/1/pem', message: 'is not a PEM certificate' },
      { path: '/wifi/0/password', message: 'is required for security wpa2' },
      { path: '/wifi/1/ssid', message: 'duplicate network "Ecole"' },
      { path: '/wifi/1/password', message: 'is not used with security open' },
      { path: '/wifi/2/eap/caCertificates/0', message: 'no certificate with id "inconnu" in certificates' },
      { path: '/wifi/2/proxy/host', message: 'is required with port' },
      { path: '/wifi/3/ssid', message: 'must be at most 32 bytes in UTF-8' },
      { path: '/wifi/3/eap', message: 'is only used with security eap, not wpa3' },
      { path: '/proxy/pacUrl', message: 'give host and port, or pacUrl, not both' },
      { path: '/webFilter/allowList', message: 'is required when mode is allow_list_only' },
      { path: '/webFilter/denyList', message: 'is only used when mode is deny_list' },
      { path: '/kiosk/apps', message: 'names no app: give at least one of ios, android, windows' },
      { path: '/passcode/minLength', message: 'is only used when required is true' },
    ]);
  });

  it('refuses a certificate that is not a CA', () => {
    const leaf = readFileSync(join(__dirname, '..', '..', '..', 'test', 'fixtures', 'profiles', 'leaf-certificate.pem'), 'utf8');
    expect(validate({ ...base, certificates: [{ id: 'x', name: 'x', pem: leaf }] })).toEqual([
      { path: '/certificates/0/pem', message: 'is not a CA certificate (basicConstraints CA:TRUE)' },
    ]);
  });
});
