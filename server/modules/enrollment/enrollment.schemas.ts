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

/** The clear token is shown once, at creation; afterwards only its QR code reveals it. */
export const CreatedToken = Type.Object({ token: Type.String(), enrollmentToken: TokenView });

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

/** POST variant: Wi-Fi credentials travel in the body, never in a URL that proxies may log. */
export const QrBody = Type.Object(
  {
    format: Type.Optional(QrFormat),
    wifi: Type.Optional(
      Type.Object(
        {
          ssid: Type.String({ minLength: 1, maxLength: 32 }),
          securityType: Type.Optional(Type.Union([Type.Literal('NONE'), Type.Literal('WPA'), Type.Literal('WEP'), Type.Literal('EAP')])),
          password: Type.Optional(Type.String({ maxLength: 128 })),
          hidden: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const AgentPackage = Type.Object(
  {
    componentName: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+/\\.?[A-Za-z][A-Za-z0-9_.$]*$', description: 'package/class, e.g. fr.cartable.agent/.AdminReceiver' }),
    downloadUrl: Type.String({ pattern: '^https://', maxLength: 2048 }),
    signatureChecksum: Type.String({ pattern: '^[A-Za-z0-9_-]{43}=?$', description: 'URL-safe base64 SHA-256 of the APK signing certificate' }),
  },
  { additionalProperties: false },
);
