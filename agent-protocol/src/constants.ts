/** Protocol-wide constants: versions, paths, limits, timers, close codes and error codes. */

/** Current (and highest supported) protocol version, negotiated in `hello` / `welcome`. */
export const PROTOCOL_VERSION = 1;
/**
 * Revision of the specification within protocol version 1. Revisions only add optional fields,
 * message types, command kinds and capabilities (see README §19), so they are not negotiated:
 * a peer discovers what the other side implements from its capabilities.
 */
export const SPEC_REVISION = '1.3';
/** Protocol versions this package describes: `{ min, max }`, inclusive. */
export const SUPPORTED_PROTOCOL = { min: 1, max: 1 } as const;

/** Base path of every agent endpoint. */
export const BASE_PATH = '/agent/v1';
export const PATHS = {
  ws: `${BASE_PATH}/ws`,
  enroll: `${BASE_PATH}/enroll`,
  challenge: `${BASE_PATH}/challenge`,
  session: `${BASE_PATH}/session`,
  exchange: `${BASE_PATH}/exchange`,
} as const;

/** Maximum size of one message (WebSocket text frame or one element of an exchange array), UTF-8 bytes. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Maximum size of an HTTPS request body (`/exchange`, `/enroll`, `/session`), UTF-8 bytes. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;

/** Timers, in seconds unless stated otherwise. */
export const TIMERS = {
  /** The agent must send `hello` within this delay after the WebSocket opens. */
  helloTimeoutSec: 10,
  /** Default heartbeat period; the server announces the effective one. */
  defaultHeartbeatSec: 60,
  /** A peer silent for this many heartbeat periods is considered gone. */
  missedHeartbeats: 2,
  /** The server re-sends a command not `command.ack`ed after this delay. */
  commandAckTimeoutSec: 30,
  /** The agent waits at most this long for the `ack` of an `executing` result before a destructive action. */
  destructiveConfirmTimeoutSec: 10,
  /** Lifetime of an HTTPS challenge nonce. */
  challengeExpiresInSec: 60,
  /** Reconnection backoff: exponential from `backoffInitialSec` to `backoffMaxSec`, full jitter. */
  backoffInitialSec: 1,
  backoffMaxSec: 300,
  /** The server remembers processed message ids at least this long. */
  dedupWindowSec: 24 * 3600,
  /** The agent remembers seen commandIds (and their results) at least this long. */
  commandMemorySec: 30 * 24 * 3600,
  /** Maximum `expiresAt - issuedAt` of a command. */
  maxCommandTtlSec: 30 * 24 * 3600,
  /** The server shows a silent device offline at the latest this many heartbeats after its last message. */
  offlineDetectionHeartbeats: 2.5,
  /** A connection attempt that has not reached `welcome` (or a first exchange) after this delay has failed. */
  connectAttemptTimeoutSec: 30,
  /** Consecutive WebSocket failures before the agent tries the HTTPS fallback. */
  fallbackAfterWsFailures: 3,
  /** While on the HTTPS fallback, the agent probes the WebSocket after this delay, doubling up to the maximum. */
  wsProbeInitialSec: 30,
  wsProbeMaxSec: 15 * 60,
  /** Validity of a device certificate issued by a 1.1 server. */
  certificateValidityDays: 365,
  /** The agent renews its certificate once this fraction of the validity period has elapsed. */
  certificateRenewAtFraction: 2 / 3,
  /** Outbox bound: at most this many messages and bytes (UTF-8 JSON) waiting for an ack. */
  outboxMaxMessages: 1000,
  outboxMaxBytes: 8 * 1024 * 1024,
  /** When the outbox is full, at most this many `report.location` are kept (the newest). */
  outboxMaxLocations: 100,
  /** Beyond this clock offset from the server, the agent treats its clock as wrong (see §21). */
  clockToleranceSec: 5 * 60,
  /** The server sends at most one push wake-up per device within this delay. */
  pushMinIntervalSec: 30,
} as const;

/** The prefix of the string signed by the device key (see `authSigningInput`). */
export const AUTH_SIGNING_PREFIX = 'cartable-agent-auth:v1:';

/**
 * The exact string the agent signs (SHA-256, device key) to authenticate:
 * `"cartable-agent-auth:v1:" + nonce + ":" + deviceId`, encoded as UTF-8.
 * `nonce` is the base64 string exactly as received; `deviceId` the lowercase UUID from enrollment.
 */
