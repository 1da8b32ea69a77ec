import type { androidmanagement_v1 } from 'googleapis';
import type { Policy as AgentPolicy } from '../../../agent-protocol/src';
import type { Compiled, CompileWarning, NeutralProfile } from '../../modules/profiles/profile.schemas';
import { compileAgentPolicy } from '../agent/agent-policy.compiler';

export type AmapiPolicy = androidmanagement_v1.Schema$Policy;
type Application = androidmanagement_v1.Schema$ApplicationPolicy;

const CHROME = 'com.android.chrome';

/**
 * Inventory sections every Cartable policy asks for: without software and memory reports a
 * tablet's inventory would stay empty. Network info (IMEI, MAC addresses) is not asked for.
 */
const STATUS_REPORTING: androidmanagement_v1.Schema$StatusReportingSettings = {
  applicationReportsEnabled: true,
  deviceSettingsEnabled: true,
  softwareInfoEnabled: true,
  memoryInfoEnabled: true,
  powerManagementEventsEnabled: true,
  hardwareStatusEnabled: false,
  networkInfoEnabled: false,
};

/**
 * Warnings of the agent compiler that say something else on an AMAPI tablet, where Google's
 * Android Device Policy is the device owner and enforces the policy (keyed by the warning's path).
 */
const AMAPI_WARNINGS: Record<string, string | null> = {
  '/restrictions/removeManagement': 'Android Device Policy is device owner: only a factory reset removes it, whatever this says',
  '/kiosk/autoLock': 'the Android Management API cannot keep the screen on in single-app mode: Android locks after its screen timeout',
  '/kiosk/rotation': 'the Android Management API cannot lock the screen orientation: the app decides',
};

/**
 * The agent's policy (AMAPI-shaped already, README §27) as an AMAPI `Policy`. Pure: the same
 * input gives the same output, so equal effective sets share one Google policy.
 * - `cameraDisabled` becomes `cameraAccess` (the former is deprecated);
 * - the kiosk app takes the `KIOSK` role and `REQUIRED_FOR_SETUP` (`installType: KIOSK` is deprecated); the role sets the home screen;
 * - Chrome's list policies travel as JSON arrays serialised into strings, as Chrome reads them from a managed configuration;
 * - CA certificates only for web trust are dropped: AMAPI installs ONC certificates for Wi-Fi only;
 * - `maximumTimeToLock` is an int64, a string in JSON;
 * - the inventory sections Cartable shows are always reported.
 */
export function toAmapiPolicy(agent: AgentPolicy | Record<string, unknown>): AmapiPolicy {
  const { cameraDisabled, persistentPreferredActivities: _home, maximumTimeToLock, applications, openNetworkConfiguration, ...rest } = agent as AgentPolicy & Record<string, unknown>;
  const policy: AmapiPolicy = { ...(rest as AmapiPolicy) };
  if (cameraDisabled !== undefined) policy.cameraAccess = cameraDisabled ? 'CAMERA_ACCESS_DISABLED' : 'CAMERA_ACCESS_USER_CHOICE';
  if (maximumTimeToLock !== undefined) policy.maximumTimeToLock = String(maximumTimeToLock);
  if (openNetworkConfiguration) {
    const onc = openNetworkConfiguration as { Certificates?: { TrustBits?: unknown }[] } & Record<string, unknown>;
    const certificates = (onc.Certificates ?? []).filter((c) => !c.TrustBits);
    const { Certificates: _all, ...networks } = onc;
    if (networks.NetworkConfigurations || certificates.length) policy.openNetworkConfiguration = { ...networks, ...(certificates.length ? { Certificates: certificates } : {}) };
  }
  if (applications?.length) policy.applications = (applications as Application[]).map(toAmapiApplication);
  policy.statusReportingSettings = STATUS_REPORTING;
  return sortKeys(policy);
}

function toAmapiApplication(app: Application): Application {
  if (app.installType === 'KIOSK') return { ...app, installType: 'REQUIRED_FOR_SETUP', roles: [{ roleType: 'KIOSK' }] };
  if (app.packageName === CHROME && app.managedConfiguration) {
    const config = Object.fromEntries(Object.entries(app.managedConfiguration).map(([key, value]) => [key, Array.isArray(value) ? JSON.stringify(value) : value]));
    return { ...app, managedConfiguration: config };
  }
  return app;
}

/**
 * The neutral profile as an AMAPI policy, with what AMAPI cannot carry listed as warnings (the
 * agent compiler's, reworded where AMAPI differs, and AMAPI's own).
 */
export function compileAmapiPolicy(profile: NeutralProfile): Compiled<{ version: number; policy: AmapiPolicy }> {
  const agent = compileAgentPolicy(profile);
  const warnings: CompileWarning[] = agent.warnings.map((w) => (w.path in AMAPI_WARNINGS ? { path: w.path, message: AMAPI_WARNINGS[w.path]! } : w));
  for (const w of warnings) {
    if (/^\/certificates\/\d+$/.test(w.path)) w.message = 'not carried: the Android Management API installs CA certificates for Wi-Fi only; web trust needs an app holding the CERT_INSTALL delegation';
  }
  if (profile.restrictions?.factoryReset === false) warnings.push({ path: '/restrictions/factoryReset', message: 'Google accepts factoryResetDisabled only once it has validated the project beyond its first 500 devices' });
  if (profile.kiosk?.apps.android) warnings.push({ path: '/kiosk/apps/android', message: 'the kiosk app must be in managed Google Play (public or private): it is installed at setup with the KIOSK role' });
  return { output: { version: agent.output.version, policy: toAmapiPolicy(agent.output.policy) }, warnings };
}

/** Keys in a stable order: the policy's hash names the shared Google policy. */
function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])])) as T;
  return value;
}
