import { fromPem } from '../../../infra/pki/der';
import type { Warn } from '../../../modules/profiles/compile-warnings';
import type {
  GlobalProxy,
  Kiosk,
  NeutralProfile,
  Passcode,
  ProxySettings,
  RestrictionName,
  Restrictions,
  TrustedCertificate,
  WebFilter,
  WifiNetwork,
} from '../../../modules/profiles/profile.schemas';

/**
 * One builder per neutral section, each giving the payload dictionaries of Apple's profile
 * reference (apple/device-management, mdm/profiles) and reporting what iPadOS cannot take.
 */

export type PlistValue = string | number | boolean | Buffer | PlistValue[] | { [key: string]: PlistValue };
export type PlistDict = { [key: string]: PlistValue };

/** A payload before its common keys (type, identifier, UUID, display name) are added. */
export interface PayloadDraft {
  /** Stable within the profile: the identifier and the UUID are derived from it. */
  key: string;
  type: string;
  displayName: string;
  content: PlistDict;
}

const SUPERVISED = 'applies to supervised iPads only (Apple School Manager or Apple Configurator)';

/** `com.apple.security.root`: the UUIDs of these payloads are what Wi-Fi trust settings point to. */
export function certificatePayloads(certificates: TrustedCertificate[] = []): PayloadDraft[] {
  return certificates.map((certificate) => ({
    key: `certificate.${certificate.id}`,
    type: 'com.apple.security.root',
    displayName: certificate.name,
    content: { PayloadCertificateFileName: `${certificate.id}.cer`, PayloadContent: fromPem('CERTIFICATE', certificate.pem) },
  }));
}

function proxyKeys(proxy: ProxySettings): PlistDict {
  return proxy.pacUrl ? { ProxyType: 'Auto', ProxyPACURL: proxy.pacUrl } : { ProxyType: 'Manual', ProxyServer: proxy.host!, ProxyServerPort: proxy.port! };
}

const ENCRYPTION: Record<WifiNetwork['security'], string> = { open: 'None', wpa2: 'WPA2', wpa3: 'WPA3', eap: 'WPA2' };
const EAP_TYPE = { peap: 25, ttls: 21 } as const;

export function wifiPayloads(networks: WifiNetwork[] = [], certificateUuid: (id: string) => string, warn: Warn): PayloadDraft[] {
  return networks.map((network, i) => {
    const content: PlistDict = {
      SSID_STR: network.ssid,
      HIDDEN_NETWORK: network.hidden ?? false,
      AutoJoin: network.autoJoin ?? true,
      EncryptionType: ENCRYPTION[network.security],
    };
    if (network.password !== undefined) content.Password = network.password;
    if (network.eap) {
      const eap = network.eap;
      const eapConfig: PlistDict = {
        AcceptEAPTypes: [EAP_TYPE[eap.method]],
        TLSTrustedServerNames: eap.serverNames,
        PayloadCertificateAnchorUUID: eap.caCertificates.map(certificateUuid),
      };
      if (eap.identity) eapConfig.UserName = eap.identity;
      if (eap.password) eapConfig.UserPassword = eap.password;
      if (eap.anonymousIdentity) eapConfig.OuterIdentity = eap.anonymousIdentity;
      if (eap.method === 'ttls') eapConfig.TTLSInnerAuthentication = eap.innerMethod === 'pap' ? 'PAP' : 'MSCHAPv2';
      else if (eap.innerMethod === 'pap') warn(`/wifi/${i}/eap/innerMethod`, 'iPadOS runs PEAP with MSCHAPv2 inside only; pap is ignored');
      content.EAPClientConfiguration = eapConfig;
    }
    if (network.proxy) Object.assign(content, proxyKeys(network.proxy));
    return { key: `wifi.${i}`, type: 'com.apple.wifi.managed', displayName: `Wi-Fi ${network.ssid}`, content };
  });
}

export function globalProxyPayload(proxy: GlobalProxy | undefined, warn: Warn): PayloadDraft[] {
  if (!proxy) return [];
  warn('/proxy', `the global HTTP proxy ${SUPERVISED}`);
  if (proxy.excludedHosts) warn('/proxy/excludedHosts', 'the global HTTP proxy of iPadOS has no list of hosts reached directly: every host goes through the proxy (or the PAC file decides)');
  const content: PlistDict = { ...proxyKeys(proxy), ProxyCaptiveLoginAllowed: proxy.allowCaptivePortal ?? false };
  if (proxy.pacUrl) content.ProxyPACFallbackAllowed = false;
  return [{ key: 'proxy', type: 'com.apple.proxy.http.global', displayName: 'Proxy', content }];
}

/** iPadOS's built-in filter takes "about 500" denied URLs (Apple's profile reference). */
const APPLE_DENY_LIST_MAX = 500;

