import { Type } from '@sinclair/typebox';

const Uuid = Type.String({ format: 'uuid' });

export const TokenView = Type.Object({
  id: Uuid,
  schoolId: Uuid,
  groupId: Type.Union([Uuid, Type.Null()]),
  label: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
  uses: Type.Integer(),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  state: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('revoked'), Type.Literal('exhausted')]),
});

export const CreateTokenBody = Type.Object(
  {
    schoolId: Uuid,
    groupId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    label: Type.String({ minLength: 1, maxLength: 200 }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'Default: in 7 days; at most 366 days ahead.' })),
    maxUses: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100000 }), Type.Null()])),
  },
  { additionalProperties: false },
);

/** An iPad opens the link (typed, or scanned from the QR code) in Safari to download its enrollment profile. */
export const AppleEnrollment = Type.Object({
  enrollmentUrl: Type.String({ format: 'uri' }),
  qrCodeSvg: Type.String({ description: 'The link as a QR code, SVG' }),
});

/** The clear token is shown once, at creation; afterwards only its QR codes reveal it. */
export const CreatedToken = Type.Object({ token: Type.String(), enrollmentToken: TokenView, apple: AppleEnrollment });

export const TokenParams = Type.Object({ id: Uuid });

export const ListTokensQuery = Type.Object(
  {
    schoolId: Type.Optional(Uuid),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const QrFormat = Type.Union([Type.Literal('png'), Type.Literal('svg'), Type.Literal('json')]);

export const QrQuery = Type.Object({ format: Type.Optional(QrFormat) }, { additionalProperties: false });

const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });

/** POST variant: Wi-Fi credentials travel in the body, never in a URL that proxies may log. */
export const QrBody = Type.Object(
  {
    format: Type.Optional(QrFormat),
    wifi: Type.Optional(
      Type.Object(
        {
          ssid: Type.String({ minLength: 1, maxLength: 32 }),
          securityType: Type.Optional(OneOf(['NONE', 'WPA', 'WEP', 'EAP'])),
          password: Type.Optional(Type.String({ maxLength: 128 })),
          hidden: Type.Optional(Type.Boolean()),
          eapMethod: Type.Optional(OneOf(['PEAP', 'TLS', 'TTLS', 'PWD', 'SIM', 'AKA', 'AKA_PRIME'])),
          phase2Auth: Type.Optional(OneOf(['NONE', 'PAP', 'MSCHAP', 'MSCHAPV2', 'GTC', 'SIM', 'AKA', 'AKA_PRIME'])),
          identity: Type.Optional(Text(256)),
          anonymousIdentity: Type.Optional(Text(256)),
          domain: Type.Optional(Text(253)),
          caCertificate: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]+={0,2}$', maxLength: 1500, description: "RADIUS server's CA certificate, DER in base64 (no PEM header); an EC certificate keeps the QR code small" })),
          proxyHost: Type.Optional(Text(253)),
          proxyPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          proxyBypass: Type.Optional(Text(512)),
          pacUrl: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 512 })),
        },
        { additionalProperties: false },
      ),
    ),
    locale: Type.Optional(Type.String({ pattern: '^[a-z]{2,3}_[A-Z]{2}$', description: 'language_COUNTRY, e.g. fr_FR' })),
    timeZone: Type.Optional(Type.String({ pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$', maxLength: 64, description: 'IANA time zone, e.g. Europe/Paris' })),
    useMobileData: Type.Optional(Type.Boolean()),
    allowOffline: Type.Optional(Type.Boolean()),
    leaveAllSystemAppsEnabled: Type.Optional(Type.Boolean()),
    skipEducationScreens: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const ComponentName = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+/\\.?[A-Za-z][A-Za-z0-9_.$]*$', description: 'package/class, e.g. fr.cartable.agent/.AdminReceiver' });

export const AgentPackage = Type.Object(
  {
    componentName: ComponentName,
    downloadUrl: Type.String({ pattern: '^https://', maxLength: 2048 }),
    signatureChecksum: Type.String({ pattern: '^[A-Za-z0-9_-]{43}=?$', description: 'URL-safe base64 SHA-256 of the APK signing certificate' }),
  },
  { additionalProperties: false },
);

/**
 * The agent package named by a catalog version: the server reads the signer from the APK it holds,
 * so the checksum is right by construction, and serves the file itself.
 */
export const AgentPackageFromCatalog = Type.Object(
  {
    appVersionId: Type.String({ format: 'uuid', description: 'A version of an APK in the app catalog (POST /api/v1/apps/packages).' }),
    componentName: Type.Optional({ ...ComponentName, description: 'package/class of the device admin receiver; `{package}/.AdminReceiver` when absent (Cartable\u2019s agent).' }),
  },
  { additionalProperties: false },
);
