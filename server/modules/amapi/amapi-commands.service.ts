import type { NeutralCommand } from '../../domain/commands';
import type { CommandOutcome, CommandQueuePort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import type { AmapiBindingService } from './amapi-binding.service';
import type { AmapiPoliciesService } from './amapi-policies.service';
import { AmapiCallError, type AmapiAction, type GoogleOperation, type Json } from './amapi.port';
import * as repo from './amapi.repository';

export interface AmapiCommandsDeps {
  db: Db;
  binding: AmapiBindingService;
  policies: AmapiPoliciesService;
  queue: CommandQueuePort;
  render(command: NeutralCommand, place: { name: string; address: string | null }): AmapiAction;
  /** `refresh_inventory`: Google's current `Device`, applied to the inventory. */
  refresh(organisationId: string, device: Json): Promise<unknown>;
}

const POLL_BATCH = 200;
/** Google's clock against the database's: an operation created this long before the reservation may still be the command's. */
const CLOCK_SKEW_MS = 60_000;

/** Per-command statuses Google reports inside a finished operation's metadata. */
function commandFailure(operation: GoogleOperation): { code: string; message: string } | null {
  if (operation.error) return { code: `google_${operation.error.code ?? 'error'}`, message: operation.error.message ?? 'Google reported an error' };
  const meta = (operation.metadata ?? {}) as { errorCode?: string; startLostModeStatus?: { status?: string }; stopLostModeStatus?: { status?: string } };
  if (meta.errorCode) return { code: meta.errorCode.toLowerCase(), message: `Android Device Policy answered ${meta.errorCode}` };
  for (const status of [meta.startLostModeStatus?.status, meta.stopLostModeStatus?.status]) {
    if (status && status !== 'SUCCESS') return { code: status.toLowerCase(), message: `Android Device Policy answered ${status}` };
  }
  return null;
}

function outcomeOf(commandId: string, operation: GoogleOperation): CommandOutcome | null {
  if (!operation.done) return null;
  const failure = commandFailure(operation);
  return failure ? { commandId, status: 'failed', error: failure, raw: operation } : { commandId, status: 'succeeded', result: { operation: operation.name }, raw: operation };
}

/**
 * The operation an earlier attempt at `command` made, if Google has it: one of the device's
 * operations no other command claimed, of the same type, created after the attempt began.
 * Google's `Command` carries no caller's tag, so this is the closest match there is.
 */
function issuedBefore(operations: GoogleOperation[], known: Set<string>, command: Json, since: Date): GoogleOperation | null {
  const createTime = (op: GoogleOperation) => Date.parse(String((op.metadata as { createTime?: string } | undefined)?.createTime ?? '')) || since.getTime();
  const candidates = operations.filter((op) => !known.has(op.name) && (op.metadata as { type?: string } | undefined)?.type === command.type && createTime(op) >= since.getTime() - CLOCK_SKEW_MS);
  return candidates.sort((a, b) => createTime(a) - createTime(b))[0] ?? null;
}

/**
 * Commands for AMAPI tablets, through the same durable queue as every platform: the command
 * row exists before Google is called, its operation is kept before anything else happens, and
 * Google's answer (the operation, a notification, the periodic poll) becomes its outcome.
 */
export function createAmapiCommandsService(deps: AmapiCommandsDeps) {
  const { db, queue } = deps;

  async function execute(deviceId: string, googleName: string, organisationId: string, schoolName: string, command: NeutralCommand): Promise<void> {
    const reserved = await repo.reserveOperation(db, command.id, deviceId);
    // Issued before (a re-offer after the acknowledgement timeout): the operation is polled, never issued twice.
    if (reserved.operationName) return;
    const place = { name: schoolName || (await repo.organisationName(db, organisationId)), address: null };
    try {
      const action = deps.render(command, place);
      switch (action.type) {
        case 'issue': {
          const { google } = await deps.binding.bound(organisationId);
          // An earlier attempt died or lost Google's answer before recording it: its command may
          // have reached Google, so Google's list of the device's operations is read, never a blind second issue.
          const earlier = reserved.first ? null : issuedBefore(await google.listOperations(googleName), await repo.knownOperationNames(db, deviceId), action.command, reserved.createdAt);
          const operation = earlier ?? (await google.issueCommand(googleName, action.command));
          await repo.recordOperation(db, command.id, operation.name);
          await queue.report(deviceId, outcomeOf(command.id, operation) ?? { commandId: command.id, status: 'acknowledged', raw: operation });
          return;
        }
        case 'delete': {
          const { google } = await deps.binding.bound(organisationId);
          await google.deleteDevice(googleName, action.wipeDataFlags);
          await queue.report(deviceId, { commandId: command.id, status: 'succeeded', result: { deleted: googleName }, raw: { deleted: googleName } });
          return;
        }
        case 'policy': {
          const policyName = await deps.policies.setDesired(deviceId, action.version, action.policy);
          await queue.report(deviceId, { commandId: command.id, status: 'succeeded', result: { policyName }, raw: { policyName } });
          return;
        }
        case 'app': {
          const policyName = await deps.policies.setApp(deviceId, action.install ?? { packageName: action.packageName });
          await queue.report(deviceId, { commandId: command.id, status: 'succeeded', result: { policyName }, raw: { policyName } });
          return;
        }
        case 'refresh': {
          const { google } = await deps.binding.bound(organisationId);
          const device = await google.getDevice(googleName);
          if (device) await deps.refresh(organisationId, device);
          await queue.report(deviceId, device ? { commandId: command.id, status: 'succeeded', raw: { refreshed: googleName } } : { commandId: command.id, status: 'failed', error: { code: 'device_unknown_to_google', message: 'Google no longer knows this tablet' }, raw: null });
          return;
        }
      }
    } catch (error) {
      // Quota, Google down, the network: the command stays handed out, and the reconciler offers it again once the acknowledgement delay passes.
      if (error instanceof AmapiCallError && error.transient) return;
      const failure = error instanceof AmapiCallError ? { code: `google_${error.status}`, message: error.message } : { code: 'amapi_error', message: (error as Error).message };
      await queue.report(deviceId, { commandId: command.id, status: 'failed', error: failure, raw: { error: failure } });
    }
  }

  return {
    /** Whose tablet it is, as lost mode shows it: the school (Cartable keeps no street address yet). */
    async placeOf(command: NeutralCommand): Promise<{ name: string; address: string | null }> {
      return { name: (await repo.schoolOfCommand(db, command.id)) ?? '', address: null };
    },

    /** Hands the devices' pending commands to Google, one device after the other. */
    async dispatch(deviceIds: string[]): Promise<void> {
      for (const deviceId of deviceIds) {
        const found = await repo.findAmapiDevice(db, deviceId);
        if (!found || found.status !== 'active') continue;
        const handOut = await queue.next(deviceId, { newSession: true });
        // Google cannot cancel a command it was given: a cancellation only stops those not issued yet.
        if (handOut.cancelled.length) await queue.cancellationsDelivered(deviceId, handOut.cancelled);
        for (const command of handOut.commands) await execute(deviceId, found.amapi.googleName, found.organisationId, found.schoolName, command);
      }
    },

    /** A `COMMAND` notification or a polled operation. */
    async operationUpdate(operation: GoogleOperation): Promise<void> {
      const row = await repo.findOperationByName(db, operation.name);
      if (!row) return;
      const outcome = outcomeOf(row.commandId, operation);
      if (outcome) await queue.report(row.deviceId, outcome);
    },

    /**
     * Asks Google about open operations. Google forgets finished operations: one it no longer
     * knows after the command's expiry was never confirmed, and the command fails rather than
     * stay pending.
     */
    async poll(organisationId: string): Promise<{ checked: number; finished: number }> {
      const { google } = await deps.binding.bound(organisationId);
      let finished = 0;
      const open = await repo.openOperations(db, organisationId, POLL_BATCH);
      for (const op of open) {
        const operation = await google.getOperation(op.operationName!);
        await repo.markChecked(db, op.commandId);
        if (operation) {
          const outcome = outcomeOf(op.commandId, operation);
          if (outcome) {
            await queue.report(op.deviceId, outcome);
            finished++;
          }
        } else if (op.expiresAt <= new Date()) {
          await queue.report(op.deviceId, { commandId: op.commandId, status: 'failed', error: { code: 'operation_unconfirmed', message: 'Google no longer knows the operation and never confirmed it' }, raw: null });
          finished++;
        }
      }
      return { checked: open.length, finished };
    },
  };
}
export type AmapiCommandsService = ReturnType<typeof createAmapiCommandsService>;
