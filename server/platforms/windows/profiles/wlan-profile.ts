import { XMLBuilder } from 'fast-xml-parser';
import type { Warn } from '../../../modules/profiles/compile-warnings';
import type { WifiNetwork } from '../../../modules/profiles/profile.schemas';

/**
 * The WLAN profile XML of the WiFi CSP (`…/WiFi/Profile/{SSID}/WlanXml`), in the schemas
 * `netsh wlan export profile` writes: WLAN profile v1, OneX v1 and EapHostConfig for 802.1X.
 */

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: true });

const NS = {
  wlan: 'http://www.microsoft.com/networking/WLAN/profile/v1',
  onex: 'http://www.microsoft.com/networking/OneX/v1',
  eapHost: 'http://www.microsoft.com/provisioning/EapHostConfig',
  eapCommon: 'http://www.microsoft.com/provisioning/EapCommonTypes',
  baseEap: 'http://www.microsoft.com/provisioning/BaseEapConnectionPropertiesV1',
  peap: 'http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV1',
  peapV2: 'http://www.microsoft.com/provisioning/MsPeapConnectionPropertiesV2',
  mschapv2: 'http://www.microsoft.com/provisioning/MsChapV2ConnectionPropertiesV1',
  ttls: 'http://www.microsoft.com/provisioning/EapTtlsConnectionPropertiesV1',
} as const;

const EAP_TYPE = { peap: 25, ttls: 21, mschapv2: 26 } as const;

/** SHA-1 thumbprints, as Windows writes them in TrustedRootCA: lower-case hex bytes separated by spaces. */
const spacedHex = (thumbprint: string) => thumbprint.toLowerCase().match(/../g)!.join(' ');

function authEncryption(network: WifiNetwork) {
  switch (network.security) {
    case 'open':
      return { authentication: 'open', encryption: 'none', useOneX: false };
    case 'wpa2':
      return { authentication: 'WPA2PSK', encryption: 'AES', useOneX: false };
    case 'wpa3':
      return { authentication: 'WPA3SAE', encryption: 'AES', useOneX: false };
    case 'eap':
      return { authentication: 'WPA2', encryption: 'AES', useOneX: true };
  }
}

function peapConfig(network: WifiNetwork, thumbprints: string[]) {
  const eap = network.eap!;
  return {
    '@xmlns': NS.peap,
    ServerValidation: {
      DisableUserPromptForServerValidation: true,
      ServerNames: eap.serverNames.join(';'),
      TrustedRootCA: thumbprints.map(spacedHex),
    },
    FastReconnect: true,
    InnerEapOptional: false,
    Eap: { '@xmlns': NS.baseEap, Type: EAP_TYPE.mschapv2, EapType: { '@xmlns': NS.mschapv2, UseWinLogonCredentials: false } },
    EnableQuarantineChecks: false,
    RequireCryptoBinding: false,
    // Without AcceptServerName, Windows checks the chain but not the names in ServerNames.
    PeapExtensions: {
      PerformServerValidation: { '@xmlns': NS.peapV2, '#text': true },
      AcceptServerName: { '@xmlns': NS.peapV2, '#text': true },
      ...(eap.anonymousIdentity ? { IdentityPrivacy: { '@xmlns': NS.peapV2, EnableIdentityPrivacy: true, AnonymousUserName: eap.anonymousIdentity } } : {}),
    },
  };
}

function ttlsConfig(network: WifiNetwork, thumbprints: string[]) {
  const eap = network.eap!;
  return {
    '@xmlns': NS.ttls,
    ServerValidation: { ServerNames: eap.serverNames.join(';'), TrustedRootCAHash: thumbprints.map(spacedHex), DisablePrompt: true },
    Phase2Authentication: eap.innerMethod === 'pap' ? { PAPAuthentication: '' } : { MSCHAPv2Authentication: { UseWinlogonCredentials: false } },
    Phase1Identity: eap.anonymousIdentity ? { IdentityPrivacy: true, AnonymousIdentity: eap.anonymousIdentity } : { IdentityPrivacy: false },
  };
}

/**
 * `thumbprints`: SHA-1 of the CA certificates the RADIUS server must chain to, installed by the
 * same profile in the trusted roots.
 */
export function wlanProfileXml(network: WifiNetwork, at: string, thumbprints: string[], warn: Warn): string {
  const security: Record<string, unknown> = { authEncryption: authEncryption(network) };
  if (network.password !== undefined) security.sharedKey = { keyType: 'passPhrase', protected: false, keyMaterial: network.password };
  if (network.eap) {
    const eap = network.eap;
    if (eap.identity || eap.password) warn(`${at}/eap/identity`, 'Windows WLAN profiles carry no user name or password: Windows asks for them at the first connection');
    const peap = eap.method === 'peap';
    if (peap && eap.innerMethod === 'pap') warn(`${at}/eap/innerMethod`, 'Windows runs PEAP with MSCHAPv2 inside only; pap is ignored');
    security.OneX = {
      '@xmlns': NS.onex,
      EAPConfig: {
        EapHostConfig: {
          '@xmlns': NS.eapHost,
          EapMethod: { Type: { '@xmlns': NS.eapCommon, '#text': EAP_TYPE[eap.method] }, VendorId: { '@xmlns': NS.eapCommon, '#text': 0 }, VendorType: { '@xmlns': NS.eapCommon, '#text': 0 }, AuthorId: { '@xmlns': NS.eapCommon, '#text': peap ? 0 : 311 } },
          Config: peap ? { Eap: { '@xmlns': NS.baseEap, Type: EAP_TYPE.peap, EapType: peapConfig(network, thumbprints) } } : { EapTtls: ttlsConfig(network, thumbprints) },
        },
      },
    };
  }
  const document = {
    WLANProfile: {
      '@xmlns': NS.wlan,
      name: network.ssid,
      SSIDConfig: { SSID: { hex: Buffer.from(network.ssid, 'utf8').toString('hex').toUpperCase(), name: network.ssid }, nonBroadcast: network.hidden ?? false },
      connectionType: 'ESS',
      connectionMode: network.autoJoin === false ? 'manual' : 'auto',
      MSM: { security },
    },
  };
  return `<?xml version="1.0"?>${builder.build(document)}`;
}
