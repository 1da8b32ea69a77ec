import { Value } from '@sinclair/typebox/value';
import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../../infra/db/client';
import type { Platform } from '../../infra/db/schema';
import { AppError, BadRequestError, ConflictError, NotFoundError, NotImplementedError } from '../../infra/http/errors';
import type { JobPayloads } from '../../infra/queues/registry';
import { type Actor, type Principal, type Scope } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import * as delivery from './command-delivery.repository';
import * as repo from './commands.repository';
import { toView } from './command-view';
import { COMMAND_KINDS, DEFAULT_TTL_SEC, KIND_PARAMS, type BulkBody, type CommandKind, type CommandView, type IssueBody } from './commands.schemas';
import type { PlatformAdapters } from './platform-adapter';
import type { Confirmations } from './wipe-confirmation';

/** Who acts, with the scope of the permission the route required. */
export interface Caller {
  principal: Principal;
  scope: Scope;
  actor: Actor;
}

export type FanoutJob = JobPayloads['commands.fanout'];

export interface CommandsDeps {
  db: Db;
  adapters: PlatformAdapters;
  confirmations: Confirmations;
  enqueueFanout(jobs: FanoutJob[]): Promise<void>;
  ackTimeoutSec: number;
  /** Above this many devices, a bulk action is written by background chunks. */
  inlineLimit?: number;
}

const FANOUT_CHUNK = 1000;
/** A queued command older than this whose device is online lost its nudge: nudge again. */
const QUEUED_GRACE_SEC = 5;
const RECONCILE_BATCH = 20000;

