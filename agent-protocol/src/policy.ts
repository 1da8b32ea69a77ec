/**
 * The content of `desiredState.policy` (README §27): field names and meanings follow the
 * Android Management API's `Policy`, so that a reader who knows AMAPI knows this, and a policy
 * can later be handed to AMAPI with little change. Open objects, like every protocol schema.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Base64, FreeObject, NonEmptyString, NonNegInt, Obj } from './common';

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** AMAPI `UserFacingMessage`. */
export const UserFacingMessage = Obj(
  {
    defaultMessage: Type.String({ minLength: 1, maxLength: 200 }),
    localizedMessages: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'BCP 47 language tag → message.' })),
  },
  { title: 'UserFacingMessage' },
);

const ProxyServer = Obj({ Host: NonEmptyString(), Port: Port });

/** ONC `ProxySettings` of one network. */
export const OncProxySettings = Obj(
  {
    Type: Type.Union([Type.Literal('Direct'), Type.Literal('Manual'), Type.Literal('PAC'), Type.Literal('WPAD')]),
    Manual: Type.Optional(Obj({ HTTPProxy: Type.Optional(ProxyServer), SecureHTTPProxy: Type.Optional(ProxyServer) })),
    PAC: Type.Optional(Type.String({ pattern: '^https?://' })),
    ExcludeDomains: Type.Optional(Type.Array(NonEmptyString())),
  },
  { title: 'OncProxySettings' },
);

export const OncEap = Obj(
  {
    Outer: Type.Union([Type.Literal('PEAP'), Type.Literal('EAP-TTLS'), Type.Literal('EAP-TLS')]),
    Inner: Type.Optional(Type.Union([Type.Literal('Automatic'), Type.Literal('MSCHAPv2'), Type.Literal('PAP'), Type.Literal('GTC')])),
    Identity: Type.Optional(Type.String()),
    AnonymousIdentity: Type.Optional(Type.String()),
    Password: Type.Optional(Type.String()),
    ServerCARefs: Type.Optional(Type.Array(NonEmptyString(), { description: 'GUIDs of `Certificates` entries.' })),
    DomainSuffixMatch: Type.Array(NonEmptyString(), { minItems: 1, description: 'Required: a configuration without it is rejected.' }),
    UseSystemCAs: Type.Optional(Type.Boolean()),
  },
  { title: 'OncEap' },
);

export const OncNetwork = Obj(
  {
    GUID: NonEmptyString('Stable across policy versions: the agent replaces the network it configured under this GUID.'),
    Name: NonEmptyString(),
    Type: Type.Literal('WiFi'),
    WiFi: Obj({
      SSID: Type.String({ minLength: 1, maxLength: 32 }),
      HiddenSSID: Type.Optional(Type.Boolean()),
      AutoConnect: Type.Optional(Type.Boolean()),
      Security: Type.Union([Type.Literal('None'), Type.Literal('WEP-PSK'), Type.Literal('WPA-PSK'), Type.Literal('WPA-EAP'), Type.Literal('WPA3-Enterprise_192')]),
      Passphrase: Type.Optional(Type.String()),
      EAP: Type.Optional(OncEap),
    }),
    ProxySettings: Type.Optional(OncProxySettings),
  },
  { title: 'OncNetwork' },
);

export const OncCertificate = Obj(
  {
    GUID: NonEmptyString(),
    Type: Type.Literal('Authority'),
    X509: Base64('DER certificate, standard base64.'),
    TrustBits: Type.Optional(Type.Array(Type.Literal('Web'), { description: '`Web`: also trusted by apps as a user-added CA (installed with DevicePolicyManager.installCaCert).' })),
  },
  { title: 'OncCertificate' },
);

export const OpenNetworkConfiguration = Obj(
  {
    Type: Type.Optional(Type.Literal('UnencryptedConfiguration')),
    NetworkConfigurations: Type.Optional(Type.Array(OncNetwork)),
    Certificates: Type.Optional(Type.Array(OncCertificate)),
  },
  { title: 'OpenNetworkConfiguration' },
);

export const ApplicationPolicy = Obj(
  {
    packageName: NonEmptyString(),
    installType: Type.Optional(
      Type.Union([Type.Literal('AVAILABLE'), Type.Literal('FORCE_INSTALLED'), Type.Literal('BLOCKED'), Type.Literal('KIOSK')], {
        description: 'Absent: the app is neither installed nor removed because of this policy.',
      }),
    ),
    managedConfiguration: Type.Optional(FreeObject('App restrictions bundle (DevicePolicyManager.setApplicationRestrictions); arrays become String[].')),
  },
  { title: 'ApplicationPolicy' },
);

export const PersistentPreferredActivity = Obj(
  {
    receiverActivity: NonEmptyString('A package name, or package/activity.'),
    actions: Type.Array(NonEmptyString()),
    categories: Type.Array(NonEmptyString()),
  },
  { title: 'PersistentPreferredActivity' },
);