export function authSigningInput(nonce: string, deviceId: string): string {
  return `${AUTH_SIGNING_PREFIX}${nonce}:${deviceId}`;
}

/** Prefix of the string a renewal request is signed with, by the current device key (§20.2). */
export const RENEW_SIGNING_PREFIX = 'cartable-agent-renew:v1:';
/** Prefix of the string a re-enrollment is signed with, by the previous device key (§22). */
export const REENROLL_SIGNING_PREFIX = 'cartable-agent-reenroll:v1:';
/** Prefix hashed with the enrollment token into the Keystore attestation challenge (§7.6). */
export const ATTESTATION_CHALLENGE_PREFIX = 'cartable-agent-attest:v1:';

/**
 * The string signed by the current device key to authorise a new key (`certificate.renew`):
 * `"cartable-agent-renew:v1:" + deviceId + ":" + csr`, csr being the PEM exactly as sent.
 */
export function renewSigningInput(deviceId: string, csr: string): string {
  return `${RENEW_SIGNING_PREFIX}${deviceId}:${csr}`;
}

/**
 * The string signed by the previous device key in a re-enrollment (`previous.signature`):
 * `"cartable-agent-reenroll:v1:" + previous deviceId + ":" + csr`, csr being the new PEM exactly as sent.
 */
export function reenrollSigningInput(previousDeviceId: string, csr: string): string {
  return `${REENROLL_SIGNING_PREFIX}${previousDeviceId}:${csr}`;
}

/** WebSocket close codes used by the protocol. */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  PROTOCOL_ERROR: 4400,
  AUTH_FAILED: 4401,
  DEVICE_REVOKED: 4403,
  HELLO_TIMEOUT: 4408,
  REPLACED: 4409,
} as const;
export type WsCloseCode = (typeof WS_CLOSE)[keyof typeof WS_CLOSE];

/** Capabilities that allow command kinds (see `COMMAND_CAPABILITY`). */
export const COMMAND_CAPABILITIES = [
  'lock',
  'wipe',
  'reboot',
  'shutdown',
  'locate',
  'lost_mode',
  'message',
  'refresh_inventory',
  'install_app',
  'remove_app',
  'policy',
  'refresh_apps',
  'lost_mode_sound',
] as const;

/** Protocol features an agent announces in `hello` (revision 1.1). */
export const AGENT_FEATURE_CAPABILITIES = ['report_request'] as const;
/** Protocol features a server announces in `welcome` (revision 1.1). */
export const SERVER_FEATURE_CAPABILITIES = ['certificate_renewal', 'push'] as const;

/** Every capability name defined by the specification. The vocabulary is open. */
export const CAPABILITIES = [...COMMAND_CAPABILITIES, ...AGENT_FEATURE_CAPABILITIES, ...SERVER_FEATURE_CAPABILITIES] as const;
export type Capability = (typeof CAPABILITIES)[number];

interface ErrorCodeInfo {
  /** HTTP status used when the error is returned as `application/problem+json`. */
  readonly http?: number;
  /** WebSocket close code used after the `error` message, if the connection is closed. */
  readonly wsClose?: WsCloseCode;
  readonly description: string;
}

function defineErrors<T extends Record<string, ErrorCodeInfo>>(codes: T): T {
  return codes;
}

