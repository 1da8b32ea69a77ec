import { createHash } from 'node:crypto';
import { fromPem } from '../../../infra/pki/der';
import { warningList, type Warn } from '../../../modules/profiles/compile-warnings';
import { stableUuid } from '../../../modules/profiles/profile-ids';
import type { Compiled, NeutralProfile, RestrictionName } from '../../../modules/profiles/profile.schemas';
import { assignedAccessXml } from './assigned-access';
import { wlanProfileXml } from './wlan-profile';

/** One OMA-DM command on one node (MS-MDM); `format` is the node's Meta/Format. */
export interface CspCommand {
  verb: 'Add' | 'Replace' | 'Delete';
  locUri: string;
  format?: 'chr' | 'int' | 'b64' | 'bool';
  data?: string;
}

export interface WindowsProfile {
  /** In order: trusted roots before the networks that rely on them, networks before proxies and filters. */
  install: CspCommand[];
  /** What undoes `install`, in reverse order. */
  remove: CspCommand[];
}

const POLICY = './Vendor/MSFT/Policy/Config';
/** msedge.admx puts URLBlocklist and URLAllowlist at the top of its "Microsoft Edge" category. */
const EDGE_POLICY = `${POLICY}/Edge~Policy~microsoft_edge`;
/** Separator of list items in an ADMX-backed list value (Edge's MDM documentation). */
const LIST_SEPARATOR = '&#xF000;';

/** Restrictions with a Policy CSP node: the node(s) and the integer meaning "allowed". */
const RESTRICTION_POLICIES: Partial<Record<RestrictionName, string[]>> = {
  camera: ['Camera/AllowCamera'],
  appStore: ['ApplicationManagement/AllowStore'],
  accountChanges: ['Accounts/AllowMicrosoftAccountConnection', 'Accounts/AllowAddingNonMicrosoftAccountsManually'],
  removeManagement: ['Experience/AllowManualMDMUnenrollment'],
  assistant: ['Experience/AllowCortana'],
};
const RESTRICTIONS_WITHOUT_POLICY: Partial<Record<RestrictionName, string>> = {
  screenshots: 'Windows has no MDM policy against screenshots on PCs and tablets',
  appRemoval: 'Windows has no MDM policy against removing apps',
  inAppPurchases: 'Windows has no MDM policy for in-app purchases',
  factoryReset: 'Windows has no MDM policy against resetting the PC from its settings',
  wallpaperChanges: 'Windows has no MDM policy that locks the wallpaper on Pro and Education editions',
};

/**
 * The neutral profile as OMA-DM commands for the Windows CSPs. Pure. `Add` creates nodes the
 * profile owns (a 418 "already exists" is answered by sending the same command as `Replace`);
 * policies are set with `Replace`.
 */
