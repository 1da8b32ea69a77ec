/**
 * Shared building blocks for the Cartable agent protocol schemas.
 *
 * Conventions:
 * - Every object schema is open (`additionalProperties: true`): receivers
 *   MUST ignore fields they do not know. Servers strip them before storing
 *   (see `stripUnknownFields`).
 * - Free-form objects (command params, event data, policy, ...) are
 *   `Record<string, unknown>` so that stripping never touches their content.
 * - Formats are expressed with `pattern` (not `format`) so that the compiled
 *   checkers do not depend on a global format registry.
 */
import { Type, type Static, type TProperties, type ObjectOptions } from '@sinclair/typebox';

/** An open object: unknown properties are allowed (forward compatibility). */
export function Obj<T extends TProperties>(properties: T, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: true, ...options });
}

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** RFC 3339 date-time, e.g. `2025-09-01T08:30:00Z` or `2025-09-01T10:30:00.123+02:00`. */
export const DATE_TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$';
/** Standard base64 (RFC 4648 §4) with padding. */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';
/** A SHA-256 digest as 64 hexadecimal digits (senders use lowercase). */
export const HEX64_PATTERN = '^[0-9a-fA-F]{64}$';
/** 32 random bytes encoded as standard base64 (44 characters). */
export const NONCE_PATTERN = '^[A-Za-z0-9+/]{43}=$';

export const Uuid = (description?: string) =>
  Type.String({ pattern: UUID_PATTERN, ...(description ? { description } : {}) });

export const DateTime = (description?: string) =>
  Type.String({ pattern: DATE_TIME_PATTERN, ...(description ? { description } : {}) });

export const Nonce = () =>
  Type.String({ pattern: NONCE_PATTERN, description: '32 random bytes, standard base64 (44 characters).' });

export const Base64 = (description?: string) =>
  Type.String({ pattern: BASE64_PATTERN, minLength: 4, ...(description ? { description } : {}) });

/** A PEM document (certificate or CSR). Semantic checks are done by the server, not by the schema. */
export const Pem = (description: string) => Type.String({ minLength: 1, maxLength: 16384, description });

export const Sha256Hex = (description?: string) =>
  Type.String({ pattern: HEX64_PATTERN, ...(description ? { description } : {}) });

/** An absolute URL. `https://` outside development; `http://` only for a development build (README §3). */
export const HttpUrl = (description: string) => Type.String({ pattern: '^https?://', maxLength: 2048, description });

export const NonNegInt = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, ...(description ? { description } : {}) });

export const Percent = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: 100, ...(description ? { description } : {}) });

/** A free-form JSON object whose content is defined elsewhere (or not at all). */
export const FreeObject = (description?: string) =>
  Type.Record(Type.String(), Type.Unknown(), description ? { description } : {});

export const NonEmptyString = (description?: string) =>
  Type.String({ minLength: 1, ...(description ? { description } : {}) });

/** `{ min, max }` range of protocol versions an agent supports (inclusive). */
export const ProtocolRange = Obj(
  {
    min: Type.Integer({ minimum: 1, maximum: 1000 }),
    max: Type.Integer({ minimum: 1, maximum: 1000 }),
  },
  { title: 'ProtocolRange' },
);
export type ProtocolRange = Static<typeof ProtocolRange>;

/** The agent's push registration (README §23). Unknown providers are ignored by the server. */
export const PushRegistration = Obj(
  {
    provider: NonEmptyString('Push provider, "fcm" (Firebase Cloud Messaging). Open vocabulary.'),
    token: Type.String({ minLength: 1, maxLength: 4096, description: 'Registration token issued to this app instance by the provider.' }),
    projectId: Type.Optional(Type.String({ maxLength: 128, description: 'FCM: the Firebase project the token belongs to.' })),
  },
  { title: 'PushRegistration' },
);
export type PushRegistration = Static<typeof PushRegistration>;

/** Device hardware facts, sent at enrollment and in `report.inventory`. */
export const Hardware = Obj(
  {
    serial: Type.String({ description: 'Build.getSerial(); "unknown" if unavailable.' }),
    manufacturer: Type.String(),
    model: Type.String(),
    brand: Type.Optional(Type.String()),
    androidVersion: Type.String({ description: 'Build.VERSION.RELEASE, e.g. "14".' }),
    sdkInt: Type.Integer({ minimum: 1, maximum: 1000, description: 'Build.VERSION.SDK_INT, e.g. 34.' }),
    securityPatch: Type.Optional(Type.String({ description: 'Build.VERSION.SECURITY_PATCH, "YYYY-MM-DD".' })),
    imei: Type.Optional(Type.String()),
    wifiMac: Type.Optional(Type.String()),
    totalStorageBytes: Type.Optional(NonNegInt()),
    totalRamBytes: Type.Optional(NonNegInt()),
  },
  { title: 'Hardware' },
);
export type Hardware = Static<typeof Hardware>;

/** The versioned desired state (policy) of a device (§27). */
export const DesiredState = Obj(
  {
    version: NonNegInt('Monotonically increasing policy version.'),
    policy: FreeObject('Effective policy: see policy.schema.json (§27.2).'),
  },
  { title: 'DesiredState' },
);
export type DesiredState = Static<typeof DesiredState>;

/** Properties of a location fix; shared by `report.location` and the `locate` command result. */
export const LocationFixProperties = {
  lat: Type.Number({ minimum: -90, maximum: 90 }),
  lon: Type.Number({ minimum: -180, maximum: 180 }),
  accuracyM: Type.Number({ minimum: 0, description: 'Horizontal accuracy radius (68 %), metres.' }),
  altitudeM: Type.Optional(Type.Number()),
  speedMps: Type.Optional(Type.Number({ minimum: 0 })),
  bearingDeg: Type.Optional(Type.Number({ minimum: 0, maximum: 360 })),
  provider: Type.Union([Type.Literal('gps'), Type.Literal('network'), Type.Literal('fused')]),
  fixTime: DateTime('When the fix was obtained (not when it was sent), on the server clock when known (README §21).'),
  batteryLevel: Type.Optional(Percent()),
  timeUnverified: Type.Optional(
    Type.Boolean({ description: 'true: fixTime is the raw device clock, never compared with the server clock (README §21).' }),
  ),
};

export const LocationFix = Obj(LocationFixProperties, { title: 'LocationFix' });
export type LocationFix = Static<typeof LocationFix>;
