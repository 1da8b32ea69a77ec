import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { expectGolden, fixtureProfile } from '../../../test/helpers/golden';
import { compileAgentPolicy } from './agent-policy.compiler';

const SCHEMA_DIR = join(__dirname, '..', '..', '..', 'agent-protocol', 'schema');
const index = JSON.parse(readFileSync(join(SCHEMA_DIR, 'index.json'), 'utf8')) as { other: Record<string, string>; messages: Record<string, string> };
const ajv = new Ajv({ strict: true, allErrors: true });
const policySchema = ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, index.other.Policy!), 'utf8')) as object);
const welcomeSchema = ajv.compile(JSON.parse(readFileSync(join(SCHEMA_DIR, index.messages.welcome!), 'utf8')) as object);

const render = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

describe('compileAgentPolicy', () => {
  const complete = compileAgentPolicy(fixtureProfile('complete'));
  const allowList = compileAgentPolicy(fixtureProfile('allow-list'));

  it('matches the reviewed golden files', () => {
    expectGolden('complete.android.json', render(complete.output));
    expectGolden('allow-list.android.json', render(allowList.output));
  });

  it('validates against the JSON Schema of the agent protocol, and travels in a welcome', () => {
    for (const { output } of [complete, allowList]) {
      expect(policySchema(output.policy)).toBe(true);
      const welcome = { protocol: 1, heartbeatSec: 60, serverTime: '2026-09-01T08:00:00Z', capabilities: [], desiredState: output };
      expect(welcomeSchema(welcome) || welcomeSchema.errors).toBe(true);
    }
    expect(policySchema({ openNetworkConfiguration: { NetworkConfigurations: [{ GUID: 'x', Name: 'x', Type: 'WiFi', WiFi: { SSID: 'x', Security: 'WPA2' } }] } })).toBe(false);
    expect(policySchema({ passwordPolicies: [{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'NUMERIC_COMPLEX' }, { passwordScope: 'SCOPE_DEVICE', passwordQuality: 'ALPHANUMERIC' }] })).toBe(false);
  });

  it('uses AMAPI names: ONC for Wi-Fi, Chrome managed configuration for filtering, kiosk as the home app', () => {
    const { policy, version } = complete.output;
    expect(version).toBe(3);
    const networks = policy.openNetworkConfiguration!.NetworkConfigurations!;
    expect(networks.map((n) => [n.Name, n.WiFi.Security])).toEqual([['Ecole-PSK', 'WPA-PSK'], ['Ecole-WPA3', 'WPA-PSK'], ['Ecole-Radius', 'WPA-EAP'], ['Invites & <Ecole>', 'None']]);
    const [radiusCa, proxyCa] = policy.openNetworkConfiguration!.Certificates!;
    expect(networks[2]!.WiFi.EAP).toMatchObject({ Outer: 'EAP-TTLS', Inner: 'PAP', ServerCARefs: [radiusCa!.GUID], DomainSuffixMatch: ['radius.agglo.example'] });
    expect(radiusCa!.TrustBits).toBeUndefined();
    expect(proxyCa!.TrustBits).toEqual(['Web']);
    expect(networks[0]!.ProxySettings).toEqual({ Type: 'PAC', PAC: 'https://proxy.agglo.example/ecole.pac' });
    expect(policy.recommendedGlobalProxy).toEqual({ host: 'filtre.agglo.example', port: 8080, excludedHosts: ['ent.agglo.example', '*.education.gouv.fr'] });
    expect(policy.applications).toEqual([
      { packageName: 'com.android.chrome', managedConfiguration: { URLBlocklist: ['jeux.example', 'video.example'], SafeSitesFilterBehavior: 1 } },
      { packageName: 'fr.example.eval', installType: 'KIOSK' },
    ]);
    expect(policy).toMatchObject({ cameraDisabled: true, installAppsDisabled: true, setWallpaperDisabled: false, adjustVolumeDisabled: true, maximumTimeToLock: 420_000 });
    expect(allowList.output.policy.applications![0]).toEqual({ packageName: 'com.android.chrome', managedConfiguration: { URLBlocklist: ['*'], URLAllowlist: ['https://www.lumni.fr/', 'https://ent.agglo.example/accueil'] } });
    expect(compileAgentPolicy(fixtureProfile('complete')).output).toEqual(complete.output);
  });

  it('lists, field by field, what Android cannot express', () => {
    expect(complete.warnings.map((w) => w.path)).toEqual([
      '/certificates/1',
      '/wifi/1/security',
      '/proxy',
      '/proxy/allowCaptivePortal',
      '/webFilter',
      '/restrictions/inAppPurchases',
      '/restrictions/assistant',
      '/kiosk/autoLock',
      '/kiosk/rotation',
    ]);
    expect(allowList.warnings).toEqual([
      { path: '/webFilter/blockAdultContent', message: 'has no effect with allow_list_only: only the allowed sites open' },
      { path: '/webFilter', message: 'Android filters in Chrome only (its managed configuration): other browsers installed on the tablet are not filtered' },
    ]);
  });
});
