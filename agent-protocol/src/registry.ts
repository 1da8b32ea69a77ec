/** Registries of schemas and their compiled checkers (compiled once, at module load). */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { Ack, Challenge, ErrorMessage, Hello, Nudge, Ping, Pong, Welcome } from './auth';
import { CertificateIssued, CertificateRenew } from './certificates';
import { Command, CommandAck, CommandCancel, CommandParams, CommandResult, CommandResults } from './commands';
import { LocationFix } from './common';
import { EnrollRequest, EnrollResponse, Problem, ProvisioningQr } from './enrollment';
import { Envelope } from './envelope';
import {
  ChallengeResponse,
  ExchangeRequest,
  ExchangeResponse,
  SessionRequest,
  SessionResponse,
} from './http';
import { Policy } from './policy';
import { PushData, PushToken } from './push';
import { ReportApps, ReportEvents, ReportInventory, ReportLocation, ReportRequest, ReportStatus } from './reports';

/** Message type string → body schema. */
export const MessageTypes = {
  challenge: Challenge,
  hello: Hello,
  welcome: Welcome,
  error: ErrorMessage,
  ping: Ping,
  pong: Pong,
  ack: Ack,
  nudge: Nudge,
  'report.inventory': ReportInventory,
  'report.apps': ReportApps,
  'report.status': ReportStatus,
  'report.events': ReportEvents,
  'report.location': ReportLocation,
  command: Command,
  'command.ack': CommandAck,
  'command.result': CommandResult,
  'command.cancel': CommandCancel,
  'report.request': ReportRequest,
  'certificate.renew': CertificateRenew,
  'certificate.issued': CertificateIssued,
  'push.token': PushToken,
} as const;

export type MessageType = keyof typeof MessageTypes;
export type MessageBody<T extends MessageType> = Static<(typeof MessageTypes)[T]>;
export const MESSAGE_TYPES = Object.keys(MessageTypes) as MessageType[];

export type Direction = 'agent_to_server' | 'server_to_agent' | 'both';

/** Who may send each message type. A receiver treats a message sent in the wrong direction as unknown. */
export const MESSAGE_DIRECTION: Readonly<Record<MessageType, Direction>> = {
  challenge: 'server_to_agent',
  hello: 'agent_to_server',
  welcome: 'server_to_agent',
  error: 'both',
  ping: 'both',
  pong: 'both',
  ack: 'both',
  nudge: 'server_to_agent',
  'report.inventory': 'agent_to_server',
  'report.apps': 'agent_to_server',
  'report.status': 'agent_to_server',
  'report.events': 'agent_to_server',
  'report.location': 'agent_to_server',
  command: 'server_to_agent',
  'command.ack': 'agent_to_server',
  'command.result': 'agent_to_server',
  'command.cancel': 'server_to_agent',
  'report.request': 'server_to_agent',
  'certificate.renew': 'agent_to_server',
  'certificate.issued': 'server_to_agent',
  'push.token': 'agent_to_server',
};

/** Agent messages that go through the outbox: kept until the server's `ack` (§14.3). */
export const OUTBOX_TYPES: ReadonlySet<string> = new Set([
  'report.inventory',
  'report.apps',
  'report.status',
  'report.events',
  'report.location',
  'command.result',
  'certificate.renew',
  'push.token',
]);

/** Outbox messages that carry no `seq`: an unacknowledged `report.status` may be replaced by a newer one (§14.5). */
export const UNSEQUENCED_OUTBOX_TYPES: ReadonlySet<string> = new Set(['report.status']);

/** HTTP request/response bodies and other documents, by name. */
export const HttpBodies = {
  EnrollRequest,
  EnrollResponse,
  Problem,
  ChallengeResponse,
  SessionRequest,
  SessionResponse,
  ExchangeRequest,
  ExchangeResponse,
} as const;
export type HttpBodyName = keyof typeof HttpBodies;

