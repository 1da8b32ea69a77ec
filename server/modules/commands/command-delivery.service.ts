import type { Db } from '../../infra/db/client';
import type { CommandStatus, Platform } from '../../infra/db/schema';
import { recordAudit } from '../audit/audit.service';
import type { Actor } from '../access/principal';
import { batched } from './batched';
import type { CommandDelivery, CommandResultInput, PendingCommand } from './command-delivery';
import * as repo from './command-delivery.repository';
import type { PlatformAdapters } from './platform-adapter';

export interface DeliveryDeps {
  db: Db;
  adapters: PlatformAdapters;
  /** Every device is served by its platform's adapter; the agent gateway serves Android. */
  platform?: Platform;
}

/** Kinds whose confirmed result changes the device itself, written in the result's transaction. */
const SIDE_EFFECT_KINDS = ['wipe', 'locate', 'lost_mode_on', 'lost_mode_off'];

const deviceActor = (deviceId: string): Actor => ({ type: 'device', id: deviceId, label: null, role: null, ip: null });

function updateFor(kind: string, input: CommandResultInput): repo.ResultUpdate {
  // For a wipe, `executing` is the device's last word: it confirms and then erases itself.
  const status: CommandStatus = input.status === 'executing' ? (kind === 'wipe' ? 'succeeded' : 'acknowledged') : input.status;
  return {
    status,
    result: input.result ?? null,
    raw: input.raw ?? null,
    errorCode: input.error?.code ?? null,
    errorMessage: input.error?.message ?? null,
    final: input.status !== 'executing' || kind === 'wipe',
  };
}

/**
 * The command queue as seen from a device gateway. Transitions are guarded in SQL, so a
 * duplicate ack or result, or one sent by another device, changes nothing; calls arriving
 * together from many connections are coalesced into one statement.
 */
export function createCommandDelivery(deps: DeliveryDeps): CommandDelivery {
  const { db, adapters } = deps;
  const adapter = adapters.get(deps.platform ?? 'android');

  const pendingBatch = batched(async (deviceIds: string[]) => {
    const rows = await repo.pendingForDevices(db, [...new Set(deviceIds)]);
    const byDevice = new Map<string, PendingCommand[]>();
    for (const r of rows) {
      const list = byDevice.get(r.device_id) ?? [];
      list.push({ id: r.id, kind: r.kind, params: r.params, payload: r.payload, createdAt: r.created_at, expiresAt: r.expires_at });
      byDevice.set(r.device_id, list);
    }
    return deviceIds.map((id) => byDevice.get(id) ?? []);
  });

  const pairsBatch = (apply: (db: Db, deviceIds: string[], commandIds: string[]) => Promise<number>) =>
    batched(async (items: { deviceId: string; commandIds: string[] }[]) => {
      const deviceIds: string[] = [];
      const commandIds: string[] = [];
      for (const item of items) {
        for (const id of item.commandIds) {
          deviceIds.push(item.deviceId);
          commandIds.push(id);
        }
      }
      if (commandIds.length > 0) await apply(db, deviceIds, commandIds);
      return items.map(() => undefined);
    });
  const sentBatch = pairsBatch(repo.markSentPairs);
  const ackBatch = pairsBatch(repo.acknowledgePairs);

  // Most results change nothing but the command: many devices' results go in one statement.
  const resultBatch = batched(async (items: repo.BatchedResult[]) => {
    const applied = await repo.applyResults(db, items, SIDE_EFFECT_KINDS);
    return items.map((i) => applied.has(i.commandId));
  });

  async function recordWithEffects(deviceId: string, commandId: string, input: CommandResultInput): Promise<boolean> {
    let wiped = false;
    await db.transaction(async (tx) => {
      const current = await repo.commandOfDevice(tx, deviceId, commandId);
      if (!current) return;
      const parsed = adapter ? adapter.parseResult(current.kind, input) : { result: input.result ?? null, location: null };
      const update = updateFor(current.kind, { ...input, result: parsed.result ?? undefined });
      const row = await repo.applyResult(tx, deviceId, commandId, update);
      if (!row || !update.final || row.status !== 'succeeded') return;
      const audit = (action: string, details: Record<string, unknown>) =>
        recordAudit(tx, { organisationId: row.organisationId, actor: deviceActor(deviceId), action, target: { type: 'device', id: deviceId }, outcome: 'success', details: { commandId, ...details } });
      if (row.kind === 'wipe') {
        const { revoked } = await repo.markDeviceWiped(tx, deviceId);
        await audit('device.wiped', { revokedCertificates: revoked });
        wiped = true;
      } else if (row.kind === 'locate' && parsed.location) {
        await repo.insertLocation(tx, deviceId, commandId, parsed.location);
      } else if (row.kind === 'lost_mode_on') {
        await repo.setLostMode(tx, deviceId, true, typeof row.params.message === 'string' ? row.params.message : null);
        await audit('device.lost_mode.on', {});
      } else if (row.kind === 'lost_mode_off') {
        await repo.setLostMode(tx, deviceId, false, null);
        await audit('device.lost_mode.off', {});
      }
    });
    return wiped;
  }

  return {
    pendingFor: (deviceId) => pendingBatch(deviceId),

    async markSent(deviceId, commandIds) {
      if (commandIds.length > 0) await sentBatch({ deviceId, commandIds });
    },

    async acknowledge(deviceId, commandId) {
      await ackBatch({ deviceId, commandIds: [commandId] });
    },

    async recordResult(deviceId, commandId, input) {
      const update = updateFor('', input);
      const mayHaveEffects = input.status === 'succeeded' || input.status === 'executing';
      if (await resultBatch({ commandId, deviceId, ...update, mayHaveEffects })) return;
      if (!mayHaveEffects) return;
      // The gateway drops the wiped device's connection when nudged: it re-reads the device's status.
      if (await recordWithEffects(deviceId, commandId, input)) await adapter?.deliver([deviceId]).catch(() => undefined);
    },
  };
}
