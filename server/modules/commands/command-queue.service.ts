import { OPEN_STATUSES, type NeutralCommand } from '../../domain/commands';
import type { Platform } from '../../domain/devices';
import type { CommandOutcome, CommandQueuePort, HandOut } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import type { Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import { batched } from '../../infra/batched';
import * as repo from './command-queue.repository';

export interface CommandQueueDeps {
  db: Db;
  /** A command handed out and not acknowledged within this delay is handed out again. */
  ackTimeoutSec: number;
  /** Agent protocol §24.1: an agent below it is handed out only its own update. */
  minAgentVersionCode: number | null;
  /** Wakes the device's edge after its wipe is confirmed: it finds the device revoked and drops its connection. */
  wake(devices: { id: string; platform: Platform }[]): Promise<void>;
}

/** Kinds whose successful outcome changes the device itself: applied in one transaction with it. */
const EFFECT_KINDS = ['wipe', 'locate', 'lost_mode_on', 'lost_mode_off'];
const MAX_PER_HANDOUT = 100;

/**
 * Hand-outs and outcomes run one statement at a time per kind: the check-ins arriving meanwhile
 * wait for it and go together in the next (group commit), so under load the batches grow instead
 * of the statements.
 */
const TOGETHER = { oneAtATime: true };

const deviceActor = (deviceId: string): Actor => ({ type: 'device', id: deviceId, label: null, role: null, ip: null });

/** How an outcome moves the command: an `executing` wipe is the device's last word before it erases itself. */
function toRow(deviceId: string, kind: string | null, outcome: CommandOutcome): repo.OutcomeRow {
  const status = outcome.status === 'executing' && kind === 'wipe' ? 'succeeded' : outcome.status;
  return {
    commandId: outcome.commandId,
    deviceId,
    status: status as repo.OutcomeRow['status'],
    result: outcome.result ?? null,
    raw: outcome.raw ?? null,
    messageId: outcome.messageId ?? null,
    errorCode: outcome.error?.code ?? null,
    errorMessage: outcome.error?.message ?? null,
    mayHaveEffects: status === 'succeeded' || status === 'executing',
  };
}

/**
 * The durable command queue behind every platform edge. Transitions are guarded in SQL, so a
 * duplicate or a foreign outcome changes nothing; calls arriving together from many connections
 * are coalesced into one statement each.
 */
export function createCommandQueue(deps: CommandQueueDeps): CommandQueuePort {
  const { db, ackTimeoutSec } = deps;

  // Check-ins opening a session and those within one share the statement.
  const handOutRows = repo.handOutStatement(db, ackTimeoutSec, deps.minAgentVersionCode);
  const handOutBatch = batched(async (items: { deviceId: string; limit: number; newSession: boolean }[]) => {
    const newSession = new Map<string, boolean>();
    for (const i of items) newSession.set(i.deviceId, (newSession.get(i.deviceId) ?? false) || i.newSession);
    const ids = [...newSession.keys()];
    const limit = Math.max(...items.map((i) => i.limit));
    const { commands: rows, cancelled } = await handOutRows({ deviceIds: ids, newSessions: ids.map((id) => newSession.get(id)!) }, limit);
    const byDevice = new Map<string, HandOut>(ids.map((id) => [id, { commands: [], cancelled: [], redelivered: false }]));
    for (const r of rows) {
      const handOut = byDevice.get(r.device_id)!;
      handOut.commands.push({ id: r.id, kind: r.kind, params: r.params, createdAt: r.created_at, expiresAt: r.expires_at } satisfies NeutralCommand);
      if (r.attempts > 1) handOut.redelivered = true;
    }
    for (const c of cancelled) byDevice.get(c.device_id)!.cancelled.push(c.id);
    return items.map((i) => byDevice.get(i.deviceId)!);
  }, TOGETHER);

  const ackBatch = batched(async (items: { deviceId: string; commandId: string }[]) => {
    await repo.acknowledgePairs(
      db,
      items.map((i) => i.deviceId),
      items.map((i) => i.commandId),
    );
    return items.map(() => undefined);
  });

  // Most outcomes change nothing but the command: many devices' outcomes go in one statement.
  // No transaction around it: each statement stands alone (an outcome applied to an open command,
  // or one kept beside a command already final), and the batch costs one round trip.
  const applyOutcomes = repo.applyOutcomesStatement(db, EFFECT_KINDS);
  const outcomeBatch = batched(async (items: repo.OutcomeRow[]): Promise<('done' | 'effects')[]> => {
    const applied = await applyOutcomes(items);
    const rest = items.filter((i) => !applied.has(i.commandId));
    if (rest.length === 0) return items.map(() => 'done');
    await repo.recordLateOutcomes(db, rest);
    // Only a command of an effect kind has more to do than what was just stored (a wipe confirmed
    // late still retires the device); a result sent again after a reconnection costs no transaction.
    const effects = await repo.commandsOfKinds(db, rest.filter((i) => i.mayHaveEffects).map((i) => i.commandId), EFFECT_KINDS);
    return items.map((i) => (effects.has(i.commandId) ? 'effects' : 'done'));
  }, TOGETHER);

  /** An outcome that may change the device (wipe, locate, lost mode), in one transaction with its effects. */
  async function reportWithEffects(deviceId: string, outcome: CommandOutcome): Promise<void> {
    let wiped: Platform | null = null;
    await db.transaction(async (tx) => {
      const command = await repo.lockCommandOfDevice(tx, deviceId, outcome.commandId);
      if (!command) return;
      const row = { ...toRow(deviceId, command.kind, outcome), mayHaveEffects: false };
      const open = (OPEN_STATUSES as readonly string[]).includes(command.status);
      const succeeded = row.status === 'succeeded';
      const audit = (action: string, details: Record<string, unknown>) =>
        recordAudit(tx, { organisationId: command.organisationId, actor: deviceActor(deviceId), action, target: { type: 'device', id: deviceId }, outcome: 'success', details: { commandId: command.id, ...details } });
      if (!open) await repo.recordLateOutcomes(tx, [row]);
      else if (succeeded && command.kind === 'locate' && outcome.location) {
        row.result = { locationFixId: await repo.insertLocateFix(tx, deviceId, command.id, outcome.location), fixTime: outcome.location.fixTime.toISOString() };
      } else if (succeeded && command.kind === 'lost_mode_on') {
        await repo.setLostMode(tx, deviceId, true, typeof command.params.message === 'string' ? command.params.message : null);
        await audit('device.lost_mode.on', {});
      } else if (succeeded && command.kind === 'lost_mode_off') {
        await repo.setLostMode(tx, deviceId, false, null);
        await audit('device.lost_mode.off', {});
      }
      if (open) await repo.applyOutcomes(tx, [row], EFFECT_KINDS);
      // A wipe the device confirms has happened whatever the command's state: its identity must go.
      if (succeeded && command.kind === 'wipe') {
        const { revoked, platform } = await repo.markDeviceWiped(tx, deviceId);
        await audit('device.wiped', { revokedCertificates: revoked, late: !open });
        wiped = platform;
      }
    });
    if (wiped) await deps.wake([{ id: deviceId, platform: wiped }]);
  }

  return {
    next(deviceId, options) {
      const limit = Math.min(options.limit ?? MAX_PER_HANDOUT, MAX_PER_HANDOUT);
      return handOutBatch({ deviceId, limit, newSession: options.newSession });
    },

    async report(deviceId, outcome) {
      if (outcome.status === 'acknowledged') return ackBatch({ deviceId, commandId: outcome.commandId });
      // Not applied and of an effect kind: a success to apply with its effects, or a late wipe confirmation.
      if ((await outcomeBatch(toRow(deviceId, null, outcome))) === 'effects') await reportWithEffects(deviceId, outcome);
    },

    async cancellationsDelivered(deviceId, commandIds) {
      if (commandIds.length > 0) await repo.markCancellationsNotified(db, deviceId, commandIds);
    },

    async alreadyReceived(deviceId, commandIds) {
      if (commandIds.length > 0) await repo.acknowledgeReceived(db, deviceId, commandIds);
    },
  };
}
export type CommandQueue = ReturnType<typeof createCommandQueue>;
