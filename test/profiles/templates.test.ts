import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { XMLParser } from 'fast-xml-parser';
import plist from 'plist';
import { checkProfile } from '../../server/modules/profiles/profile-validation';
import type { NeutralProfile, ProfilePlatform } from '../../server/modules/profiles/profile.schemas';
import { compileAgentPolicy } from '../../server/platforms/agent/agent-policy.compiler';
import { compileMobileconfig } from '../../server/platforms/apple/profiles/mobileconfig.compiler';
import { compileWindowsCommands } from '../../server/platforms/windows/profiles/csp.compiler';
import { renderSyncBody } from '../../server/platforms/windows/profiles/syncml';

const ROOT = join(__dirname, '..', '..');
const TEMPLATES = join(ROOT, 'profiles');
const policySchema = new Ajv({ strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'agent-protocol', 'schema', 'policy.schema.json'), 'utf8')) as object);

/**
 * What each platform cannot express of each reviewed template, by JSON path. A change here is a
 * change of what schools get on their tablets: review it as such.
 */
const EXPECTED_WARNINGS: Record<string, Record<ProfilePlatform, string[]>> = {
  'filtrage-maternelle': { ios: ['/webFilter'], android: ['/webFilter'], windows: ['/webFilter'] },
  'filtrage-primaire': { ios: ['/webFilter'], android: ['/webFilter'], windows: ['/webFilter', '/webFilter/blockAdultContent'] },
  'message-verrouillage': { ios: ['/lockScreenMessage'], android: [], windows: ['/lockScreenMessage'] },
  'mode-examen': {
    ios: ['/kiosk'],
    android: ['/kiosk/autoLock', '/kiosk/rotation'],
    windows: ['/restrictions/screenshots', '/kiosk/volumeButtons', '/kiosk/autoLock', '/kiosk/rotation'],
  },
  'proxy-collectivite': { ios: ['/proxy', '/proxy/excludedHosts'], android: ['/certificates/0', '/proxy'], windows: [] },
  'restrictions-eleves': {
    ios: ['/restrictions/appStore', '/restrictions/appRemoval', '/restrictions/accountChanges', '/restrictions/factoryReset', '/restrictions/wallpaperChanges', '/restrictions/removeManagement', '/supportMessage'],
    android: ['/restrictions/inAppPurchases', '/restrictions/assistant'],
    windows: ['/restrictions/appRemoval', '/restrictions/inAppPurchases', '/restrictions/factoryReset', '/restrictions/wallpaperChanges', '/supportMessage'],
  },
  'wifi-ecole': { ios: [], android: [], windows: [] },
  'wifi-ecole-radius': { ios: [], android: [], windows: ['/wifi/0/eap/identity'] },
};

const files = readdirSync(TEMPLATES).filter((f) => f.endsWith('.json')).sort();
const load = (file: string): NeutralProfile => {
  const checked = checkProfile(JSON.parse(readFileSync(join(TEMPLATES, file), 'utf8')));
  if (!checked.ok) throw new Error(`${file}: ${JSON.stringify(checked.problems)}`);
  return checked.profile;
};

describe('the school templates in profiles/', () => {
  it('are the reviewed set, each named after its id', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual(Object.keys(EXPECTED_WARNINGS).sort());
    for (const file of files) expect(`${load(file).id}.json`).toBe(file);
  });

  it.each(files)('%s compiles for iPad, Android and Windows with the pinned warnings', (file) => {
    const profile = load(file);
    const ios = compileMobileconfig(profile);
    const android = compileAgentPolicy(profile);
    const windows = compileWindowsCommands(profile);
    expect({
      ios: ios.warnings.map((w) => w.path),
      android: android.warnings.map((w) => w.path),
      windows: windows.warnings.map((w) => w.path),
    }).toEqual(EXPECTED_WARNINGS[profile.id]);

    expect((plist.parse(ios.output.xml) as { PayloadContent: unknown[] }).PayloadContent.length).toBeGreaterThan(0);
    expect(policySchema(android.output.policy)).toBe(true);
    expect(Object.keys(android.output.policy).length).toBeGreaterThan(0);
    expect(windows.output.install.length).toBeGreaterThan(0);
    expect(new XMLParser().parse(renderSyncBody(windows.output.install, String)).SyncBody).toBeDefined();
  });

  it('mark every certificate shipped as a test one to replace', () => {
    const certificates = files.flatMap((f) => load(f).certificates ?? []);
    expect(certificates.length).toBeGreaterThan(0);
    for (const c of certificates) expect(c.name).toMatch(/^À REMPLACER/);
  });
});