/** Deterministic per (batch, device), so a replayed chunk inserts nothing twice. */
export function batchCommandId(batchId: string, deviceId: string): string {
  const h = createHash('sha256').update(`${batchId}:${deviceId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function checkParams(kind: CommandKind, params: Record<string, unknown> | undefined): Record<string, unknown> {
  const value = params ?? {};
  const error = Value.Errors(KIND_PARAMS[kind], value).First();
  if (error) throw new BadRequestError(`Invalid params for ${kind}: ${error.path || '/'} ${error.message}`, 'invalid_params');
  return value;
}

function expiryOf(kind: CommandKind, expiresInSec: number | undefined, now: Date): Date {
  return new Date(now.getTime() + (expiresInSec ?? DEFAULT_TTL_SEC[kind]) * 1000);
}

export function createCommandsService(deps: CommandsDeps) {
  const { db, adapters, confirmations } = deps;
  const inlineLimit = deps.inlineLimit ?? 20_000;

  function adapterFor(platform: Platform) {
    return adapters.get(platform);
  }

  /** A wipe needs the device name typed back, or the token a first unconfirmed call returned. */
  function confirmWipe(caller: Caller, target: string, expectedName: string | null, confirm: string | undefined): void {
    if (confirm !== undefined && expectedName !== null && confirm === expectedName) return;
    if (confirm !== undefined && confirmations.verify(confirm, caller.principal.userId, target)) return;
    if (confirm !== undefined) throw new BadRequestError('The confirmation does not match: type the exact device name, or use the confirmationToken of a first call', 'confirmation_mismatch');
    throw new AppError(428, 'confirmation_required', 'Wiping erases the tablet: repeat the request with `confirm` set to the device name or to this confirmationToken', {
      confirmationToken: confirmations.issue(caller.principal.userId, target),
      expiresInSec: confirmations.validitySec,
      ...(expectedName !== null ? { deviceName: expectedName } : {}),
    });
  }

  async function deliver(devices: { id: string; platform: Platform }[]): Promise<void> {
    const byPlatform = new Map<Platform, string[]>();
    for (const d of devices) byPlatform.set(d.platform, [...(byPlatform.get(d.platform) ?? []), d.id]);
    // A failed nudge costs latency only: the rows are committed and the reconciler nudges again.
    for (const [platform, ids] of byPlatform) await adapterFor(platform)?.deliver(ids).catch(() => undefined);
  }

  function buildRow(base: { organisationId: string; kind: CommandKind; params: Record<string, unknown>; issuedBy: string | null; origin: FanoutJob['origin']; batchId: string | null; expiresAt: Date; now: Date }, device: { id: string; platform: Platform }, id: string): repo.NewCommandRow {
    const adapter = adapterFor(device.platform)!;
    return {
      id,
      organisationId: base.organisationId,
      deviceId: device.id,
      kind: base.kind,
      params: base.params,
      payload: adapter.render({ id, kind: base.kind, params: base.params, createdAt: base.now, expiresAt: base.expiresAt }),
      origin: base.origin,
      issuedBy: base.issuedBy,
      batchId: base.batchId,
      expiresAt: base.expiresAt,
      createdAt: base.now,
    };
  }

  return {
    async issue(caller: Caller, deviceId: string, body: IssueBody): Promise<CommandView> {
      const kind = body.kind;
      const params = checkParams(kind, body.params);
      const device = await repo.findDeviceInScope(db, caller.scope, deviceId);
      if (!device) throw new NotFoundError('Device');
      if (device.status !== 'active') throw new ConflictError(`The device is ${device.status}: it takes no more commands`, 'device_not_active');
      const adapter = adapterFor(device.platform);
      if (!adapter?.supports(kind)) throw new NotImplementedError(`The ${kind} command on ${device.platform} devices`);
      if (kind === 'wipe') confirmWipe(caller, `device:${device.id}`, device.name, body.confirm);
      const now = new Date();
      const row = buildRow(
        { organisationId: device.organisationId, kind, params, issuedBy: caller.principal.userId, origin: 'technician', batchId: null, expiresAt: expiryOf(kind, body.expiresInSec, now), now },
        device,
        randomUUID(),
      );
      const created = await db.transaction(async (tx) => {
        await repo.insertCommands(tx, [row]);
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: caller.actor,
          action: 'command.create',
          target: { type: 'device', id: device.id },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { commandId: row.id, kind, expiresAt: row.expiresAt!.toISOString() },
        });
        return delivery.commandOfDevice(tx, device.id, row.id!);
      });
      await deliver([device]);
      return toView(created!);
    },

    async bulk(caller: Caller, body: BulkBody) {
      const kind = body.kind;
      const params = checkParams(kind, body.params);
      // A school or group outside the caller's scope reads as unknown, like any other object.
      if (!(await repo.targetInScope(db, caller.scope, body.target))) throw new NotFoundError('schoolId' in body.target ? 'School' : 'Group');
      const targets = await repo.selectTargetDevices(db, caller.scope, body.target);
      if ('deviceIds' in body.target && targets.length === 0) throw new NotFoundError('Devices');
      const skipped: { deviceId: string; reason: string }[] = [];
      const found = new Set(targets.map((t) => t.id));
      if ('deviceIds' in body.target) for (const id of body.target.deviceIds) if (!found.has(id)) skipped.push({ deviceId: id, reason: 'not_found' });
      const eligible = targets.filter((t) => {
        const reason = t.status !== 'active' ? `device_${t.status}` : adapterFor(t.platform)?.supports(kind) ? null : 'kind_not_supported_on_platform';
        if (reason) skipped.push({ deviceId: t.id, reason });
        return reason === null;
      });
      if (kind === 'wipe') confirmWipe(caller, `bulk:${JSON.stringify(body.target)}`, null, body.confirm);
      const batchId = randomUUID();
      const now = new Date();
      const expiresAt = expiryOf(kind, body.expiresInSec, now);
      const base = { organisationId: caller.scope.organisationId, kind, params, issuedBy: caller.principal.userId, origin: 'technician' as const, batchId, expiresAt, now };
      const mode = eligible.length > inlineLimit ? 'fanout' : 'inline';
      const jobs: FanoutJob[] = [];
      if (mode === 'fanout') {
        for (let i = 0; i < eligible.length; i += FANOUT_CHUNK) {
          const deviceIds = eligible.slice(i, i + FANOUT_CHUNK).map((d) => d.id);
          jobs.push({ batchId, chunk: i / FANOUT_CHUNK, organisationId: base.organisationId, kind, params, deviceIds, issuedBy: base.issuedBy, origin: 'technician', expiresAt: expiresAt.toISOString() });
        }
      }
      // The audit event commits before the chunks exist: the intent is what a person decided.
      await db.transaction(async (tx) => {
        if (mode === 'inline') await repo.insertCommands(tx, eligible.map((d) => buildRow(base, d, batchCommandId(batchId, d.id))));
        await recordAudit(tx, {
          organisationId: base.organisationId,
          actor: caller.actor,
          action: 'command.bulk',
          target: { type: 'command_batch', id: batchId },
          outcome: 'success',
          details: { kind, target: body.target, created: eligible.length, skipped: skipped.length, mode },
        });
      });
      if (mode === 'inline') await deliver(eligible);
      else await deps.enqueueFanout(jobs);
      return { batchId, created: eligible.length, skipped, mode } as const;
    },

    /** One chunk of a bulk action, run by a worker; replaying it creates nothing twice. */
    async fanoutChunk(job: FanoutJob): Promise<number> {
      const kind = job.kind as CommandKind;
      if (!COMMAND_KINDS.includes(kind)) throw new BadRequestError(`unknown command kind ${job.kind}`);
      const devices = (await repo.activeDevices(db, job.organisationId, job.deviceIds)).filter((d) => adapterFor(d.platform)?.supports(kind));
      const now = new Date();
      const base = { organisationId: job.organisationId, kind, params: job.params, issuedBy: job.issuedBy, origin: job.origin, batchId: job.batchId, expiresAt: new Date(job.expiresAt), now };
      const inserted = await repo.insertCommands(db, devices.map((d) => buildRow(base, d, batchCommandId(job.batchId, d.id))));
      await deliver(devices);
      return inserted;
    },

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
          details: { deviceId: row.deviceId, kind: row.kind },
        });
        return row;
      });
      if (!cancelled) {
        const now = await repo.findCommandInScope(db, caller.scope, commandId);
        throw new ConflictError(`The command is ${now?.status ?? existing.status}: only a command the device has not acknowledged can be cancelled`, 'not_cancellable', { commandStatus: now?.status ?? existing.status });
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
      let before: { createdAt: Date; id: string } | undefined;
      if (cursor) {
        const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
        const createdAt = new Date(at ?? '');
        if (!id || Number.isNaN(createdAt.getTime())) throw new BadRequestError('Invalid cursor', 'invalid_cursor');
        before = { createdAt, id };
      }
      const rows = await repo.deviceHistory(db, deviceId, limit + 1, before);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > limit && last ? Buffer.from(`${last.createdAt.toISOString()}|${last.id}`).toString('base64url') : null;
      return { items: page.map(toView), nextCursor };
    },

    async batchProgress(caller: Caller, batchId: string) {
      const counts = await repo.batchCounts(db, caller.scope, batchId);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return { batchId, total, counts };
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

    /** Resumes delivery whose nudge or job vanished, and retires what expired. */
    async reconcile(): Promise<{ expired: number; nudged: number }> {
      const expired = await repo.expireOverdue(db);
      const stalled = await repo.devicesWithStalledCommands(db, deps.ackTimeoutSec, QUEUED_GRACE_SEC, RECONCILE_BATCH);
      await deliver(stalled);
      return { expired, nudged: stalled.length };
    },
  };
}
export type CommandsService = ReturnType<typeof createCommandsService>;
