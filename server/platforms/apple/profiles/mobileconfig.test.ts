import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plist from 'plist';
import { createCa, decryptKey, encryptKey, issueSigningCertificate } from '../../../infra/pki';
import { expectGolden, fixtureProfile } from '../../../../test/helpers/golden';
import { compileMobileconfig, signMobileconfig } from './mobileconfig.compiler';

type Dict = Record<string, unknown>;
const parse = (xml: string) => plist.parse(xml) as Dict;
const payloads = (xml: string) => (parse(xml).PayloadContent as Dict[]) ?? [];
const byType = (xml: string, type: string) => payloads(xml).find((p) => p.PayloadType === type)!;

describe('compileMobileconfig', () => {
  const complete = fixtureProfile('complete');

  it('matches the reviewed golden files', () => {
    expectGolden('complete.mobileconfig', compileMobileconfig(complete).output.xml);
    expectGolden('allow-list.mobileconfig', compileMobileconfig(fixtureProfile('allow-list')).output.xml);
  });

  it('gives payloads Apple’s types and keys, read back with the plist library', () => {
    const { xml } = compileMobileconfig(complete).output;
    const top = parse(xml);
    expect(top).toMatchObject({ PayloadType: 'Configuration', PayloadVersion: 1, PayloadIdentifier: 'fr.cartable.profile.complet', PayloadRemovalDisallowed: true });
    expect(payloads(xml).map((p) => p.PayloadType)).toEqual([
      'com.apple.security.root',
      'com.apple.security.root',
      'com.apple.wifi.managed',
      'com.apple.wifi.managed',
      'com.apple.wifi.managed',
      'com.apple.wifi.managed',
      'com.apple.proxy.http.global',
      'com.apple.webcontent-filter',
      'com.apple.applicationaccess',
      'com.apple.app.lock',
      'com.apple.shareddeviceconfiguration',
      'com.apple.mobiledevice.passwordpolicy',
    ]);
    const [radiusCa] = payloads(xml);
    expect(Buffer.isBuffer(radiusCa!.PayloadContent)).toBe(true);
    const eapNetwork = payloads(xml).find((p) => p.SSID_STR === 'Ecole-Radius')!;
    expect(eapNetwork).toMatchObject({ EncryptionType: 'WPA2', ProxyType: 'Manual', ProxyServer: 'proxy.agglo.example', ProxyServerPort: 3128 });
    expect(eapNetwork.EAPClientConfiguration).toEqual({
      AcceptEAPTypes: [21],
      TTLSInnerAuthentication: 'PAP',
      TLSTrustedServerNames: ['radius.agglo.example'],
      PayloadCertificateAnchorUUID: [radiusCa!.PayloadUUID],
      UserName: 'tablette',
      UserPassword: 'secret',
      OuterIdentity: 'anonyme',
    });
    expect(payloads(xml).find((p) => p.SSID_STR === 'Invites & <Ecole>')).toMatchObject({ EncryptionType: 'None' });
    expect(byType(xml, 'com.apple.webcontent-filter')).toMatchObject({ FilterType: 'BuiltIn', AutoFilterEnabled: true, DenyListURLs: ['jeux.example', 'video.example'] });
    expect(byType(xml, 'com.apple.applicationaccess')).toMatchObject({ allowCamera: false, allowUIAppInstallation: false, allowAccountModification: false, allowWallpaperModification: true });
    expect(byType(xml, 'com.apple.app.lock')).toMatchObject({ App: { Identifier: 'fr.example.eval', Options: { DisableVolumeButtons: true, DisableAutoLock: true, DisableDeviceRotation: true } } });
    expect(byType(xml, 'com.apple.shareddeviceconfiguration')).toMatchObject({ LockScreenFootnote: "Propriété de l'agglo – 01 23 45 67 89" });
    expect(byType(xml, 'com.apple.mobiledevice.passwordpolicy')).toMatchObject({ forcePIN: true, minLength: 6, requireAlphanumeric: true, maxInactivity: 7 });
    const allowList = compileMobileconfig(fixtureProfile('allow-list')).output.xml;
    expect(byType(allowList, 'com.apple.webcontent-filter')).toMatchObject({ AutoFilterEnabled: false, AllowListBookmarks: [{ URL: 'https://www.lumni.fr/', Title: 'Lumni' }, { URL: 'https://ent.agglo.example/accueil', Title: 'ENT' }] });
  });

  it('keeps identifiers and UUIDs across recompiles of one version, and changes the UUIDs with the version', () => {
    const uuids = (xml: string) => [parse(xml).PayloadUUID, ...payloads(xml).map((p) => p.PayloadUUID)] as string[];
    const first = compileMobileconfig(complete).output.xml;
    expect(compileMobileconfig(structuredClone(complete)).output.xml).toBe(first);
    expect(new Set(uuids(first)).size).toBe(uuids(first).length);
    for (const uuid of uuids(first)) expect(uuid).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    const next = compileMobileconfig({ ...complete, version: 4 }).output.xml;
    expect(payloads(next).map((p) => p.PayloadIdentifier)).toEqual(payloads(first).map((p) => p.PayloadIdentifier));
    expect(uuids(next).filter((u) => uuids(first).includes(u))).toEqual([]);
  });

  it('lists, field by field, what iPadOS cannot express', () => {
    expect(compileMobileconfig(complete).warnings).toEqual([
      { path: '/proxy', message: 'the global HTTP proxy applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/proxy/excludedHosts', message: expect.stringMatching(/^the global HTTP proxy of iPadOS has no list of hosts reached directly/) },
      { path: '/webFilter', message: 'the built-in web filter applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/restrictions/appStore', message: 'applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/restrictions/appRemoval', message: 'applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/restrictions/accountChanges', message: 'applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/restrictions/factoryReset', message: 'applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/restrictions/removeManagement', message: expect.stringMatching(/^iPadOS keeps management only when the tablet enrolled through Apple School Manager/) },
      { path: '/kiosk', message: 'single-app mode applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/supportMessage', message: 'iPadOS shows no custom message on blocked settings' },
      { path: '/lockScreenMessage', message: 'the lock screen footnote applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
    ]);
    expect(compileMobileconfig(fixtureProfile('allow-list')).warnings).toEqual([
      { path: '/webFilter', message: 'the built-in web filter applies to supervised iPads only (Apple School Manager or Apple Configurator)' },
      { path: '/webFilter/blockAdultContent', message: 'has no effect with allow_list_only on iPadOS: only the allowed sites open' },
      { path: '/kiosk/apps/ios', message: 'no iPad app given: single-app mode is not applied on iPads' },
    ]);
  });
});

describe('signMobileconfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cartable-mobileconfig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives CMS SignedData that openssl verifies against the CA, with the profile byte for byte inside', async () => {
    const ca = await createCa({ commonName: 'Test CA', organisation: 'Cartable', validityYears: 1 });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const caKey = decryptKey(encryptKey(ca.keyPem, 'secret'), 'secret');
    const signer = issueSigningCertificate({ caCertPem: ca.certPem, caKey, subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: 'Profile signing', validityDays: 30 });
    const { xml } = compileMobileconfig(fixtureProfile('complete')).output;
    const signed = signMobileconfig(xml, { certPem: signer.certPem, key: privateKey, chainPem: [ca.certPem] });

    writeFileSync(join(dir, 'ca.pem'), ca.certPem);
    writeFileSync(join(dir, 'profile.mobileconfig'), signed);
    const verify = (file: string) =>
      execFileSync('openssl', ['cms', '-verify', '-CAfile', join(dir, 'ca.pem'), '-inform', 'DER', '-in', join(dir, file), '-out', join(dir, 'content.xml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    verify('profile.mobileconfig');
    expect(readFileSync(join(dir, 'content.xml'), 'utf8')).toBe(xml);

    const tampered = Buffer.from(signed);
    const at = tampered.indexOf(Buffer.from('Ecole-PSK'));
    tampered[at] = 'X'.charCodeAt(0);
    writeFileSync(join(dir, 'tampered.mobileconfig'), tampered);
    expect(() => verify('tampered.mobileconfig')).toThrow(/Verification failure|digest failure/i);

    const other = await createCa({ commonName: 'Other CA', organisation: 'Elsewhere', validityYears: 1 });
    writeFileSync(join(dir, 'ca.pem'), other.certPem);
    expect(() => verify('profile.mobileconfig')).toThrow(/certificate verify error|unable to get local issuer/i);
  });
});
