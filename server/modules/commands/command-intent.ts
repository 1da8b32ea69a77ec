import { Value } from '@sinclair/typebox/value';
import { ConfirmationRequiredError, InvalidInputError } from '../../domain/errors';
import type { Actor, Principal, Scope } from '../access/principal';
import { DEFAULT_TTL_SEC, KIND_PARAMS, type CommandKind } from './commands.schemas';
import type { Confirmations } from './wipe-confirmation';

/** Who acts, with the scope of the permission the route required. */
export interface Caller {
  principal: Principal;
  scope: Scope;
  actor: Actor;
}

/** The kind's parameters, checked strictly: an unknown field is refused, nothing is coerced. */
export function checkParams(kind: CommandKind, params: Record<string, unknown> | undefined): Record<string, unknown> {
  const value = params ?? {};
  const error = Value.Errors(KIND_PARAMS[kind], value).First();
  if (error) throw new InvalidInputError(`Invalid params for ${kind}: ${error.path || '/'} ${error.message}`, 'invalid_params');
  return value;
}

/**
 * Turns what the technician named into what the device needs (install_app: the catalog version
 * into its signed URL, hash, size and signer, valid until the command expires).
 */
export type ParamsResolver = (kind: CommandKind, params: Record<string, unknown>, organisationId: string, expiresAt: Date) => Promise<Record<string, unknown>>;

export function expiryOf(kind: CommandKind, expiresInSec: number | undefined, now: Date): Date {
  return new Date(now.getTime() + (expiresInSec ?? DEFAULT_TTL_SEC[kind]) * 1000);
}

/** A wipe needs the device name typed back, or the token a first unconfirmed call returned. */
export function confirmWipe(confirmations: Confirmations, caller: Caller, target: string, expectedName: string | null, confirm: string | undefined): void {
  if (confirm !== undefined && expectedName !== null && confirm === expectedName) return;
  if (confirm !== undefined && confirmations.verify(confirm, caller.principal.userId, target)) return;
  if (confirm !== undefined) throw new InvalidInputError('The confirmation does not match: type the exact device name, or use the confirmationToken of a first call', 'confirmation_mismatch');
  throw new ConfirmationRequiredError('Wiping erases the tablet: repeat the request with `confirm` set to the device name or to this confirmationToken', {
    confirmationToken: confirmations.issue(caller.principal.userId, target),
    expiresInSec: confirmations.validitySec,
    ...(expectedName !== null ? { deviceName: expectedName } : {}),
  });
}