export const PasswordPolicy = Obj(
  {
    passwordScope: Type.Literal('SCOPE_DEVICE'),
    passwordQuality: Type.Union([Type.Literal('SOMETHING'), Type.Literal('NUMERIC_COMPLEX'), Type.Literal('ALPHANUMERIC')]),
    passwordMinimumLength: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
  },
  { title: 'PasswordPolicy' },
);

export const KioskCustomization = Obj(
  {
    statusBar: Type.Optional(Type.Union([Type.Literal('NOTIFICATIONS_AND_SYSTEM_INFO_ENABLED'), Type.Literal('NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED'), Type.Literal('SYSTEM_INFO_ONLY')])),
    systemNavigation: Type.Optional(Type.Union([Type.Literal('NAVIGATION_ENABLED'), Type.Literal('NAVIGATION_DISABLED'), Type.Literal('HOME_BUTTON_ONLY')])),
    deviceSettings: Type.Optional(Type.Union([Type.Literal('SETTINGS_ACCESS_ALLOWED'), Type.Literal('SETTINGS_ACCESS_BLOCKED')])),
    powerButtonActions: Type.Optional(Type.Union([Type.Literal('POWER_BUTTON_AVAILABLE'), Type.Literal('POWER_BUTTON_BLOCKED')])),
  },
  { title: 'KioskCustomization' },
);

const LocalTime = (description: string) => Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description });
const CalendarDate = (description: string) => Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description });

/**
 * Cartable's own field (AMAPI has none): when the agent may report its position by itself (§27.4).
 * Absent: location is off, as it is by default; the `locate` command and lost mode work under
 * `on_demand` and `school_hours` alike.
 */
export const LocationReporting = Obj(
  {
    mode: Type.Union([Type.Literal('on_demand'), Type.Literal('school_hours')], { description: '`on_demand`: no report of its own; `school_hours`: one fix every `intervalMinutes` inside `hours`.' }),
    intervalMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 240, description: 'Minutes between two reports under `school_hours`.' })),
    timeZone: Type.Optional(NonEmptyString('IANA time zone of the school: `hours` and `excludedDates` are local to it.')),
    hours: Type.Optional(
      Type.Array(
        Obj({
          days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, description: 'ISO weekdays: 1 Monday … 7 Sunday.' }),
          start: LocalTime('Local start time, included.'),
          end: LocalTime('Local end time, excluded; after `start`.'),
        }),
        { maxItems: 28 },
      ),
    ),
    excludedDates: Type.Optional(Type.Array(Obj({ from: CalendarDate('First day, included.'), to: CalendarDate('Last day, included.') }), { maxItems: 400, description: 'Holidays and closures: no report on these days.' })),
  },
  { title: 'LocationReporting' },
);
export type LocationReporting = Static<typeof LocationReporting>;

const disabled = (what: string) => Type.Optional(Type.Boolean({ description: `${what}. Absent: left as it is.` }));

export const Policy = Obj(
  {
    openNetworkConfiguration: Type.Optional(OpenNetworkConfiguration),
    recommendedGlobalProxy: Type.Optional(
      Obj(
        {
          host: Type.Optional(NonEmptyString()),
          port: Type.Optional(Port),
          excludedHosts: Type.Optional(Type.Array(NonEmptyString())),
          pacUri: Type.Optional(Type.String({ pattern: '^https?://' })),
        },
        { title: 'ProxyInfo' },
      ),
    ),
    applications: Type.Optional(Type.Array(ApplicationPolicy)),
    persistentPreferredActivities: Type.Optional(Type.Array(PersistentPreferredActivity)),
    kioskCustomization: Type.Optional(KioskCustomization),
    cameraDisabled: disabled('Cameras are off'),
    screenCaptureDisabled: disabled('Screenshots and screen recording are off'),
    installAppsDisabled: disabled('People cannot install apps'),
    uninstallAppsDisabled: disabled('People cannot uninstall apps'),
    modifyAccountsDisabled: disabled('People cannot add or remove accounts'),
    factoryResetDisabled: disabled('Factory reset from Settings is off'),
    setWallpaperDisabled: disabled('People cannot change the wallpaper'),
    adjustVolumeDisabled: disabled('Volume is muted and cannot be changed'),
    passwordPolicies: Type.Optional(Type.Array(PasswordPolicy, { maxItems: 1 })),
    maximumTimeToLock: Type.Optional(NonNegInt('Milliseconds of inactivity before the screen locks; 0 = no limit.')),
    shortSupportMessage: Type.Optional(UserFacingMessage),
    deviceOwnerLockScreenInfo: Type.Optional(UserFacingMessage),
    locationReporting: Type.Optional(LocationReporting),
  },
  { title: 'Policy', description: 'Content of desiredState.policy (README §27).' },
);
export type Policy = Static<typeof Policy>;
