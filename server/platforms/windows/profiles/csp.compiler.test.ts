import { X509Certificate } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { expectGolden, fixtureProfile } from '../../../../test/helpers/golden';
import { compileWindowsCommands } from './csp.compiler';
import { renderSyncBody } from './syncml';

const sequential = (i: number) => String(i + 1);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false });
const ordered = new XMLParser({ preserveOrder: true, parseTagValue: false });

describe('compileWindowsCommands', () => {
  const complete = compileWindowsCommands(fixtureProfile('complete'));
  const allowList = compileWindowsCommands(fixtureProfile('allow-list'));

  it('matches the reviewed golden files', () => {
    expectGolden('complete.windows.xml', renderSyncBody(complete.output.install, sequential));
    expectGolden('complete.windows-remove.xml', renderSyncBody(complete.output.remove, sequential));
    expectGolden('allow-list.windows.xml', renderSyncBody(allowList.output.install, sequential));
  });

  it('renders SyncML whose commands keep their order, CmdIDs and escaped values', () => {
    const xml = renderSyncBody(complete.output.install, sequential);
    const body = ordered.parse(xml)[0].SyncBody as Array<Record<string, unknown>>;
    expect(body.map((node) => Object.keys(node)[0])).toEqual([...complete.output.install.map((c) => c.verb), 'Final']);
    const parsed = parser.parse(xml).SyncBody as Record<string, Array<{ CmdID: string; Item: { Target: { LocURI: string }; Meta?: { Format: { '#text': string; '@xmlns': string } }; Data?: string } }>>;
    const all = [...parsed.Add!, ...parsed.Replace!].sort((a, b) => Number(a.CmdID) - Number(b.CmdID));
    expect(all.map((c) => c.Item.Target.LocURI)).toEqual(complete.output.install.map((c) => c.locUri));
    expect(all.map((c) => c.Item.Data)).toEqual(complete.output.install.map((c) => c.data));
    expect(all[0]!.Item.Meta!.Format).toEqual({ '#text': 'b64', '@xmlns': 'syncml:metinf' });
  });

  it('uses the CSPs’ exact OMA-URIs', () => {
    const uris = complete.output.install.map((c) => `${c.verb} ${c.locUri}`);
    const [radius, proxy] = fixtureProfile('complete').certificates!.map((c) => new X509Certificate(c.pem).fingerprint.replace(/:/g, ''));
    expect(uris).toEqual([
      `Add ./Vendor/MSFT/RootCATrustedCertificates/Root/${radius}/EncodedCertificate`,
      `Add ./Vendor/MSFT/RootCATrustedCertificates/Root/${proxy}/EncodedCertificate`,
      'Add ./Vendor/MSFT/WiFi/Profile/Ecole-PSK/WlanXml',
      'Add ./Vendor/MSFT/WiFi/Profile/Ecole-PSK/ProxyPacUrl',
      'Add ./Vendor/MSFT/WiFi/Profile/Ecole-WPA3/WlanXml',
      'Add ./Vendor/MSFT/WiFi/Profile/Ecole-Radius/WlanXml',
      'Add ./Vendor/MSFT/WiFi/Profile/Ecole-Radius/Proxy',
      'Add ./Vendor/MSFT/WiFi/Profile/Invites%20%26%20%3CEcole%3E/WlanXml',
      'Replace ./Vendor/MSFT/NetworkProxy/ProxySettingsPerUser',
      'Replace ./Vendor/MSFT/NetworkProxy/AutoDetect',
      'Add ./Vendor/MSFT/NetworkProxy/ProxyServer/ProxyAddress',
      'Add ./Vendor/MSFT/NetworkProxy/ProxyServer/UseProxyForLocalAddresses',
      'Add ./Vendor/MSFT/NetworkProxy/ProxyServer/Exceptions',
      'Replace ./Vendor/MSFT/Policy/Config/Edge~Policy~microsoft_edge/URLBlocklist',
      'Replace ./Vendor/MSFT/Policy/Config/Camera/AllowCamera',
      'Replace ./Vendor/MSFT/Policy/Config/ApplicationManagement/AllowStore',
      'Replace ./Vendor/MSFT/Policy/Config/Accounts/AllowMicrosoftAccountConnection',
      'Replace ./Vendor/MSFT/Policy/Config/Accounts/AllowAddingNonMicrosoftAccountsManually',
      'Replace ./Vendor/MSFT/Policy/Config/Experience/AllowManualMDMUnenrollment',
      'Replace ./Vendor/MSFT/Policy/Config/Experience/AllowCortana',
      'Add ./Vendor/MSFT/AssignedAccess/Configuration',
      'Replace ./Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTitleForUsersAttemptingToLogOn',
      'Replace ./Vendor/MSFT/Policy/Config/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTextForUsersAttemptingToLogOn',
      'Replace ./Vendor/MSFT/Policy/Config/DeviceLock/DevicePasswordEnabled',
      'Replace ./Vendor/MSFT/Policy/Config/DeviceLock/MinDevicePasswordLength',
      'Replace ./Vendor/MSFT/Policy/Config/DeviceLock/AlphanumericDevicePasswordRequired',
      'Replace ./Vendor/MSFT/Policy/Config/DeviceLock/MaxInactivityTimeDeviceLock',
    ]);
    const byUri = (suffix: string) => complete.output.install.find((c) => c.locUri.endsWith(suffix))!.data;
    expect(byUri('/URLBlocklist')).toBe('<enabled/><data id="URLBlocklistDesc" value="1&#xF000;jeux.example&#xF000;2&#xF000;video.example"/>');
    expect(byUri('/Camera/AllowCamera')).toBe('0');
    expect(byUri('/Exceptions')).toBe('ent.agglo.example;*.education.gouv.fr');
    expect(complete.output.remove.map((c) => c.verb)).toEqual(complete.output.remove.map(() => 'Delete'));
    expect(complete.output.remove.at(-1)!.locUri).toBe(`./Vendor/MSFT/RootCATrustedCertificates/Root/${radius}`);
    expect(compileWindowsCommands(fixtureProfile('complete'))).toEqual(complete);
  });

  it('writes WLAN profiles Windows can read: SSID in hex, PSK or 802.1X with the CA thumbprint', () => {
    const wlan = (ssid: string) => parser.parse(complete.output.install.find((c) => c.locUri.endsWith(`/${encodeURIComponent(ssid)}/WlanXml`))!.data!).WLANProfile;
    expect(wlan('Ecole-PSK')).toMatchObject({ name: 'Ecole-PSK', SSIDConfig: { SSID: { hex: '45636F6C652D50534B' }, nonBroadcast: 'false' }, connectionMode: 'manual', MSM: { security: { authEncryption: { authentication: 'WPA2PSK', encryption: 'AES' }, sharedKey: { keyMaterial: 'phrase de passe', protected: 'false' } } } });
    expect(wlan('Ecole-WPA3')).toMatchObject({ SSIDConfig: { nonBroadcast: 'true' }, MSM: { security: { authEncryption: { authentication: 'WPA3SAE' } } } });
    expect(wlan('Invites & <Ecole>')).toMatchObject({ name: 'Invites & <Ecole>', MSM: { security: { authEncryption: { authentication: 'open', encryption: 'none' } } } });
    const radius = wlan('Ecole-Radius');
    expect(radius.MSM.security.authEncryption).toEqual({ authentication: 'WPA2', encryption: 'AES', useOneX: 'true' });
    const ttls = radius.MSM.security.OneX.EAPConfig.EapHostConfig.Config.EapTtls;
    const thumbprint = new X509Certificate(fixtureProfile('complete').certificates![0]!.pem).fingerprint.replace(/:/g, ' ').toLowerCase();
    expect(ttls.ServerValidation).toEqual({ ServerNames: 'radius.agglo.example', TrustedRootCAHash: thumbprint, DisablePrompt: 'true' });
    expect(ttls.Phase1Identity).toEqual({ IdentityPrivacy: 'true', AnonymousIdentity: 'anonyme' });
    const peapProfile = { ...fixtureProfile('complete'), wifi: [{ ...fixtureProfile('complete').wifi![2]!, eap: { ...fixtureProfile('complete').wifi![2]!.eap!, method: 'peap' as const, innerMethod: 'mschapv2' as const } }] };
    const peapXml = compileWindowsCommands(peapProfile).output.install.find((c) => c.locUri.endsWith('/WlanXml'))!.data!;
    const peap = parser.parse(peapXml).WLANProfile.MSM.security.OneX.EAPConfig.EapHostConfig.Config.Eap;
    expect(peap.Type).toBe('25');
    expect(peap.EapType.ServerValidation).toEqual({ DisableUserPromptForServerValidation: 'true', ServerNames: 'radius.agglo.example', TrustedRootCA: thumbprint });
    expect(peap.EapType.Eap.Type).toBe('26');
    expect(peap.EapType.PeapExtensions).toMatchObject({ AcceptServerName: { '#text': 'true' }, IdentityPrivacy: { AnonymousUserName: 'anonyme' } });
    const kiosk = parser.parse(complete.output.install.find((c) => c.locUri.endsWith('AssignedAccess/Configuration'))!.data!).AssignedAccessConfiguration;
    expect(kiosk.Profiles.Profile.KioskModeApp['@AppUserModelId']).toBe('Example.Eval_8wekyb3d8bbwe!App');
    expect(kiosk.Configs.Config.DefaultProfile['@Id']).toBe(kiosk.Profiles.Profile['@Id']);
  });

  it('lists, field by field, what Windows cannot express', () => {
    expect(complete.warnings.map((w) => w.path)).toEqual([
      '/wifi/2/eap/identity',
      '/proxy/allowCaptivePortal',
      '/webFilter',
      '/webFilter/blockAdultContent',
      '/restrictions/screenshots',
      '/restrictions/appRemoval',
      '/restrictions/inAppPurchases',
      '/restrictions/factoryReset',
      '/kiosk/volumeButtons',
      '/kiosk/autoLock',
      '/kiosk/rotation',
      '/lockScreenMessage',
      '/supportMessage',
    ]);
    expect(allowList.warnings.map((w) => w.path)).toEqual(['/webFilter', '/webFilter/blockAdultContent', '/kiosk/apps/windows']);
  });
});
