import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectGolden, fixtureProfile } from '../../../test/helpers/golden';
import { checkProfile } from '../../modules/profiles/profile-validation';
import { compileAmapiPolicy, toAmapiPolicy } from './amapi-policy.compiler';

const render = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const TEMPLATES = join(__dirname, '..', '..', '..', 'profiles');

describe('compileAmapiPolicy', () => {
  const complete = compileAmapiPolicy(fixtureProfile('complete'));
  const allowList = compileAmapiPolicy(fixtureProfile('allow-list'));

  it('matches the reviewed golden files, warnings included', () => {
    expectGolden('complete.amapi.json', render(complete));
    expectGolden('allow-list.amapi.json', render(allowList));
  });

  it('uses current AMAPI fields: cameraAccess, the KIOSK role, Chrome lists as JSON strings, int64 as strings', () => {
    const { policy } = complete.output;
    expect(policy).not.toHaveProperty('cameraDisabled');
    expect(policy).not.toHaveProperty('persistentPreferredActivities');
    expect(policy.applications!.filter((a) => a.roles?.some((r) => r.roleType === 'KIOSK'))).toEqual([expect.objectContaining({ installType: 'REQUIRED_FOR_SETUP' })]);
    expect(policy.applications!.some((a) => a.installType === 'KIOSK')).toBe(false);
    const chrome = allowList.output.policy.applications!.find((a) => a.packageName === 'com.android.chrome')!;
    expect(typeof chrome.managedConfiguration!.URLBlocklist).toBe('string');
    expect(JSON.parse(String(chrome.managedConfiguration!.URLBlocklist))).toEqual(['*']);
    expect(allowList.output.policy.statusReportingSettings).toMatchObject({ softwareInfoEnabled: true, memoryInfoEnabled: true, networkInfoEnabled: false });
  });

  it('is pure and stable: the same agent policy gives the same AMAPI policy, keys sorted', () => {
    expect(JSON.stringify(toAmapiPolicy({ screenCaptureDisabled: true, cameraDisabled: true }))).toBe(JSON.stringify(toAmapiPolicy({ cameraDisabled: true, screenCaptureDisabled: true })));
  });

  it('compiles every shipped template', () => {
    const files = readdirSync(TEMPLATES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const checked = checkProfile(JSON.parse(readFileSync(join(TEMPLATES, file), 'utf8')));
      if (!checked.ok) throw new Error(`${file} is invalid`);
      const { output, warnings } = compileAmapiPolicy(checked.profile);
      expectGolden(`templates/${file.replace(/\.json$/, '.amapi.json')}`, render({ policy: output.policy, warnings }));
    }
  });
});
