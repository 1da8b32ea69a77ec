/** HTTPS fallback bodies: challenge, session and exchange. */
import { Type, type Static } from '@sinclair/typebox';
import {
  Base64,
  DateTime,
  DesiredState,
  FreeObject,
  NonEmptyString,
  NonNegInt,
  Nonce,
  Obj,
  Pem,
  ProtocolRange,
  PushRegistration,
  Uuid,
} from './common';
import { Envelope } from './envelope';

/** Response of `GET /agent/v1/challenge`. The nonce is single-use. */
export const ChallengeResponse = Obj(
  {
    nonce: Nonce(),
    serverTime: DateTime(),
    expiresInSec: Type.Integer({ minimum: 1, description: 'Nonce lifetime (60).' }),
  },
  { title: 'ChallengeResponse' },
);
export type ChallengeResponse = Static<typeof ChallengeResponse>;

/** Body of `POST /agent/v1/session`. */
export const SessionRequest = Obj(
  {
    deviceId: Uuid(),
    certificate: Pem('PEM device certificate.'),
    nonce: Nonce(),
    signature: Base64('Same signed string as the WebSocket hello.'),
    protocol: Type.Optional(ProtocolRange),
    capabilities: Type.Optional(Type.Array(NonEmptyString(), { maxItems: 256 })),
    agent: Type.Optional(Obj({ versionName: Type.String(), versionCode: NonNegInt() })),
    bootId: Type.Optional(Type.String({ maxLength: 128 })),
    appliedStateVersion: Type.Optional(NonNegInt()),
    lastCommandIds: Type.Optional(Type.Array(Uuid(), { maxItems: 100 })),
    push: Type.Optional(PushRegistration),
  },
  { title: 'SessionRequest' },
);
export type SessionRequest = Static<typeof SessionRequest>;

/** 200 response of `POST /agent/v1/session`. */
export const SessionResponse = Obj(
  {
    token: NonEmptyString('Opaque bearer token for /exchange.'),
    expiresAt: DateTime(),
    protocol: Type.Optional(Type.Integer({ minimum: 1 })),
    heartbeatSec: Type.Optional(Type.Integer({ minimum: 1 })),
    serverTime: Type.Optional(DateTime()),
    capabilities: Type.Optional(Type.Array(NonEmptyString(), { maxItems: 256 })),
    desiredState: Type.Optional(DesiredState),
    minAgentVersionCode: Type.Optional(NonNegInt()),
    renewCertificate: Type.Optional(Type.Boolean()),
  },
  { title: 'SessionResponse' },
);
export type SessionResponse = Static<typeof SessionResponse>;

/** Body of `POST /agent/v1/exchange` (Authorization: Bearer <token>). Empty `messages` = poll. */
export const ExchangeRequest = Obj(
  {
    messages: Type.Array(FreeObject('An Envelope. Elements are validated one by one (see validateMessage).'), {
      description: 'Agent messages, processed in order. An invalid element is answered by an error element; it does not fail the request.',
    }),
  },
  { title: 'ExchangeRequest' },
);
export type ExchangeRequest = Static<typeof ExchangeRequest>;

/** 200 response of `POST /agent/v1/exchange`. */
export const ExchangeResponse = Obj(
  {
    messages: Type.Array(Envelope, {
      description: 'Answers (acks, errors, certificate.issued) in request order, then cancels, report requests and pending commands.',
    }),
    pollAfterSec: NonNegInt('Exchange again at the latest after this delay; 0 = immediately.'),
    serverTime: Type.Optional(DateTime('Server clock when the response was built.')),
  },
  { title: 'ExchangeResponse' },
);
export type ExchangeResponse = Static<typeof ExchangeResponse>;