export function webFilterPayload(filter: WebFilter | undefined, warn: Warn): PayloadDraft[] {
  if (!filter) return [];
  // Since iPadOS 16 an unsupervised iPad takes only plug-in filters (with a ContentFilterUUID).
  warn('/webFilter', `the built-in web filter ${SUPERVISED}`);
  const content: PlistDict = { FilterType: 'BuiltIn', AutoFilterEnabled: filter.mode === 'deny_list' && (filter.blockAdultContent ?? false) };
  if (filter.mode === 'deny_list') {
    const denied = filter.denyList ?? [];
    if (denied.length > APPLE_DENY_LIST_MAX) warn('/webFilter/denyList', `iPadOS takes about ${APPLE_DENY_LIST_MAX} denied sites; ${denied.length} given, the ones after the ${APPLE_DENY_LIST_MAX}th may be ignored`);
    // iPadOS matches these as substrings of the requested URL: a bare domain also covers its subdomains.
    content.DenyListURLs = denied;
  } else {
    content.AllowListBookmarks = (filter.allowList ?? []).map((site) => ({ URL: site.url, Title: site.title }));
    if (filter.blockAdultContent !== undefined) warn('/webFilter/blockAdultContent', 'has no effect with allow_list_only on iPadOS: only the allowed sites open');
  }
  return [{ key: 'web-filter', type: 'com.apple.webcontent-filter', displayName: 'Filtrage web', content }];
}

/** Neutral restriction → the `com.apple.applicationaccess` key, and whether it needs supervision. */
const RESTRICTION_KEYS: Record<Exclude<RestrictionName, 'removeManagement'>, { key: string; supervised: boolean }> = {
  camera: { key: 'allowCamera', supervised: false },
  screenshots: { key: 'allowScreenShot', supervised: false },
  appStore: { key: 'allowUIAppInstallation', supervised: true },
  appRemoval: { key: 'allowAppRemoval', supervised: true },
  inAppPurchases: { key: 'allowInAppPurchases', supervised: false },
  accountChanges: { key: 'allowAccountModification', supervised: true },
  factoryReset: { key: 'allowEraseContentAndSettings', supervised: true },
  wallpaperChanges: { key: 'allowWallpaperModification', supervised: true },
  assistant: { key: 'allowAssistant', supervised: false },
};

export function restrictionsPayload(restrictions: Restrictions = {}, warn: Warn): PayloadDraft[] {
  const content: PlistDict = {};
  for (const [name, { key, supervised }] of Object.entries(RESTRICTION_KEYS)) {
    const allowed = restrictions[name as RestrictionName];
    if (allowed === undefined) continue;
    content[key] = allowed;
    if (supervised && !allowed) warn(`/restrictions/${name}`, SUPERVISED);
  }
  if (restrictions.removeManagement === false) {
    warn('/restrictions/removeManagement', `iPadOS keeps management only when the tablet enrolled through Apple School Manager with a non-removable MDM profile; this profile itself is made non-removable, which ${SUPERVISED}`);
  }
  if (Object.keys(content).length === 0) return [];
  return [{ key: 'restrictions', type: 'com.apple.applicationaccess', displayName: 'Restrictions', content }];
}

export function appLockPayload(kiosk: Kiosk | undefined, warn: Warn): PayloadDraft[] {
  if (!kiosk) return [];
  if (!kiosk.apps.ios) {
    warn('/kiosk/apps/ios', 'no iPad app given: single-app mode is not applied on iPads');
    return [];
  }
  warn('/kiosk', `single-app mode ${SUPERVISED}`);
  const options: PlistDict = {};
  if (kiosk.volumeButtons === false) options.DisableVolumeButtons = true;
  if (kiosk.autoLock === false) options.DisableAutoLock = true;
  if (kiosk.rotation === false) options.DisableDeviceRotation = true;
  return [{ key: 'app-lock', type: 'com.apple.app.lock', displayName: 'Mode application unique', content: { App: { Identifier: kiosk.apps.ios, Options: options } } }];
}

export function lockScreenPayload(profile: NeutralProfile, warn: Warn): PayloadDraft[] {
  if (profile.supportMessage) warn('/supportMessage', 'iPadOS shows no custom message on blocked settings');
  if (!profile.lockScreenMessage) return [];
  warn('/lockScreenMessage', `the lock screen footnote ${SUPERVISED}`);
  return [{ key: 'lock-screen', type: 'com.apple.shareddeviceconfiguration', displayName: 'Écran de verrouillage', content: { LockScreenFootnote: profile.lockScreenMessage } }];
}

export function passcodePayload(passcode: Passcode | undefined): PayloadDraft[] {
  if (!passcode?.required) return [];
  const content: PlistDict = { forcePIN: true, allowSimple: false };
  if (passcode.minLength) content.minLength = passcode.minLength;
  if (passcode.kind === 'alphanumeric') content.requireAlphanumeric = true;
  // An upper bound: people may choose a shorter auto-lock in Settings, not a longer one.
  if (passcode.maxInactivityMinutes) content.maxInactivity = passcode.maxInactivityMinutes;
  return [{ key: 'passcode', type: 'com.apple.mobiledevice.passwordpolicy', displayName: 'Code', content }];
}
