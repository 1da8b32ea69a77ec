import type { CommandRefusal } from '../../domain/platform-ports';
import { randomUUID } from 'node:crypto';
import { ConflictError, InvalidInputError, NotFoundError, UnprocessableError } from '../../domain/errors';
import type { Db } from '../../infra/db/client';
import { recordAudit } from '../audit/audit.service';
import { checkParams, confirmWipe, expiryOf, type Caller, type ParamsResolver } from './command-intent';
import * as repo from './commands.repository';
import { toView } from './command-view';
import type { CommandView, IssueBody } from './commands.schemas';
import type { AgentVersionGate } from './agent-version-gate';
import type { PlatformRegistry } from './platform-registry';
import type { Confirmations } from './wipe-confirmation';

export type { Caller };

export interface CommandsDeps {
  db: Db;
  platforms: PlatformRegistry;
  confirmations: Confirmations;
  resolveParams: ParamsResolver;
  agentVersion: AgentVersionGate;
}

/** Commands to one device: issued, cancelled, read; their delivery is the command queue's. */
export function createCommandsService(deps: CommandsDeps) {
  const { db, platforms, confirmations, agentVersion } = deps;

  return {
    /**
     * Why the device cannot take each kind, before anything is asked (a command needing a
     * supervised iPad, a kind its platform has no command for); absent: it can.
     */
    async refusals(caller: Caller, deviceId: string, kinds: readonly string[]): Promise<Record<string, CommandRefusal>> {
      const device = await repo.findDeviceInScope(db, caller.scope, deviceId);
      if (!device) throw new NotFoundError('Device');
      return Object.fromEntries(kinds.flatMap((kind) => {
        const refusal = platforms.refusal(kind, device);
        return refusal ? [[kind, refusal]] : [];
      }));
    },

    /** The row and its audit event commit together; the device is woken after, best effort. */
    async issue(caller: Caller, deviceId: string, body: IssueBody): Promise<CommandView> {
      const kind = body.kind;
      const checked = checkParams(kind, body.params);
      const device = await repo.findDeviceInScope(db, caller.scope, deviceId);
      if (!device) throw new NotFoundError('Device');
      if (device.status !== 'active') throw new ConflictError(`The device is ${device.status}: it takes no more commands`, 'device_not_active');
      const now = new Date();
      const expiresAt = expiryOf(kind, body.expiresInSec, now);
      // Resolved first: the version gate reads the package an install_app is for.
      const params = await deps.resolveParams(kind, checked, device.organisationId, expiresAt);
      const outdated = agentVersion.refusal(kind, params, device);
      if (outdated) throw outdated;
      const refusal = platforms.refusal(kind, device, params);
      if (refusal) throw new UnprocessableError(refusal.message, refusal.code);
      if (kind === 'wipe') confirmWipe(confirmations, caller, `device:${device.id}`, device.name, body.confirm);
      const created = await db.transaction(async (tx) => {
        const row = await repo.insertCommand(tx, {
          id: randomUUID(),
          organisationId: device.organisationId,
          deviceId: device.id,
          kind,
          params,
          origin: 'technician',
          issuedBy: caller.principal.userId,
          expiresAt,
          createdAt: now,
        });
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: caller.actor,
          action: 'command.create',
          target: { type: 'device', id: device.id },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { commandId: row.id, kind, expiresAt: row.expiresAt.toISOString() },
        });
        return row;
      });
      await platforms.wake([device]);
      return toView(created);
    },

    /** Before the device starts it; a device that was given the command hears of the cancellation. */
    async cancel(caller: Caller, commandId: string): Promise<CommandView> {
      const existing = await repo.findCommandInScope(db, caller.scope, commandId);
      if (!existing) throw new NotFoundError('Command');
      const cancelled = await db.transaction(async (tx) => {
        const row = await repo.cancelCommand(tx, commandId);
        if (!row) return null;
        await recordAudit(tx, {
          organisationId: row.organisationId,
          actor: caller.actor,
          action: 'command.cancel',
          target: { type: 'command', id: row.id },
          outcome: 'success',
          details: { deviceId: row.deviceId, kind: row.kind, wasSent: row.sentAt !== null },
        });
        return row;
      });
      if (!cancelled) {
        const now = await repo.findCommandInScope(db, caller.scope, commandId);
        const status = now?.status ?? existing.status;
        throw new ConflictError(`The command is ${status}: only a command the device has not started can be cancelled`, 'not_cancellable', { commandStatus: status });
      }
      if (cancelled.sentAt) {
        const device = await repo.findDeviceInScope(db, caller.scope, cancelled.deviceId);
        if (device) await platforms.wake([device]);
      }
      return toView(cancelled);
    },

    async get(caller: Caller, commandId: string): Promise<CommandView> {
      const row = await repo.findCommandInScope(db, caller.scope, commandId);
      if (!row) throw new NotFoundError('Command');
      return toView(row);
    },

    async history(caller: Caller, deviceId: string, limit: number, cursor?: string) {
      if (!(await repo.findDeviceInScope(db, caller.scope, deviceId))) throw new NotFoundError('Device');
      const rows = await repo.deviceHistory(db, deviceId, limit + 1, cursor ? decodeCursor(cursor) : undefined);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > limit && last ? Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url') : null;
      return { items: page.map(toView), nextCursor };
    },

    /** The latest fix of a device; reading it is a sensitive read, audited in the same transaction. */
    async readLocation(caller: Caller, deviceId: string) {
      const device = await repo.findDeviceInScope(db, caller.scope, deviceId);
      if (!device) throw new NotFoundError('Device');
      const fix = await db.transaction(async (tx) => {
        const row = await repo.latestLocation(tx, deviceId);
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: caller.actor,
          action: 'device.location.read',
          target: { type: 'device', id: deviceId },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { found: row !== null, fixId: row?.id ?? null },
        });
        return row;
      });
      if (!fix) throw new NotFoundError('Location');
      return {
        deviceId,
        lat: fix.lat,
        lon: fix.lon,
        accuracyM: fix.accuracyM,
        altitudeM: fix.altitudeM,
        provider: fix.provider,
        fixTime: fix.fixTime.toISOString(),
        receivedAt: fix.receivedAt.toISOString(),
        source: fix.source,
        commandId: fix.commandId,
      };
    },
  };
}
export type CommandsService = ReturnType<typeof createCommandsService>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A history cursor is opaque to callers: anything that is not one we issued is refused as invalid. */
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id, extra] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (extra !== undefined || !id || !UUID.test(id) || Number.isNaN(createdAt.getTime())) throw new InvalidInputError('Invalid cursor: pass the nextCursor of a previous page', 'invalid_cursor');
  return { createdAt, id };
}
