import { Type, type Static, type TSchema } from '@sinclair/typebox';

/**
 * The neutral configuration profile: written once, compiled for iPad (.mobileconfig), Android
 * (agent policy) and Windows (OMA-DM commands). Every section is optional; an absent field
 * leaves the tablet's own setting alone. Closed objects: a misspelt field is an error, never
 * a setting silently ignored.
 */

const closed = <T extends Parameters<typeof Type.Object>[0]>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description });
const text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, description });
const optional = <T extends TSchema>(schema: T) => Type.Optional(schema);

/** A host name, optionally starting with `*.` (its subdomains). */
export const HOST_PATTERN = '^(\\*\\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';
/** Lower-case words joined by dashes: it names the profile in every platform's identifiers. */
export const PROFILE_ID_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

/** A host name without wildcard: the host and all its subdomains. */
export const DOMAIN_PATTERN = '^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$';

const Host = (description: string) => Type.String({ pattern: HOST_PATTERN, maxLength: 253, description });
const WebUrl = (description: string) => Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description });
const Port = Type.Integer({ minimum: 1, maximum: 65535, description: 'TCP port' });
const CertificateRef = Type.String({ pattern: PROFILE_ID_PATTERN, maxLength: 64, description: 'The `id` of an entry of `certificates`.' });

/** Where a proxy is: `host` and `port`, or a PAC file (validation insists on one of the two). */
const proxyLocation = {
  host: optional(Host('Proxy host name (with `port`), for a manual proxy.')),
  port: optional(Port),
  pacUrl: optional(WebUrl('URL of a proxy auto-configuration (PAC) file, instead of host and port.')),
};

export const ProxySettings = closed(proxyLocation, 'A proxy: `host` and `port`, or `pacUrl`.');

export const GlobalProxy = closed(
  {
    ...proxyLocation,
    excludedHosts: optional(Type.Array(Host('A host reached without the proxy.'), { maxItems: 100, uniqueItems: true })),
    allowCaptivePortal: optional(Type.Boolean({ description: 'Let the tablet reach a captive portal (hotel, station Wi-Fi) without the proxy. Default false.' })),
  },
  'The filtering proxy every network goes through.',
);

export const EapSettings = closed(
  {
    method: Type.Union([Type.Literal('peap'), Type.Literal('ttls')], { description: 'Outer EAP method.' }),
    innerMethod: optional(Type.Union([Type.Literal('mschapv2'), Type.Literal('pap')], { description: 'Inner authentication. Default mschapv2.' })),
    identity: optional(text(253, 'User name sent to the RADIUS server.')),
    anonymousIdentity: optional(text(253, 'Outer (anonymous) identity.')),
    password: optional(text(256, 'Password of `identity`.')),
    caCertificates: Type.Array(CertificateRef, { minItems: 1, maxItems: 5, uniqueItems: true, description: 'Certificates (ids) that the RADIUS server certificate must chain to.' }),
    serverNames: Type.Array(Host('Expected RADIUS server name, e.g. `radius.agglo.fr` or `*.agglo.fr`.'), { minItems: 1, maxItems: 10, uniqueItems: true }),
  },
  'WPA2/WPA3-Enterprise (802.1X) settings.',
);

export const WifiNetwork = closed(
  {
    ssid: Type.String({ minLength: 1, maxLength: 32, description: 'Network name (at most 32 bytes in UTF-8).' }),
    security: Type.Union([Type.Literal('open'), Type.Literal('wpa2'), Type.Literal('wpa3'), Type.Literal('eap')], {
      description: '`wpa2` and `wpa3` are personal (a passphrase); `eap` is enterprise (802.1X).',
    }),
    password: optional(Type.String({ minLength: 8, maxLength: 63, description: 'Passphrase, for `wpa2` and `wpa3`.' })),
    eap: optional(EapSettings),
    hidden: optional(Type.Boolean({ description: 'The network does not broadcast its name. Default false.' })),
    autoJoin: optional(Type.Boolean({ description: 'Join automatically when in range. Default true.' })),
    proxy: optional(ProxySettings),
  },
  'A Wi-Fi network.',
);

export const TrustedCertificate = closed(
  {
    id: Type.String({ pattern: PROFILE_ID_PATTERN, maxLength: 64, description: 'Referenced by `wifi[].eap.caCertificates`.' }),
    name: text(120, 'Shown to people on the tablet.'),
    pem: Type.String({ minLength: 1, maxLength: 16384, description: 'One X.509 certificate, PEM.' }),
  },
  'A root certificate the tablets trust: the filtering proxy\u2019s inspection CA, the RADIUS server\u2019s CA.',
);

export const AllowedSite = closed(
  {
    url: WebUrl('A site pupils may open (and its pages).'),
    title: text(120, 'Its name in the bookmarks pupils see.'),
  },
  'A site of an allow list.',
);

