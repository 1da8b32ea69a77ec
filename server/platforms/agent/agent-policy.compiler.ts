import type { DesiredState, Policy } from '../../../agent-protocol/src';
import { fromPem } from '../../infra/pki/der';
import { warningList, type Warn } from '../../modules/profiles/compile-warnings';
import { stableUuid } from '../../modules/profiles/profile-ids';
import type { Compiled, NeutralProfile, ProxySettings, RestrictionName, WifiNetwork } from '../../modules/profiles/profile.schemas';

type Onc = NonNullable<Policy['openNetworkConfiguration']>;
type OncNetwork = NonNullable<Onc['NetworkConfigurations']>[number];
type Application = NonNullable<Policy['applications']>[number];

/** The restrictions the agent enforces, as AMAPI names them (`true` in the policy forbids). */
const DISABLED_FLAGS: Partial<Record<RestrictionName, keyof Policy>> = {
  camera: 'cameraDisabled',
  screenshots: 'screenCaptureDisabled',
  appStore: 'installAppsDisabled',
  appRemoval: 'uninstallAppsDisabled',
  accountChanges: 'modifyAccountsDisabled',
  factoryReset: 'factoryResetDisabled',
  wallpaperChanges: 'setWallpaperDisabled',
};

const CHROME = 'com.android.chrome';
/** Chrome's SafeSitesFilterBehavior: 1 filters adult content. */
const SAFE_SITES_FILTER = 1;

/**
 * The neutral profile as the agent's desired state (README §27). Pure; `version` is the
 * profile's version, so a recompile of the same version is the same state.
 */
export function compileAgentPolicy(profile: NeutralProfile): Compiled<DesiredState & { policy: Policy }> {
  const { warnings, warn } = warningList();
  const policy: Policy = {};
  const applications: Application[] = [];

  const onc = networkConfiguration(profile, warn);
  if (onc) policy.openNetworkConfiguration = onc;

  if (profile.proxy) {
    const { host, port, pacUrl, excludedHosts, allowCaptivePortal } = profile.proxy;
    policy.recommendedGlobalProxy = pacUrl ? { pacUri: pacUrl } : { host, port, ...(excludedHosts ? { excludedHosts } : {}) };
    if (pacUrl && excludedHosts) warn('/proxy/excludedHosts', 'Android ignores excluded hosts with a PAC file: the PAC file decides');
    warn('/proxy', 'Android applies a global proxy as a recommendation: apps may ignore it and connect directly');
    if (allowCaptivePortal) warn('/proxy/allowCaptivePortal', 'Android has no captive-portal exception for a global proxy');
  }

  const filter = profile.webFilter;
  if (filter) {
    const managedConfiguration: Record<string, unknown> =
      filter.mode === 'deny_list' ? { URLBlocklist: filter.denyList ?? [] } : { URLBlocklist: ['*'], URLAllowlist: (filter.allowList ?? []).map((site) => site.url) };
    if (filter.blockAdultContent && filter.mode === 'deny_list') managedConfiguration.SafeSitesFilterBehavior = SAFE_SITES_FILTER;
    if (filter.blockAdultContent !== undefined && filter.mode === 'allow_list_only') warn('/webFilter/blockAdultContent', 'has no effect with allow_list_only: only the allowed sites open');
    applications.push({ packageName: CHROME, managedConfiguration });
    warn('/webFilter', 'Android filters in Chrome only (its managed configuration): other browsers installed on the tablet are not filtered');
  }

  const restrictions = profile.restrictions ?? {};
  for (const [name, flag] of Object.entries(DISABLED_FLAGS) as Array<[RestrictionName, keyof Policy]>) {
    const allowed = restrictions[name];
    if (allowed !== undefined) (policy as Record<string, unknown>)[flag] = !allowed;
  }
  if (restrictions.inAppPurchases === false) warn('/restrictions/inAppPurchases', 'Android has no device setting for in-app purchases: block the store or the apps instead');
  if (restrictions.assistant === false) warn('/restrictions/assistant', 'Android has no device-owner setting for the voice assistant');
  if (restrictions.removeManagement === true) warn('/restrictions/removeManagement', 'the agent is device owner: only a factory reset removes it, whatever this says');

  const kiosk = profile.kiosk;
  if (kiosk && !kiosk.apps.android) warn('/kiosk/apps/android', 'no Android app given: single-app mode is not applied on Android tablets');
  if (kiosk?.apps.android) {
    const app = kiosk.apps.android;
    applications.push({ packageName: app, installType: 'KIOSK' });
    policy.persistentPreferredActivities = [{ receiverActivity: app, actions: ['android.intent.action.MAIN'], categories: ['android.intent.category.HOME', 'android.intent.category.DEFAULT'] }];
    policy.kioskCustomization = { statusBar: 'NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED', systemNavigation: 'NAVIGATION_DISABLED', deviceSettings: 'SETTINGS_ACCESS_BLOCKED', powerButtonActions: 'POWER_BUTTON_BLOCKED' };
    if (kiosk.volumeButtons === false) policy.adjustVolumeDisabled = true;
    if (kiosk.autoLock === false) warn('/kiosk/autoLock', 'the agent cannot keep the screen on: Android locks after its screen timeout');
    if (kiosk.rotation === false) warn('/kiosk/rotation', 'the agent cannot lock the screen orientation: the app decides');
  }
  if (applications.length) policy.applications = applications;

  if (profile.lockScreenMessage) policy.deviceOwnerLockScreenInfo = { defaultMessage: profile.lockScreenMessage };
  if (profile.supportMessage) policy.shortSupportMessage = { defaultMessage: profile.supportMessage };

  const passcode = profile.passcode;
  if (passcode?.required) {
    const quality = passcode.kind === 'alphanumeric' ? 'ALPHANUMERIC' : 'NUMERIC_COMPLEX';
    policy.passwordPolicies = [{ passwordScope: 'SCOPE_DEVICE', passwordQuality: quality, ...(passcode.minLength ? { passwordMinimumLength: passcode.minLength } : {}) }];
    if (passcode.maxInactivityMinutes) policy.maximumTimeToLock = passcode.maxInactivityMinutes * 60_000;
  }

  return { output: { version: profile.version, policy }, warnings };
}

