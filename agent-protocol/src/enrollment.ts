/** Provisioning QR code and enrollment (`POST /agent/v1/enroll`), plus the problem document. */
import { Type, type Static } from '@sinclair/typebox';
import { DesiredState, Hardware, NonEmptyString, NonNegInt, Obj, Pem, Uuid } from './common';
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

/** The JSON encoded in the provisioning QR code (Android device-owner QR provisioning). */
export const ProvisioningQr = Obj(
  {
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': NonEmptyString('Agent DeviceAdminReceiver, "package/class".'),
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION': Type.String({ pattern: '^https://' }),
    'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM': Type.String({
      pattern: '^[A-Za-z0-9_-]{43}=?$',
      description: 'URL-safe base64 of the SHA-256 of the agent signing certificate.',
    }),
    'android.app.extra.PROVISIONING_WIFI_SSID': Type.Optional(Type.String()),
    'android.app.extra.PROVISIONING_WIFI_SECURITY_TYPE': Type.Optional(
      Type.Union([Type.Literal('NONE'), Type.Literal('WPA'), Type.Literal('WEP'), Type.Literal('EAP')]),
    ),
    'android.app.extra.PROVISIONING_WIFI_PASSWORD': Type.Optional(Type.String()),
    'android.app.extra.PROVISIONING_WIFI_HIDDEN': Type.Optional(Type.Boolean()),
    'android.app.extra.PROVISIONING_USE_MOBILE_DATA': Type.Optional(Type.Boolean()),
    'android.app.extra.PROVISIONING_LEAVE_ALL_SYSTEM_APPS_ENABLED': Type.Optional(Type.Boolean()),
    'android.app.extra.PROVISIONING_SKIP_ENCRYPTION': Type.Optional(Type.Boolean()),
    'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': Obj({
      [QR_EXTRAS.SERVER_URL]: Type.String({
        pattern: '^https://',
        description: 'Server base URL, e.g. https://mdm.example.org',
      }),
      [QR_EXTRAS.ENROLLMENT_TOKEN]: NonEmptyString('Opaque enrollment token.'),
    }),
  },
  { title: 'ProvisioningQr', description: 'Content of the enrollment QR code.' },
);
export type ProvisioningQr = Static<typeof ProvisioningQr>;
