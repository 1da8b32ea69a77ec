import { Type, type Static } from '@sinclair/typebox';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Time = Type.String({ format: 'date-time' });

export const StartBindingBody = Type.Object(
  {
    serviceAccountKey: Type.String({ minLength: 10, maxLength: 10_000, description: 'The JSON key file of the service account holding the Android Management User role' }),
    projectId: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{4,61}[a-z0-9]$', description: 'The Cloud project; by default the one the key names' })),
    adminEmail: Type.Optional(Type.String({ format: 'email', maxLength: 254, description: 'Pre-fills Google’s signup page' })),
    deviceCap: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'The project’s device quota: 500 unless Google validated more' })),
  },
  { additionalProperties: false },
);
export type StartBindingBody = Static<typeof StartBindingBody>;

export const SignupView = Type.Object({ signupUrl: Type.String({ description: 'Google’s signup page: open it in a browser signed in as the authority’s Google administrator' }) });

export const CallbackQuery = Type.Object({ enterpriseToken: Type.String({ minLength: 1, maxLength: 2000 }) });

export const NotificationsBody = Type.Object(
  {
    mode: Type.Union([Type.Literal('pull'), Type.Literal('push'), Type.Literal('none')]),
    topic: Type.Optional(Type.String({ pattern: '^projects/[^/]+/topics/[^/]+$', maxLength: 300 })),
    subscription: Type.Optional(Type.String({ pattern: '^projects/[^/]+/subscriptions/[^/]+$', maxLength: 300 })),
    pushAudience: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    pushServiceAccount: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
  },
  { additionalProperties: false },
);
export type NotificationsBody = Static<typeof NotificationsBody>;

export const UnbindBody = Type.Object({ confirm: Type.String({ minLength: 1, maxLength: 300, description: 'The enterprise name, typed back' }) }, { additionalProperties: false });

export const BindingView = Type.Object({
  state: Type.Union([Type.Literal('none'), Type.Literal('signup_pending'), Type.Literal('bound'), Type.Literal('error'), Type.Literal('unbound')]),
  projectId: Type.Optional(Type.String()),
  serviceAccountEmail: Type.Optional(Type.String()),
  enterpriseName: Type.Optional(Nullable(Type.String())),
  enterpriseDisplayName: Type.Optional(Nullable(Type.String())),
  notificationMode: Type.Optional(Type.String()),
  pubsubTopic: Type.Optional(Nullable(Type.String())),
  pubsubSubscription: Type.Optional(Nullable(Type.String())),
  pushAudience: Type.Optional(Nullable(Type.String())),
  deviceCount: Type.Integer(),
  deviceCap: Type.Integer(),
  capWarning: Nullable(Type.String()),
  lastError: Type.Optional(Nullable(Type.String())),
  lastErrorAt: Type.Optional(Nullable(Time)),
  boundAt: Type.Optional(Nullable(Time)),
  unboundAt: Type.Optional(Nullable(Time)),
});
export type BindingView = Static<typeof BindingView>;

export const AmapiTokenView = Type.Object({
  tokenId: Type.String({ format: 'uuid' }),
  googleName: Type.String(),
  qrCode: Type.String({ description: 'Encode verbatim as the QR code the tablet scans at its welcome screen' }),
  expiresAt: Time,
});
export type AmapiTokenView = Static<typeof AmapiTokenView>;

/** Pub/Sub's push body. */
export const PushBody = Type.Object({
  message: Type.Object({
    messageId: Type.String({ minLength: 1, maxLength: 200 }),
    publishTime: Type.String({ minLength: 1, maxLength: 64 }),
    data: Type.Optional(Type.String({ maxLength: 10_000_000 })),
    attributes: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 2000 }))),
  }),
  subscription: Type.Optional(Type.String({ maxLength: 300 })),
});
export type PushBody = Static<typeof PushBody>;