const ONC_SECURITY: Record<WifiNetwork['security'], OncNetwork['WiFi']['Security']> = { open: 'None', wpa2: 'WPA-PSK', wpa3: 'WPA-PSK', eap: 'WPA-EAP' };

function networkConfiguration(profile: NeutralProfile, warn: Warn): Onc | undefined {
  const certificateGuid = (id: string) => stableUuid(profile, `certificate.${id}`);
  const forWifi = new Set(profile.wifi?.flatMap((network) => network.eap?.caCertificates ?? []));
  const certificates = (profile.certificates ?? []).map((certificate, i) => {
    // A CA that only vouches for the RADIUS server stays in the Wi-Fi configuration; any other is trusted by apps.
    const web = !forWifi.has(certificate.id);
    if (web) warn(`/certificates/${i}`, 'installed as a user-added CA: Chrome trusts it, apps built for Android 7 or later only if they opt in');
    return { GUID: certificateGuid(certificate.id), Type: 'Authority' as const, X509: fromPem('CERTIFICATE', certificate.pem).toString('base64'), ...(web ? { TrustBits: ['Web' as const] } : {}) };
  });

  const networks = (profile.wifi ?? []).map((network, i): OncNetwork => {
    const wifi: OncNetwork['WiFi'] = { SSID: network.ssid, HiddenSSID: network.hidden ?? false, AutoConnect: network.autoJoin ?? true, Security: ONC_SECURITY[network.security] };
    if (network.security === 'wpa3') warn(`/wifi/${i}/security`, 'ONC has no WPA3-Personal type: sent as WPA-PSK, so a WPA3-only network may refuse the tablet');
    if (network.password !== undefined) wifi.Passphrase = network.password;
    if (network.eap) {
      const eap = network.eap;
      wifi.EAP = {
        Outer: eap.method === 'peap' ? 'PEAP' : 'EAP-TTLS',
        Inner: eap.innerMethod === 'pap' ? 'PAP' : 'MSCHAPv2',
        ...(eap.identity ? { Identity: eap.identity } : {}),
        ...(eap.anonymousIdentity ? { AnonymousIdentity: eap.anonymousIdentity } : {}),
        ...(eap.password ? { Password: eap.password } : {}),
        ServerCARefs: eap.caCertificates.map(certificateGuid),
        // ONC matches a suffix: `*.agglo.fr` and `agglo.fr` both mean "agglo.fr or below".
        DomainSuffixMatch: eap.serverNames.map((name) => name.replace(/^\*\./, '')),
        UseSystemCAs: false,
      };
    }
    const configured: OncNetwork = { GUID: stableUuid(profile, `wifi.${i}`), Name: network.ssid, Type: 'WiFi', WiFi: wifi };
    if (network.proxy) configured.ProxySettings = oncProxy(network.proxy);
    return configured;
  });

  if (!networks.length && !certificates.length) return undefined;
  return { Type: 'UnencryptedConfiguration', ...(networks.length ? { NetworkConfigurations: networks } : {}), ...(certificates.length ? { Certificates: certificates } : {}) };
}

function oncProxy(proxy: ProxySettings): NonNullable<OncNetwork['ProxySettings']> {
  if (proxy.pacUrl) return { Type: 'PAC', PAC: proxy.pacUrl };
  const server = { Host: proxy.host!, Port: proxy.port! };
  return { Type: 'Manual', Manual: { HTTPProxy: server, SecureHTTPProxy: server } };
}
