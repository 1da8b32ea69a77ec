/** Connection-level messages: authentication handshake, errors, heartbeats, acks and nudges. */
import { Type, type Static } from '@sinclair/typebox';
import {
  Base64,
  DateTime,
  DesiredState,
  NonEmptyString,
  NonNegInt,
  Nonce,
  Obj,
  Pem,
  ProtocolRange,
  PushRegistration,
  Uuid,
} from './common';

const Capabilities = (description: string) =>
  Type.Array(NonEmptyString(), { maxItems: 256, description });

/** Server → agent, first frame on every WebSocket connection. */
export const Challenge = Obj(
  {
    nonce: Nonce(),
    serverTime: DateTime('Server clock, RFC 3339.'),
  },
  { title: 'challenge' },
);
export type Challenge = Static<typeof Challenge>;

/** Agent → server, answer to `challenge`. Must be the first message sent by the agent. */
export const Hello = Obj(
  {
    deviceId: Uuid(),
    certificate: Pem('PEM device certificate received at enrollment.'),
    signature: Base64(
      'Signature with the device key (SHA256withECDSA, DER; or SHA256withRSA, PKCS#1 v1.5) over the UTF-8 bytes of "cartable-agent-auth:v1:" + nonce + ":" + deviceId.',
    ),
    protocol: ProtocolRange,
    capabilities: Capabilities('Features the agent implements (see CAPABILITIES).'),
    agent: Obj({ versionName: Type.String(), versionCode: NonNegInt() }),
    bootId: Type.Optional(Type.String({ maxLength: 128, description: 'Opaque value that changes on every boot.' })),
    lastCommandIds: Type.Optional(
      Type.Array(Uuid(), { maxItems: 100, description: 'Most recent commandIds already received, newest first.' }),
    ),
    appliedStateVersion: Type.Optional(NonNegInt('Version of the desired state currently applied by the agent.')),
    push: Type.Optional(PushRegistration),
  },
  { title: 'hello' },
);
export type Hello = Static<typeof Hello>;

/** Server → agent, successful authentication. */
export const Welcome = Obj(
  {
    protocol: Type.Integer({ minimum: 1, description: 'Chosen protocol version.' }),
    heartbeatSec: Type.Integer({ minimum: 1 }),
    serverTime: DateTime('Server clock; the agent derives its clock skew from it.'),
    capabilities: Capabilities('Features the server implements.'),
    desiredState: Type.Optional(DesiredState),
    minAgentVersionCode: Type.Optional(
      NonNegInt('Lowest agent versionCode the server accepts commands for; an older agent must update itself (README §24).'),
    ),
    renewCertificate: Type.Optional(Type.Boolean({ description: 'true: renew the device certificate now (README §20).' })),
  },
  { title: 'welcome' },
);
export type Welcome = Static<typeof Welcome>;

/** Either direction. Reports a problem with a connection or with the message named by `ref`. */
export const ErrorMessage = Obj(
  {
    code: NonEmptyString('Error code (see ERROR_CODES). Unknown codes must be handled generically.'),
    message: Type.String({ description: 'Human-readable explanation (English, for logs).' }),
    retryAfterSec: Type.Optional(NonNegInt()),
    index: Type.Optional(
      NonNegInt('In an HTTPS exchange response: position, in the request\'s messages array, of the element this error is about.'),
    ),
  },
  { title: 'error' },
);
export type ErrorMessage = Static<typeof ErrorMessage>;

/** Either direction. Heartbeat; the receiver answers `pong` with `ref` = the ping id. */
export const Ping = Obj({}, { title: 'ping' });
export type Ping = Static<typeof Ping>;

export const Pong = Obj({}, { title: 'pong' });
export type Pong = Static<typeof Pong>;

/** Acknowledges the message named by the envelope `ref` (reports, results, command.cancel). */
export const Ack = Obj({}, { title: 'ack' });
export type Ack = Static<typeof Ack>;

/** Server → agent: "exchange now" (flush the outbox; over HTTPS, exchange again immediately). */
export const Nudge = Obj({}, { title: 'nudge' });
export type Nudge = Static<typeof Nudge>;