/** Every named non-message schema (HTTP bodies, the envelope, the QR payload, a location fix, the policy). */
export const NamedSchemas = { ...HttpBodies, Envelope, ProvisioningQr, LocationFix, PushData, Policy } as const;
export type SchemaName = keyof typeof NamedSchemas;

type Checkers<T extends Record<string, TSchema>> = { [K in keyof T]: TypeCheck<T[K]> };

function compileAll<T extends Record<string, TSchema>>(schemas: T): Checkers<T> {
  const out: Record<string, TypeCheck<TSchema>> = {};
  for (const [name, schema] of Object.entries(schemas)) out[name] = TypeCompiler.Compile(schema);
  return out as Checkers<T>;
}

export const EnvelopeChecker = TypeCompiler.Compile(Envelope);
export const MessageCheckers = compileAll(MessageTypes);
export const SchemaCheckers = compileAll(NamedSchemas);
export const CommandParamsCheckers = compileAll(CommandParams);
export const CommandResultCheckers = compileAll(CommandResults);

export function isMessageType(type: string): type is MessageType {
  return Object.prototype.hasOwnProperty.call(MessageTypes, type);
}

export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Validates `value` with a compiled checker; returns up to `maxErrors` "path: message" strings. */
export function runChecker<T extends TSchema>(checker: TypeCheck<T>, value: unknown, maxErrors = 5): Validation<Static<T>> {
  if (checker.Check(value)) return { ok: true, value };
  const errors: string[] = [];
  for (const e of checker.Errors(value)) {
    errors.push(`${e.path || '/'}: ${e.message}`);
    if (errors.length >= maxErrors) break;
  }
  return { ok: false, errors };
}

/** Validates the body of a known message type. */
export function validateBody<T extends MessageType>(type: T, body: unknown): Validation<MessageBody<T>> {
  return runChecker(MessageCheckers[type] as TypeCheck<(typeof MessageTypes)[T]>, body);
}

/** Validates a named schema (HTTP body, QR payload, ...). */
export function validateSchema<N extends SchemaName>(name: N, value: unknown): Validation<Static<(typeof NamedSchemas)[N]>> {
  return runChecker(SchemaCheckers[name] as TypeCheck<(typeof NamedSchemas)[N]>, value);
}

/**
 * Validates `params` of a command. Unknown kinds return `{ ok: true, known: false }`:
 * the agent answers them with a `failed` result and error code UNSUPPORTED.
 */
export function validateCommandParams(
  kind: string,
  params: unknown,
): { ok: true; known: boolean } | { ok: false; known: true; errors: string[] } {
  if (!Object.prototype.hasOwnProperty.call(CommandParamsCheckers, kind)) return { ok: true, known: false };
  const r = runChecker(CommandParamsCheckers[kind as keyof typeof CommandParams], params);
  return r.ok ? { ok: true, known: true } : { ok: false, known: true, errors: r.errors };
}

/** Validates the `result` object of a command.result for kinds that define one (`locate`, `install_app`). */
export function validateCommandResultData(kind: string, result: unknown): Validation<unknown> {
  if (!Object.prototype.hasOwnProperty.call(CommandResultCheckers, kind)) return { ok: true, value: result };
  return runChecker(CommandResultCheckers[kind as keyof typeof CommandResults] as TypeCheck<TSchema>, result);
}

/**
 * Returns a deep copy of a valid body with the fields unknown to this protocol version removed
 * (free-form objects such as `params`, `data`, `result` and `policy` are kept as they are).
 */
export function stripUnknownFields<T extends MessageType>(type: T, body: MessageBody<T>): MessageBody<T> {
  return Value.Clean(MessageTypes[type], Value.Clone(body)) as MessageBody<T>;
}

/** Same as `stripUnknownFields`, for any schema. */
export function stripUnknown<T extends TSchema>(schema: T, value: Static<T>): Static<T> {
  return Value.Clean(schema, Value.Clone(value)) as Static<T>;
}