/** Every protocol-level error code (the `code` of `error` messages and problem documents). */
export const ERROR_CODE_INFO = defineErrors({
  token_unknown: { http: 403, description: 'The enrollment token does not exist.' },
  token_expired: { http: 403, description: 'The enrollment token is past its expiry date.' },
  token_revoked: { http: 403, description: 'The enrollment token was revoked by an administrator.' },
  token_exhausted: { http: 403, description: 'The enrollment token has reached its maximum number of uses.' },
  serial_in_use: { http: 409, description: 'An active device with the same serial number is still in contact with the server.' },
  csr_invalid: { http: 400, description: 'The CSR is not a parsable PEM PKCS#10 request, or uses an unaccepted key type/size.' },
  csr_bad_signature: { http: 400, description: 'The CSR self-signature does not verify (no proof of key possession).' },
  proof_invalid: { http: 400, description: 'A signature by the current or previous device key (renewal, re-enrollment) does not verify.' },
  validation_failed: { http: 400, description: 'The HTTP request body does not match its schema.' },
  rate_limited: { http: 429, description: 'Too many requests; retry after `Retry-After` / `retryAfterSec`.' },
  unsupported_protocol: { wsClose: 4400, description: 'No protocol version in common.' },
  invalid_json: { http: 400, wsClose: 4400, description: 'The frame is not a JSON document.' },
  invalid_envelope: { http: 400, wsClose: 4400, description: 'The JSON is not a valid envelope.' },
  invalid_body: { description: 'The body of a known message type does not match its schema.' },
  message_too_big: { http: 413, wsClose: 1009, description: 'A message or request exceeds the size limits.' },
  hello_required: { wsClose: 4400, description: 'A message other than `hello` was sent before authentication.' },
  hello_timeout: { wsClose: 4408, description: 'No `hello` within 10 s of the connection opening.' },
  heartbeat_timeout: { wsClose: 4408, description: 'No message from the agent for 2 heartbeat periods (WebSocket pongs do not count).' },
  auth_failed: { http: 401, wsClose: 4401, description: 'Authentication failed (bad signature, unknown device, stale nonce, bad token).' },
  certificate_invalid: { http: 401, wsClose: 4401, description: 'The certificate cannot be parsed or its CN is not the deviceId.' },
  certificate_wrong_ca: { http: 401, wsClose: 4401, description: 'The certificate was not issued by this server\'s CA.' },
  certificate_expired: { http: 401, wsClose: 4401, description: 'The certificate is expired or not yet valid.' },
  device_revoked: { http: 403, wsClose: 4403, description: 'The device was wiped, retired or its certificate revoked.' },
  session_expired: { http: 401, description: 'The HTTPS session token expired; authenticate again.' },
  connection_replaced: { wsClose: 4409, description: 'A newer connection of the same device replaced this one.' },
  location_not_allowed: { description: 'A location was reported while neither policy nor a command allows it; it was discarded.' },
  location_implausible: { description: 'A location with impossible coordinates, or a fix time more than an hour ahead of the server clock; it was discarded.' },
  server_error: { http: 500, wsClose: 1011, description: 'Unexpected server error; retry with backoff.' },
});

export type ErrorCode = keyof typeof ERROR_CODE_INFO;

/** `ERROR_CODES.auth_failed === 'auth_failed'`, for every code of `ERROR_CODE_INFO`. */
export const ERROR_CODES = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_CODE_INFO).map((k) => [k, k])) as { readonly [K in ErrorCode]: K },
);

/** Codes `parseEnvelope` can return. */
export type ParseErrorCode = 'message_too_big' | 'invalid_json' | 'invalid_envelope' | 'invalid_body';

/** Enrollment problem codes (HTTP `POST /agent/v1/enroll`). */
export const ENROLL_ERROR_CODES = [
  'token_unknown',
  'token_expired',
  'token_revoked',
  'token_exhausted',
  'serial_in_use',
  'csr_invalid',
  'csr_bad_signature',
  'proof_invalid',
  'message_too_big',
  'validation_failed',
  'rate_limited',
] as const satisfies readonly ErrorCode[];

/** Keys of the provisioning QR admin extras bundle. */
export const QR_EXTRAS = {
  SERVER_URL: 'fr.cartable.agent.SERVER_URL',
  ENROLLMENT_TOKEN: 'fr.cartable.agent.ENROLLMENT_TOKEN',
  SKIP_EDUCATION_SCREENS: 'fr.cartable.agent.SKIP_EDUCATION_SCREENS',
} as const;

/** The only data a push message carries (§23.3): "connect now". No command content, no personal data. */
export const PUSH_WAKE_DATA = { cartable: 'wake' } as const;
/** Push providers defined by the specification. The vocabulary is open. */
export const PUSH_PROVIDERS = ['fcm'] as const;

/** One push, as a sender hands it to its provider (the fields of FCM's HTTP v1 message, §23.3). */
export interface PushMessage {
  token: string;
  data: Record<string, string>;
  priority: 'high' | 'normal';
  ttlSec: number;
  collapseKey?: string;
}

/** What a sender learns from the provider: accepted, the token is dead (forget it), or try later. */
export type PushOutcome = { ok: true } | { ok: false; reason: 'token_invalid' | 'retry' };
