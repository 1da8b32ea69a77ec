/**
 * What an administrator may add to a provisioning QR code besides the agent and the token: the
 * Wi-Fi the setup wizard joins (WPA or 802.1X/EAP, with a proxy), and how the setup runs.
 */
export interface WifiExtras {
  ssid: string;
  securityType?: 'NONE' | 'WPA' | 'WEP' | 'EAP';
  password?: string;
  hidden?: boolean;
  eapMethod?: 'PEAP' | 'TLS' | 'TTLS' | 'PWD' | 'SIM' | 'AKA' | 'AKA_PRIME';
  phase2Auth?: 'NONE' | 'PAP' | 'MSCHAP' | 'MSCHAPV2' | 'GTC' | 'SIM' | 'AKA' | 'AKA_PRIME';
  identity?: string;
  anonymousIdentity?: string;
  /** The domain the RADIUS server's certificate must match; required with `caCertificate`. */
  domain?: string;
  /** The RADIUS server's CA certificate, DER in base64. */
  caCertificate?: string;
  proxyHost?: string;
  proxyPort?: number;
  proxyBypass?: string;
  pacUrl?: string;
}

export interface ProvisioningExtras {
  wifi?: WifiExtras;
  /** `language_COUNTRY`, e.g. fr_FR. */
  locale?: string;
  /** IANA time zone, e.g. Europe/Paris. */
  timeZone?: string;
  useMobileData?: boolean;
  allowOffline?: boolean;
  leaveAllSystemAppsEnabled?: boolean;
  skipEducationScreens?: boolean;
}