export function compileWindowsCommands(profile: NeutralProfile): Compiled<WindowsProfile> {
  const { warnings, warn } = warningList();
  const install: CspCommand[] = [];
  const remove: CspCommand[] = [];
  const set = (locUri: string, format: CspCommand['format'], data: string, verb: 'Add' | 'Replace' = 'Replace') => {
    install.push({ verb, locUri, format, data });
    remove.unshift({ verb: 'Delete', locUri });
  };
  const policy = (node: string, value: number) => set(`${POLICY}/${node}`, 'int', String(value));

  const thumbprints = new Map<string, string>();
  for (const certificate of profile.certificates ?? []) {
    const der = fromPem('CERTIFICATE', certificate.pem);
    const thumbprint = createHash('sha1').update(der).digest('hex').toUpperCase();
    thumbprints.set(certificate.id, thumbprint);
    install.push({ verb: 'Add', locUri: `./Vendor/MSFT/RootCATrustedCertificates/Root/${thumbprint}/EncodedCertificate`, format: 'b64', data: der.toString('base64') });
    remove.unshift({ verb: 'Delete', locUri: `./Vendor/MSFT/RootCATrustedCertificates/Root/${thumbprint}` });
  }

  profile.wifi?.forEach((network, i) => {
    const node = `./Vendor/MSFT/WiFi/Profile/${encodeURIComponent(network.ssid)}`;
    const caThumbprints = (network.eap?.caCertificates ?? []).map((id) => thumbprints.get(id)!);
    install.push({ verb: 'Add', locUri: `${node}/WlanXml`, format: 'chr', data: wlanProfileXml(network, `/wifi/${i}`, caThumbprints, warn) });
    if (network.proxy?.pacUrl) install.push({ verb: 'Add', locUri: `${node}/ProxyPacUrl`, format: 'chr', data: network.proxy.pacUrl });
    else if (network.proxy) install.push({ verb: 'Add', locUri: `${node}/Proxy`, format: 'chr', data: `${network.proxy.host}:${network.proxy.port}` });
    remove.unshift({ verb: 'Delete', locUri: node });
  });

  globalProxy(profile, set, warn);
  webFilter(profile, set, warn);

  const restrictions = profile.restrictions ?? {};
  for (const [name, allowed] of Object.entries(restrictions) as Array<[RestrictionName, boolean | undefined]>) {
    if (allowed === undefined) continue;
    for (const node of RESTRICTION_POLICIES[name] ?? []) policy(node, allowed ? 1 : 0);
    // Windows allows all of these by default: only a prohibition it cannot enforce is worth a warning.
    const missing = RESTRICTIONS_WITHOUT_POLICY[name];
    if (missing && !allowed) warn(`/restrictions/${name}`, missing);
  }

  const kiosk = profile.kiosk;
  if (kiosk && !kiosk.apps.windows) warn('/kiosk/apps/windows', 'no Windows app given: single-app mode is not applied on Windows tablets');
  if (kiosk?.apps.windows) {
    set('./Vendor/MSFT/AssignedAccess/Configuration', 'chr', assignedAccessXml(kiosk.apps.windows, stableUuid(profile, 'kiosk')), 'Add');
    if (kiosk.volumeButtons === false) warn('/kiosk/volumeButtons', 'Windows assigned access leaves the volume buttons working');
    if (kiosk.autoLock === false) warn('/kiosk/autoLock', 'Windows assigned access keeps the power plan\u2019s screen timeout');
    if (kiosk.rotation === false) warn('/kiosk/rotation', 'Windows has no MDM policy that locks the screen orientation');
  }

  if (profile.lockScreenMessage) {
    set(`${POLICY}/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTitleForUsersAttemptingToLogOn`, 'chr', profile.organisation ?? profile.name);
    set(`${POLICY}/LocalPoliciesSecurityOptions/InteractiveLogon_MessageTextForUsersAttemptingToLogOn`, 'chr', profile.lockScreenMessage);
    warn('/lockScreenMessage', 'Windows shows it as a notice to dismiss before signing in, not on the lock screen itself');
  }
  if (profile.supportMessage) warn('/supportMessage', 'Windows shows no custom message on blocked settings');

  const passcode = profile.passcode;
  if (passcode?.required) {
    // DeviceLock counts "enabled" as 0, and "alphanumeric required" as 0 too.
    policy('DeviceLock/DevicePasswordEnabled', 0);
    if (passcode.minLength) policy('DeviceLock/MinDevicePasswordLength', passcode.minLength);
    policy('DeviceLock/AlphanumericDevicePasswordRequired', passcode.kind === 'alphanumeric' ? 0 : 1);
    if (passcode.maxInactivityMinutes) policy('DeviceLock/MaxInactivityTimeDeviceLock', passcode.maxInactivityMinutes);
  }

  return { output: { install, remove }, warnings };
}

type Set = (locUri: string, format: CspCommand['format'], data: string, verb?: 'Add' | 'Replace') => void;

function globalProxy(profile: NeutralProfile, set: Set, warn: Warn): void {
  const proxy = profile.proxy;
  if (!proxy) return;
  const node = './Vendor/MSFT/NetworkProxy';
  set(`${node}/ProxySettingsPerUser`, 'int', '0');
  set(`${node}/AutoDetect`, 'int', '0');
  if (proxy.pacUrl) set(`${node}/SetupScriptUrl`, 'chr', proxy.pacUrl);
  else {
    set(`${node}/ProxyServer/ProxyAddress`, 'chr', `${proxy.host}:${proxy.port}`, 'Add');
    set(`${node}/ProxyServer/UseProxyForLocalAddresses`, 'int', '0', 'Add');
    if (proxy.excludedHosts) set(`${node}/ProxyServer/Exceptions`, 'chr', proxy.excludedHosts.join(';'), 'Add');
  }
  if (proxy.pacUrl && proxy.excludedHosts) warn('/proxy/excludedHosts', 'Windows ignores excluded hosts with a PAC file: the PAC file decides');
  if (proxy.allowCaptivePortal) warn('/proxy/allowCaptivePortal', 'Windows has no captive-portal exception for its proxy');
}

const edgeList = (id: string, items: string[]) =>
  `<enabled/><data id="${id}" value="${items.flatMap((item, i) => [String(i + 1), item]).join(LIST_SEPARATOR)}"/>`;

function webFilter(profile: NeutralProfile, set: Set, warn: Warn): void {
  const filter = profile.webFilter;
  if (!filter) return;
  if (filter.mode === 'deny_list') set(`${EDGE_POLICY}/URLBlocklist`, 'chr', edgeList('URLBlocklistDesc', filter.denyList ?? []));
  else {
    set(`${EDGE_POLICY}/URLBlocklist`, 'chr', edgeList('URLBlocklistDesc', ['*']));
    set(`${EDGE_POLICY}/URLAllowlist`, 'chr', edgeList('URLAllowlistDesc', (filter.allowList ?? []).map((site) => site.url)));
  }
  warn('/webFilter', 'Windows filters in Microsoft Edge only, through its ADMX policies, once msedge.admx is ingested (ConfigOperations/ADMXInstall/Edge/Policy/EdgeAdmx); other browsers are not filtered');
  if (filter.blockAdultContent !== undefined && filter.mode === 'allow_list_only') warn('/webFilter/blockAdultContent', 'has no effect with allow_list_only: only the allowed sites open');
  else if (filter.blockAdultContent) warn('/webFilter/blockAdultContent', 'Edge has no adult-content filter policy: rely on the filtering proxy');
}