export const WebFilter = closed(
  {
    mode: Type.Union([Type.Literal('deny_list'), Type.Literal('allow_list_only')], {
      description: '`deny_list`: everything but `denyList`; `allow_list_only`: nothing but `allowList` (circulaire 2004-035: a-priori lists).',
    }),
    denyList: optional(Type.Array(Type.String({ pattern: DOMAIN_PATTERN, maxLength: 253, description: 'A blocked site: the domain and its subdomains, e.g. `jeux.example`.' }), { minItems: 1, maxItems: 1000, uniqueItems: true })),
    allowList: optional(Type.Array(AllowedSite, { minItems: 1, maxItems: 200 })),
    blockAdultContent: optional(Type.Boolean({ description: 'Also block adult sites with the platform\u2019s own classifier. Default false.' })),
  },
  'Web filtering on the tablet itself (a-priori lists).',
);

const allow = (what: string) => optional(Type.Boolean({ description: `${what}. Absent: not managed.` }));

export const Restrictions = closed(
  {
    camera: allow('Use the cameras'),
    screenshots: allow('Take screenshots and screen recordings'),
    appStore: allow('Install apps from the store'),
    appRemoval: allow('Remove apps'),
    inAppPurchases: allow('Buy inside apps'),
    accountChanges: allow('Add or change accounts'),
    factoryReset: allow('Erase the tablet from its settings'),
    removeManagement: allow('Remove the tablet from management'),
    wallpaperChanges: allow('Change the wallpaper'),
    assistant: allow('Use the voice assistant'),
  },
  'What pupils may do: `false` forbids, `true` allows, absent leaves the tablet alone.',
);

export const Kiosk = closed(
  {
    apps: closed(
      {
        ios: optional(text(255, 'Bundle identifier, e.g. `fr.example.evaluation`.')),
        android: optional(text(255, 'Package name.')),
        windows: optional(text(255, 'Application User Model ID (AUMID) of a packaged app.')),
      },
      'The one app, as each platform names it.',
    ),
    volumeButtons: optional(Type.Boolean({ description: 'Volume buttons work. Default true.' })),
    autoLock: optional(Type.Boolean({ description: 'The screen locks after inactivity. Default true.' })),
    rotation: optional(Type.Boolean({ description: 'The screen rotates. Default true.' })),
  },
  'Single-app mode (exam, evaluation): the tablet runs one app and nothing else.',
);

export const Passcode = closed(
  {
    required: Type.Boolean({ description: 'A passcode must be set.' }),
    minLength: optional(Type.Integer({ minimum: 4, maximum: 16 })),
    kind: optional(Type.Union([Type.Literal('numeric'), Type.Literal('alphanumeric')], { description: 'Default numeric.' })),
    maxInactivityMinutes: optional(Type.Integer({ minimum: 1, maximum: 15, description: 'Lock after this many idle minutes.' })),
  },
  'Device passcode.',
);

export const NeutralProfile = closed(
  {
    schemaVersion: Type.Literal(1),
    id: Type.String({ pattern: PROFILE_ID_PATTERN, minLength: 2, maxLength: 64, description: 'Stable identifier: recompiling keeps every platform identifier.' }),
    version: Type.Integer({ minimum: 1, description: 'Raised at each change.' }),
    name: text(120, 'Shown to technicians and on the tablet.'),
    description: optional(Type.String({ maxLength: 2000 })),
    organisation: optional(text(120, 'Shown on the tablet as the profile\u2019s issuer.')),
    wifi: optional(Type.Array(WifiNetwork, { minItems: 1, maxItems: 10 })),
    certificates: optional(Type.Array(TrustedCertificate, { minItems: 1, maxItems: 10 })),
    proxy: optional(GlobalProxy),
    webFilter: optional(WebFilter),
    restrictions: optional(Restrictions),
    kiosk: optional(Kiosk),
    lockScreenMessage: optional(text(200, 'Shown on the lock screen, e.g. who owns the tablet.')),
    supportMessage: optional(text(200, 'Shown when pupils meet a blocked setting.')),
    passcode: optional(Passcode),
  },
  'A configuration profile in Cartable\u2019s neutral form.',
);

export type NeutralProfile = Static<typeof NeutralProfile>;
export type WifiNetwork = Static<typeof WifiNetwork>;
export type ProxySettings = Static<typeof ProxySettings>;
export type GlobalProxy = Static<typeof GlobalProxy>;
export type TrustedCertificate = Static<typeof TrustedCertificate>;
export type WebFilter = Static<typeof WebFilter>;
export type Restrictions = Static<typeof Restrictions>;
export type RestrictionName = keyof Restrictions;
export type Kiosk = Static<typeof Kiosk>;
export type Passcode = Static<typeof Passcode>;

export type ProfilePlatform = 'ios' | 'android' | 'windows';
export const PROFILE_PLATFORMS: readonly ProfilePlatform[] = ['ios', 'android', 'windows'];

/**
 * What a platform cannot express of a field, or expresses only in part: shown before anything
 * is pushed. `path` is a JSON Pointer into the neutral profile.
 */
export interface CompileWarning {
  path: string;
  message: string;
}

/** A compiler's output: the native form and what it could not carry. */
export interface Compiled<T> {
  output: T;
  warnings: CompileWarning[];
}
