/** Parsing and building envelopes. */
import { randomUUID } from 'node:crypto';
import { UUID_PATTERN } from './common';
import { MAX_FRAME_BYTES, TIMERS, type ParseErrorCode } from './constants';
import { REF_REQUIRED_TYPES, type Envelope } from './envelope';
import {
  EnvelopeChecker,
  MESSAGE_DIRECTION,
  MessageCheckers,
  isMessageType,
  type MessageBody,
  type MessageType,
} from './registry';

const UUID_RE = new RegExp(UUID_PATTERN);

export type KnownMessage = {
  [K in MessageType]: { ok: true; known: true; type: K; envelope: Envelope; body: MessageBody<K> };
}[MessageType];

export interface UnknownMessage {
  ok: true;
  known: false;
  type: string;
  envelope: Envelope;
  body: Record<string, unknown>;
}

export interface ParseFailure {
  ok: false;
  code: ParseErrorCode;
  message: string;
  /** The envelope id when it is a valid UUID (use it as `ref` of the `error` answer). */
  id?: string;
  /** The envelope type when it could be read. */
  type?: string;
}

export type ParseResult = KnownMessage | UnknownMessage | ParseFailure;

export interface ParseOptions {
  /**
   * Who sent the message. When set, a known type that this side may not send
   * (e.g. `command` from an agent) is returned as unknown (`known: false`) and its body is not validated.
   */
  from?: 'agent' | 'server';
}

function firstError(checker: { Errors(v: unknown): Iterable<{ path: string; message: string }> }, value: unknown): string {
  for (const e of checker.Errors(value)) return `${e.path || '/'}: ${e.message}`;
  return 'invalid';
}

/**
 * Validates an already-decoded message (e.g. an element of an HTTPS exchange array):
 * the envelope, then the body of known types. Unknown types are accepted with `known: false`.
 */
export function validateMessage(value: unknown, options: ParseOptions = {}): ParseResult {
  if (!EnvelopeChecker.Check(value)) {
    const v = value as Record<string, unknown> | null;
    // Only a well-formed id can be echoed as `ref`: anything else would make the answer invalid too.
    const id = v && typeof v === 'object' && typeof v.id === 'string' && UUID_RE.test(v.id) ? v.id : undefined;
    const type = v && typeof v === 'object' && typeof v.type === 'string' ? v.type : undefined;
    return { ok: false, code: 'invalid_envelope', message: firstError(EnvelopeChecker, value), id, type };
  }
  const envelope = value;
  const { type, id } = envelope;
  if (REF_REQUIRED_TYPES.has(type) && envelope.ref === undefined) {
    return { ok: false, code: 'invalid_envelope', message: `/ref: required for "${type}"`, id, type };
  }
  if (!isMessageType(type) || !allowed(type, options)) {
    return { ok: true, known: false, type, envelope, body: envelope.body };
  }
  const checker = MessageCheckers[type];
  if (!checker.Check(envelope.body)) {
    return { ok: false, code: 'invalid_body', message: `/body${firstError(checker, envelope.body)}`, id, type };
  }
  return { ok: true, known: true, type, envelope, body: envelope.body } as KnownMessage;
}

function allowed(type: MessageType, options: ParseOptions): boolean {
  if (!options.from) return true;
  const dir = MESSAGE_DIRECTION[type];
  return dir === 'both' || dir === (options.from === 'agent' ? 'agent_to_server' : 'server_to_agent');
}

/**
 * Parses one frame: size limit (UTF-8 bytes), JSON, envelope, then the body of known types
 * with a precompiled checker. Unknown types are accepted with `known: false`.
 */
export function parseEnvelope(
  raw: string | Buffer,
  maxBytes: number = MAX_FRAME_BYTES,
  options: ParseOptions = {},
): ParseResult {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
  if (size > maxBytes) {
    return { ok: false, code: 'message_too_big', message: `message is ${size} bytes; the limit is ${maxBytes}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'invalid_json', message: err instanceof Error ? err.message : 'invalid JSON' };
  }
  return validateMessage(value, options);
}

/** Builds an envelope with a fresh UUID (or the given `id`, when re-sending). */
export function createMessage<T extends MessageType>(
  type: T,
  body: MessageBody<T>,
  options: { ref?: string; id?: string } = {},
): Envelope {
  const envelope: Envelope = { type, id: options.id ?? randomUUID(), body: body as Record<string, unknown> };
  if (options.ref !== undefined) envelope.ref = options.ref;
  return envelope;
}

/** Serializes an envelope and checks the frame size limit. */
export function serializeMessage(envelope: Envelope, maxBytes: number = MAX_FRAME_BYTES): string {
  const text = JSON.stringify(envelope);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) throw new RangeError(`message ${envelope.type} is ${size} bytes; the limit is ${maxBytes}`);
  return text;
}

/**
 * Whether a command must not be executed any more. `skewMs` is serverTime - deviceTime measured
 * at `welcome` (or session) time; pass 0 if unknown.
 */
export function isCommandExpired(command: { expiresAt: string }, nowMs: number = Date.now(), skewMs = 0): boolean {
  const expires = Date.parse(command.expiresAt);
  return Number.isNaN(expires) || nowMs + skewMs > expires;
}

/** Reconnection delay in ms for the given attempt (0-based): full jitter over min(max, initial * 2^attempt). */
export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
  const capSec = Math.min(TIMERS.backoffMaxSec, TIMERS.backoffInitialSec * 2 ** Math.max(0, attempt));
  return Math.floor(random() * capSec * 1000);
}
