import type { NeutralProfile } from '../../modules/profiles/profile.schemas';
import { mergeAgentPolicies } from './agent-policy.merge';

const profile = (id: string, rest: Partial<NeutralProfile>): NeutralProfile => ({ schemaVersion: 1, id, version: 1, name: id, ...rest });

describe('merging the agent policies of an effective set', () => {
  const filter = profile('filtrage', { webFilter: { mode: 'deny_list', denyList: ['jeux.example'], blockAdultContent: true }, restrictions: { camera: true } });
  const exam = profile('examen', { restrictions: { camera: false, screenshots: false }, passcode: { required: true, kind: 'numeric', minLength: 4, maxInactivityMinutes: 10 } });
  const locked = profile('verrou', {
    webFilter: { mode: 'deny_list', denyList: ['video.example'] },
    passcode: { required: true, kind: 'alphanumeric', minLength: 6, maxInactivityMinutes: 2 },
    lockScreenMessage: 'Tablette de l\u2019école',
  });

  it('gives the same policy whatever the order of the set', () => {
    expect(mergeAgentPolicies([filter, exam, locked])).toEqual(mergeAgentPolicies([locked, filter, exam]));
  });

  it('keeps the most restrictive restriction and passcode, unites lists, takes single values from the first profile by id', () => {
    const policy = mergeAgentPolicies([filter, exam, locked]);
    // `filtrage` allows the camera, `examen` forbids it: forbidden.
    expect(policy.cameraDisabled).toBe(true);
    expect(policy.screenCaptureDisabled).toBe(true);
    expect(policy.applications).toEqual([{ packageName: 'com.android.chrome', managedConfiguration: { URLBlocklist: ['jeux.example', 'video.example'], SafeSitesFilterBehavior: 1 } }]);
    expect(policy.passwordPolicies).toEqual([{ passwordScope: 'SCOPE_DEVICE', passwordQuality: 'ALPHANUMERIC', passwordMinimumLength: 6 }]);
    expect(policy.maximumTimeToLock).toBe(2 * 60_000);
    expect(policy.deviceOwnerLockScreenInfo).toEqual({ defaultMessage: 'Tablette de l\u2019école' });
  });

  it('keeps one network per SSID and nothing for an empty set', () => {
    const a = profile('a', { wifi: [{ ssid: 'ECOLE', security: 'wpa2', password: 'phrase-de-passe-a' }] });
    const b = profile('b', { wifi: [{ ssid: 'ECOLE', security: 'wpa2', password: 'phrase-de-passe-b' }, { ssid: 'INVITES', security: 'open' }] });
    const networks = mergeAgentPolicies([b, a]).openNetworkConfiguration!.NetworkConfigurations!;
    expect(networks.map((n) => [n.WiFi.SSID, n.WiFi.Passphrase])).toEqual([
      ['ECOLE', 'phrase-de-passe-a'],
      ['INVITES', undefined],
    ]);
    expect(mergeAgentPolicies([])).toEqual({});
  });
});
