/** Provisioning QR code and enrollment (`POST /agent/v1/enroll`), plus the problem document. */
import { Type, type Static } from '@sinclair/typebox';
import { KeyAttestation, PreviousEnrollment } from './certificates';
import { Base64, DateTime, DesiredState, Hardware, HttpUrl, NonEmptyString, NonNegInt, Obj, Pem, PushRegistration, Uuid } from './common';
import { QR_EXTRAS } from './constants';

/** Agent application identity. */
export const AgentInfo = Obj(
  {
    packageName: NonEmptyString('Android package name of the agent.'),
    versionName: Type.String(),
    versionCode: NonNegInt(),
  },
  { title: 'AgentInfo' },
);
export type AgentInfo = Static<typeof AgentInfo>;

export const EnrollRequest = Obj(
  {
    token: NonEmptyString('Enrollment token from the QR admin extras bundle.'),
    csr: Pem('PEM PKCS#10 request signed with the device key (EC P-256 recommended, RSA >= 2048 accepted).'),
    hardware: Hardware,
    agent: AgentInfo,
    capabilities: Type.Optional(
      Type.Array(NonEmptyString(), { maxItems: 256, description: 'Features the agent implements, as it will announce them in hello.' }),
    ),
    attestation: Type.Optional(KeyAttestation),
    previous: Type.Optional(PreviousEnrollment),
    push: Type.Optional(PushRegistration),
  },
  { title: 'EnrollRequest', description: 'Body of POST /agent/v1/enroll.' },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

export const Endpoints = Obj(
  {
    ws: Type.String({ pattern: '^wss?://', description: 'WebSocket URL, e.g. wss://mdm.example.org/agent/v1/ws.' }),
    http: Type.String({
      pattern: '^https?://',
      description: 'Base URL of the HTTPS API, e.g. https://mdm.example.org/agent/v1 (no trailing slash).',
    }),
  },
  { title: 'Endpoints' },
);
export type Endpoints = Static<typeof Endpoints>;

export const EnrollResponse = Obj(
  {
    deviceId: Uuid('Device identifier; also the CN of the certificate.'),
    certificate: Pem('PEM X.509 device certificate.'),
    chain: Type.Array(Pem('PEM certificate'), { description: 'Issuer chain, CA certificate last.' }),
    endpoints: Endpoints,
    heartbeatSec: Type.Integer({ minimum: 1 }),
    desiredState: DesiredState,
    previousDeviceId: Type.Optional(Uuid('Set when the enrollment was linked to a previous one (re-enrollment, README §22).')),
    serverTime: Type.Optional(DateTime('Server clock.')),
    minAgentVersionCode: Type.Optional(NonNegInt('Lowest agent versionCode the server accepts commands for.')),
  },
  { title: 'EnrollResponse', description: 'Body of the 201 response to POST /agent/v1/enroll.' },
);
export type EnrollResponse = Static<typeof EnrollResponse>;

/** RFC 9457 problem document (`application/problem+json`) used by every HTTP error. */
export const Problem = Obj(
  {
    type: Type.String({ description: 'URI reference identifying the problem type (informative).' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    detail: Type.Optional(Type.String()),
    code: NonEmptyString('Machine-readable error code; clients branch on this field only.'),
    retryAfterSec: Type.Optional(NonNegInt()),
    errors: Type.Optional(
      Type.Array(Obj({ path: Type.String(), message: Type.String() }), {
        description: 'Details of validation_failed.',
      }),
    ),
  },
  { title: 'Problem' },
);
export type Problem = Static<typeof Problem>;

/** Android provisioning extras a Cartable QR code may carry (README §6), besides the required ones. */
const QrOptionalExtras = {
  'android.app.extra.PROVISIONING_WIFI_SSID': Type.Optional(Type.String({ minLength: 1 })),
  'android.app.extra.PROVISIONING_WIFI_SECURITY_TYPE': Type.Optional(Type.Union([Type.Literal('NONE'), Type.Literal('WPA'), Type.Literal('WEP'), Type.Literal('EAP')])),
  'android.app.extra.PROVISIONING_WIFI_PASSWORD': Type.Optional(Type.String({ description: 'Pre-shared key, or the EAP password.' })),
  'android.app.extra.PROVISIONING_WIFI_HIDDEN': Type.Optional(Type.Boolean()),
  'android.app.extra.PROVISIONING_WIFI_EAP_METHOD': Type.Optional(Type.Union(
    ['PEAP', 'TLS', 'TTLS', 'PWD', 'SIM', 'AKA', 'AKA_PRIME'].map((m) => Type.Literal(m)),
    { description: 'Android 10+, with security type EAP.' },
  )),
  'android.app.extra.PROVISIONING_WIFI_PHASE2_AUTH': Type.Optional(Type.Union(
    ['NONE', 'PAP', 'MSCHAP', 'MSCHAPV2', 'GTC', 'SIM', 'AKA', 'AKA_PRIME'].map((m) => Type.Literal(m)),
    { description: 'Android 10+, with security type EAP.' },
  )),
  'android.app.extra.PROVISIONING_WIFI_IDENTITY': Type.Optional(Type.String({ description: 'Android 10+, EAP identity.' })),
  'android.app.extra.PROVISIONING_WIFI_ANONYMOUS_IDENTITY': Type.Optional(Type.String({ description: 'Android 10+, EAP outer (anonymous) identity.' })),
  'android.app.extra.PROVISIONING_WIFI_DOMAIN': Type.Optional(Type.String({ description: 'Android 10+, domain the RADIUS server certificate must match.' })),
  'android.app.extra.PROVISIONING_WIFI_CA_CERTIFICATE': Type.Optional(Base64('Android 10+, RADIUS CA certificate: DER in standard base64, without PEM header or line breaks.')),
  'android.app.extra.PROVISIONING_WIFI_PROXY_HOST': Type.Optional(Type.String({ minLength: 1 })),
  'android.app.extra.PROVISIONING_WIFI_PROXY_PORT': Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  'android.app.extra.PROVISIONING_WIFI_PROXY_BYPASS': Type.Optional(Type.String({ description: 'Comma-separated hosts reached without the proxy.' })),
  'android.app.extra.PROVISIONING_WIFI_PAC_URL': Type.Optional(HttpUrl('Proxy auto-configuration file.')),
  'android.app.extra.PROVISIONING_LOCALE': Type.Optional(Type.String({ pattern: '^[a-z]{2,3}_[A-Z]{2}$', description: 'Device locale, e.g. fr_FR.' })),
  'android.app.extra.PROVISIONING_TIME_ZONE': Type.Optional(Type.String({ pattern: '^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$', description: 'IANA time zone, e.g. Europe/Paris.' })),
  'android.app.extra.PROVISIONING_USE_MOBILE_DATA': Type.Optional(Type.Boolean({ description: 'Android 13+.' })),
  'android.app.extra.PROVISIONING_ALLOW_OFFLINE': Type.Optional(Type.Boolean({ description: 'Android 13+; only with an agent already present on the device.' })),
  'android.app.extra.PROVISIONING_LEAVE_ALL_SYSTEM_APPS_ENABLED': Type.Optional(Type.Boolean()),
  'android.app.extra.PROVISIONING_SKIP_ENCRYPTION': Type.Optional(Type.Boolean()),
};

/** The JSON encoded in the provisioning QR code (Android device-owner QR provisioning). */
export const ProvisioningQr = Obj(
  {
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': NonEmptyString('Agent DeviceAdminReceiver, "package/class".'),
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION': HttpUrl('Agent APK; https:// outside development.'),
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM': Type.String({
      pattern: '^[A-Za-z0-9_-]{43}=?$',
      description: 'URL-safe base64 of the SHA-256 of the agent signing certificate.',
    }),
    ...QrOptionalExtras,
    'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': Obj({
      [QR_EXTRAS.SERVER_URL]: HttpUrl('Server base URL, e.g. https://mdm.example.org; http:// only for a development build.'),
      [QR_EXTRAS.ENROLLMENT_TOKEN]: NonEmptyString('Opaque enrollment token.'),
      [QR_EXTRAS.SKIP_EDUCATION_SCREENS]: Type.Optional(
        Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Android 10+: "true" skips the provisioning education screens.' }),
      ),
    }),
  },
  { title: 'ProvisioningQr', description: 'Content of the enrollment QR code.' },
);
export type ProvisioningQr = Static<typeof ProvisioningQr>;
