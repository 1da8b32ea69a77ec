import type { Policy } from '../../../agent-protocol/src';
import type { NeutralProfile } from '../../modules/profiles/profile.schemas';
import { compileAgentPolicy } from './agent-policy.compiler';

type Application = NonNullable<Policy['applications']>[number];
type PasswordPolicy = NonNullable<Policy['passwordPolicies']>[number];

/** Restrictions: a tablet is as locked as its most restrictive profile says. */
const DISABLED_FLAGS = [
  'cameraDisabled',
  'screenCaptureDisabled',
  'installAppsDisabled',
  'uninstallAppsDisabled',
  'modifyAccountsDisabled',
  'factoryResetDisabled',
  'setWallpaperDisabled',
  'adjustVolumeDisabled',
] as const satisfies readonly (keyof Policy)[];

/** Single-valued settings: the first profile (in order) that sets one decides. */
const FIRST_WINS = ['recommendedGlobalProxy', 'persistentPreferredActivities', 'kioskCustomization', 'deviceOwnerLockScreenInfo', 'shortSupportMessage'] as const satisfies readonly (keyof Policy)[];

const QUALITY_RANK: Record<PasswordPolicy['passwordQuality'], number> = { SOMETHING: 0, NUMERIC_COMPLEX: 1, ALPHANUMERIC: 2 };

/**
 * The agent policy of a device's effective set (docs/profiles.md, "Merge rule"). Profiles are
 * taken in the order of their `id`, so the same set always gives the same policy:
 * - restrictions (`…Disabled`): disabled if any profile disables it;
 * - Wi-Fi networks and certificates: the union, by SSID and by GUID, the first profile keeping a network both name;
 * - applications: by package; managed configurations merged key by key, lists united in order,
 *   `SafeSitesFilterBehavior` the highest, any other value from the first profile; `installType` from the first that sets one;
 * - passcode: the strongest quality and the longest minimum length; `maximumTimeToLock` the shortest;
 * - proxy, kiosk launcher and its customisation, lock-screen and support messages: the first profile that sets them.
 */
export function mergeAgentPolicies(profiles: readonly NeutralProfile[]): Policy {
  const ordered = [...profiles].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const policies = ordered.map((p) => compileAgentPolicy(p).output.policy);
  const merged: Policy = {};
  const record = merged as Record<string, unknown>;

  for (const flag of DISABLED_FLAGS) {
    const values = policies.map((p) => p[flag]).filter((v): v is boolean => v !== undefined);
    if (values.length) record[flag] = values.some(Boolean);
  }
  for (const key of FIRST_WINS) {
    const first = policies.find((p) => p[key] !== undefined);
    if (first) record[key] = first[key];
  }

  const networks = new Map<string, NonNullable<NonNullable<Policy['openNetworkConfiguration']>['NetworkConfigurations']>[number]>();
  const certificates = new Map<string, NonNullable<NonNullable<Policy['openNetworkConfiguration']>['Certificates']>[number]>();
  for (const p of policies) {
    for (const n of p.openNetworkConfiguration?.NetworkConfigurations ?? []) if (!networks.has(n.WiFi.SSID)) networks.set(n.WiFi.SSID, n);
    for (const c of p.openNetworkConfiguration?.Certificates ?? []) if (!certificates.has(c.GUID)) certificates.set(c.GUID, c);
  }
  if (networks.size || certificates.size) {
    merged.openNetworkConfiguration = {
      Type: 'UnencryptedConfiguration',
      ...(networks.size ? { NetworkConfigurations: [...networks.values()] } : {}),
      ...(certificates.size ? { Certificates: [...certificates.values()] } : {}),
    };
  }

  const applications = new Map<string, Application>();
  for (const p of policies) {
    for (const app of p.applications ?? []) {
      const known = applications.get(app.packageName);
      if (!known) applications.set(app.packageName, structuredClone(app));
      else mergeApplication(known, app);
    }
  }
  if (applications.size) merged.applications = [...applications.values()];

  const passwords = policies.flatMap((p) => p.passwordPolicies ?? []);
  if (passwords.length) {
    const quality = passwords.reduce((q, p) => (QUALITY_RANK[p.passwordQuality] > QUALITY_RANK[q] ? p.passwordQuality : q), passwords[0]!.passwordQuality);
    const lengths = passwords.map((p) => p.passwordMinimumLength).filter((n): n is number => n !== undefined);
    merged.passwordPolicies = [{ passwordScope: 'SCOPE_DEVICE', passwordQuality: quality, ...(lengths.length ? { passwordMinimumLength: Math.max(...lengths) } : {}) }];
  }
  const locks = policies.map((p) => p.maximumTimeToLock).filter((n): n is number => n !== undefined);
  if (locks.length) merged.maximumTimeToLock = Math.min(...locks);
  return merged;
}

function mergeApplication(into: Application, other: Application): void {
  if (into.installType === undefined && other.installType !== undefined) into.installType = other.installType;
  if (!other.managedConfiguration) return;
  const config = (into.managedConfiguration ??= {});
  for (const [key, value] of Object.entries(other.managedConfiguration)) {
    const current = config[key];
    if (current === undefined) config[key] = structuredClone(value);
    else if (Array.isArray(current) && Array.isArray(value)) config[key] = [...new Set([...(current as unknown[]), ...(value as unknown[])])];
    else if (key === 'SafeSitesFilterBehavior' && typeof current === 'number' && typeof value === 'number') config[key] = Math.max(current, value);
  }
}
