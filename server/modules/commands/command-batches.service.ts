import { NotFoundError } from '../../domain/errors';
import type { Db } from '../../infra/db/client';
import { inScope, schoolsOf } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import * as batches from './command-batches.repository';
import { checkParams, confirmWipe, expiryOf, type Caller, type ParamsResolver } from './command-intent';
import * as repo from './commands.repository';
import type { BulkBody } from './commands.schemas';
import type { AgentVersionGate } from './agent-version-gate';
import type { PlatformRegistry } from './platform-registry';
import type { Confirmations } from './wipe-confirmation';

export interface CommandBatchesDeps {
  db: Db;
  platforms: PlatformRegistry;
  confirmations: Confirmations;
  resolveParams: ParamsResolver;
  agentVersion: AgentVersionGate;
  /** Up to this many devices, every command is stored before the call answers. */
  inlineLimit: number;
  /** Asks a worker to store a larger batch now; best effort, the reconciler resumes it anyway. */
  enqueueBatch(batchId: string): Promise<void>;
}

const CHUNK = 1000;

/**
 * Bulk actions through an outbox. The batch row (what was decided, for which selection and
 * scope) commits with its audit event; its command rows are derived from it chunk by chunk, all
 * at once for a batch up to `inlineLimit` devices, in the background otherwise, and resumed by
 * the reconciler until done. Each chunk is one set-based statement.
 */
export function createCommandBatchesService(deps: CommandBatchesDeps) {
  const { db, platforms, confirmations, agentVersion } = deps;
  const min = agentVersion.minAgentVersionCode;

  /** Stores one chunk of the batch if no other process holds it; false once the batch is done or held. */
  async function storeChunk(batchId: string, size: number): Promise<{ more: boolean; devices: { id: string; platform: 'android' | 'ios' | 'windows' }[] }> {
    return db.transaction(async (tx) => {
      const batch = await batches.lockPendingBatch(tx, batchId);
      if (!batch) return { more: false, devices: [] };
      const chunk = await batches.insertBatchChunk(tx, batch, platforms.eligibility(batch.kind, batch.params), size, min);
      return { more: !chunk.done, devices: chunk.devices };
    });
  }

  async function run(batchId: string): Promise<number> {
    let stored = 0;
    for (;;) {
      const { more, devices } = await storeChunk(batchId, CHUNK);
      stored += devices.length;
      await platforms.wake(devices);
      if (!more) return stored;
    }
  }

  return {
    async bulk(caller: Caller, body: BulkBody) {
      const kind = body.kind;
      const checked = checkParams(kind, body.params);
      // A school or group outside the caller's scope reads as unknown, like any other object.
      if (!(await repo.targetInScope(db, caller.scope, body.target))) throw new NotFoundError('schoolId' in body.target ? 'School' : 'Group');
      const targets = await repo.selectTargetDevices(db, caller.scope, body.target);
      if ('deviceIds' in body.target && targets.length === 0) throw new NotFoundError('Devices');
      const skipped: { deviceId: string; reason: string }[] = [];
      const found = new Set(targets.map((t) => t.id));
      if ('deviceIds' in body.target) for (const id of body.target.deviceIds) if (!found.has(id)) skipped.push({ deviceId: id, reason: 'not_found' });
      const expiresAt = expiryOf(kind, body.expiresInSec, new Date());
      const params = await deps.resolveParams(kind, checked, caller.scope.organisationId, expiresAt);
      let eligible = 0;
      for (const t of targets) {
        const reason = t.status !== 'active' ? `device_${t.status}` : (agentVersion.refusal(kind, params, t)?.code ?? platforms.refusal(kind, t, params)?.code ?? null);
        if (reason) skipped.push({ deviceId: t.id, reason });
        else eligible++;
      }
      if (kind === 'wipe') confirmWipe(confirmations, caller, `bulk:${JSON.stringify(body.target)}`, null, body.confirm);
      const mode = eligible > deps.inlineLimit ? 'fanout' : 'inline';
      const { batch, devices } = await db.transaction(async (tx) => {
        const batch = await batches.insertBatch(tx, {
          organisationId: caller.scope.organisationId,
          kind,
          params,
          target: body.target,
          scopeSchoolIds: schoolsOf(caller.scope)?.slice() ?? null,
          origin: 'technician',
          issuedBy: caller.principal.userId,
          expiresAt,
          eligible,
        });
        const chunk = mode === 'inline' ? await batches.insertBatchChunk(tx, batch, platforms.eligibility(kind, params), deps.inlineLimit + 1, min) : { devices: [] };
        await recordAudit(tx, {
          organisationId: batch.organisationId,
          actor: caller.actor,
          action: 'command.bulk',
          target: { type: 'command_batch', id: batch.id },
          outcome: 'success',
          details: { kind, target: body.target, created: eligible, skipped: skipped.length, mode },
        });
        return { batch, devices: chunk.devices };
      });
      if (mode === 'inline') await platforms.wake(devices);
      else await deps.enqueueBatch(batch.id).catch(() => undefined);
      return { batchId: batch.id, created: eligible, skipped, mode } as const;
    },

    /** Stores a batch's remaining commands, chunk by chunk; safe to run twice at once or after a crash. */
    run,

    /** Resumes every batch left pending (its job lost in a Redis flush, its worker killed). */
    async resumePending(limit = 20): Promise<number> {
      let stored = 0;
      for (const id of await batches.pendingBatchIds(db, limit)) stored += await run(id);
      return stored;
    },

    async progress(caller: Caller, batchId: string) {
      const [batch, counts] = await Promise.all([batches.findBatch(db, caller.scope.organisationId, batchId), repo.batchCounts(db, caller.scope, batchId)]);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const scope = caller.scope;
      const visible = batch && (total > 0 || scope.all || (batch.scopeSchoolIds ?? []).some((id) => inScope(scope, id)));
      // An unknown batch, or one of another scope, reads like an empty one rather than revealing it exists.
      if (!visible) return { batchId, state: 'done' as const, eligible: 0, stored: 0, total, counts };
      return { batchId, state: batch.status, eligible: batch.eligible, stored: batch.created, total, counts };
    },
  };
}
export type CommandBatchesService = ReturnType<typeof createCommandBatchesService>;
