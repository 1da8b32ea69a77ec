import { ConflictError, NotFoundError } from '../../domain/errors';
import type { CampaignStatus } from '../../domain/campaigns';
import type { Db, DbOrTx } from '../../infra/db/client';
import { inScope, schoolsOf, SYSTEM_ACTOR, type Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import type { PlatformRegistry } from '../commands/platform-registry';
import { checkPlan, planOfTemplate, Problems, type PlanInput } from './campaign-plan';
import { resolveSubject } from './campaign-subject';
import * as repo from './campaigns.repository';
import type { CreateCampaignBody, ReviseTargetBody, TemplateBody } from './campaigns.schemas';

export interface CampaignsDeps {
  db: Db;
  platforms: Pick<PlatformRegistry, 'eligibility'>;
  now(): Date;
  /** Asks a worker to advance the campaign at once (or at `at`); best effort, the tick does it anyway. */
  wake(campaignId: string, at?: Date): Promise<void>;
}

/** A campaign of another scope reads as unknown, like any other object out of reach. */
export function visible(caller: Pick<Caller, 'scope'>, c: repo.CampaignRow | null): c is repo.CampaignRow {
  if (!c) return false;
  const schools = schoolsOf(caller.scope);
  return schools === null || (c.scopeSchoolIds ?? []).some((id) => inScope(caller.scope, id));
}

/**
 * Campaigns as people plan and steer them: creation stores the campaign, its waves and its
 * target set in one transaction with its audit event; every change of state is a guarded
 * transition on the locked row, audited with who made it. The engine does the sending.
 */
export function createCampaignsService(deps: CampaignsDeps) {
  const { db } = deps;

  async function checkTarget(caller: Caller, target: CreateCampaignBody['target'], problems: Problems): Promise<void> {
    const org = caller.scope.organisationId;
    const lists = [
      ['schoolIds', 'schools', 'school'],
      ['communeIds', 'communes', 'commune'],
      ['groupIds', 'groups', 'group'],
      ['deviceIds', 'devices', 'device'],
    ] as const;
    for (const [field, table, noun] of lists) {
      const ids = target[field] ?? [];
      const known = await repo.knownIds(db, table, org, ids);
      ids.forEach((id, i) => {
        if (!known.has(id) || (table === 'schools' && !inScope(caller.scope, id))) problems.add(`/target/${field}/${i}`, `unknown ${noun}`);
      });
    }
  }

  async function planContext(organisationId: string, caller: Caller, input: PlanInput) {
    const named = [...(input.waves ?? []).flatMap((w) => w.schoolIds ?? []), ...(input.excludedDates ?? []).flatMap((r) => r.schoolIds ?? []), ...(input.calendars ?? []).flatMap((c) => c.schoolIds ?? [])];
    const known = await repo.knownIds(db, 'schools', organisationId, named);
    for (const id of named) if (!inScope(caller.scope, id)) known.delete(id);
    return { pilotSchoolIds: await repo.pilotSchoolIds(db, organisationId), knownSchoolIds: known };
  }

  async function transition(caller: Caller | null, organisationId: string, id: string, from: readonly CampaignStatus[], to: CampaignStatus, action: string, extra?: (tx: DbOrTx, c: repo.CampaignRow) => Promise<Record<string, unknown>>) {
    const actor: Actor = caller?.actor ?? SYSTEM_ACTOR;
    const result = await db.transaction(async (tx) => {
      const c = await repo.lockCampaign(tx, organisationId, id);
      if (!c || (caller && !visible(caller, c))) throw new NotFoundError('Campaign');
      if (!from.includes(c.status)) throw new ConflictError(`The campaign is ${c.status}: ${action} is not possible now`, 'campaign_state', { campaignStatus: c.status });
      const now = deps.now();
      await repo.setCampaign(tx, id, { status: to, ...(to === 'running' && !c.startedAt ? { startedAt: now } : {}), ...(to === 'cancelled' ? { completedAt: now } : {}) });
      const details = extra ? await extra(tx, c) : {};
      await recordAudit(tx, { organisationId, actor, action, target: { type: 'campaign', id }, outcome: 'success', details: { from: c.status, to, ...details } });
      return { ...c, status: to };
    });
    if (to === 'running') await deps.wake(id).catch(() => undefined);
    return result;
  }

  async function create(caller: Caller, body: CreateCampaignBody, origin: 'manual' | 'automatic' = 'manual') {
    const org = caller.scope.organisationId;
    const problems = new Problems();
    const subject = await resolveSubject(db, org, body.action, body, problems);
    await checkTarget(caller, body.target, problems);
    const plan = checkPlan(body, problems, await planContext(org, caller, body));
    const startAt = new Date(body.startAt);
    const deadline = body.deadline ? new Date(body.deadline) : null;
    if (deadline && deadline <= startAt) problems.add('/deadline', 'is not after the start');
    const rules = deps.platforms.eligibility(body.action);
    body.target.platforms?.forEach((p, i) => {
      if (!rules.some((r) => r.platform === p)) problems.add(`/target/platforms/${i}`, `${p} devices cannot take ${body.action}`);
      else if (subject?.appPlatform && subject.appPlatform !== p) problems.add(`/target/platforms/${i}`, `${subject.label} is not available for ${p}`);
    });
    problems.throwIfAny('campaign');

    const campaign = await db.transaction(async (tx) => {
      const c = await repo.insertCampaign(
        tx,
        {
          organisationId: org,
          name: body.name,
          action: body.action,
          subject: subject!.ids,
          appId: subject!.appId,
          target: body.target,
          scopeSchoolIds: schoolsOf(caller.scope)?.slice() ?? null,
          startAt,
          deadline,
          windows: plan.windows,
          timeZone: plan.timeZone,
          excluded: plan.excluded,
          perSchoolCap: plan.perSchoolCap,
          retry: plan.retry,
          offlineDays: plan.offlineDays,
          createdBy: caller.principal.userId,
          origin,
        },
        plan.waves,
      );
      const targets = await repo.insertTargets(tx, { campaign: c, waves: plan.waves, rules, appPlatform: subject!.appPlatform });
      // Rolled back with everything else: nothing is created for a target that matches nothing.
      if (targets === 0) {
        const none = new Problems();
        none.add('/target', 'matches no device');
        none.throwIfAny('campaign');
      }
      await recordAudit(tx, {
        organisationId: org,
        actor: caller.actor,
        action: 'campaign.create',
        target: { type: 'campaign', id: c.id },
        outcome: 'success',
        details: { name: c.name, action: c.action, subject: subject!.ids, target: body.target, devices: targets, waves: plan.waves.length, origin },
      });
      return c;
    });
    return campaign;
  }

  return {
    create,

    start: (caller: Caller, id: string) =>
      transition(caller, caller.scope.organisationId, id, ['draft'], 'running', 'campaign.start', async (_tx, c) => {
        await deps.wake(id, c.startAt).catch(() => undefined);
        return {};
      }),

    /** Queued commands of a paused campaign are held back from every device until it resumes. */
    pause: (caller: Caller, id: string) => transition(caller, caller.scope.organisationId, id, ['running'], 'paused', 'campaign.pause'),
    resume: (caller: Caller, id: string) => transition(caller, caller.scope.organisationId, id, ['paused'], 'running', 'campaign.resume'),

    cancel: (caller: Caller, id: string) =>
      transition(caller, caller.scope.organisationId, id, ['draft', 'running', 'paused'], 'cancelled', 'campaign.cancel', async (tx) => ({
        cancelledCommands: await repo.cancelOpenCommands(tx, id),
        skipped: await repo.skipPending(tx, id, 'cancelled'),
      })),

    /** A person's go for a wave waiting for approval: the next wave starts. */
    async approve(caller: Caller, id: string, position: number) {
      const org = caller.scope.organisationId;
      await db.transaction(async (tx) => {
        const c = await repo.lockCampaign(tx, org, id);
        if (!visible(caller, c)) throw new NotFoundError('Campaign');
        const waves = await repo.wavesOf(tx, id);
        const wave = waves.find((w) => w.position === position);
        if (!wave) throw new NotFoundError('Wave');
        if (wave.status !== 'awaiting_approval') throw new ConflictError(`Wave ${position} is ${wave.status}, not awaiting approval`, 'wave_state', { waveStatus: wave.status });
        const now = deps.now();
        await repo.setWave(tx, id, position, { status: 'passed', endedAt: now, approvedBy: caller.principal.userId });
        const next = waves.find((w) => w.position === position + 1);
        if (next) await repo.setWave(tx, id, next.position, { status: 'running', startedAt: now });
        await recordAudit(tx, { organisationId: org, actor: caller.actor, action: 'campaign.promote', target: { type: 'campaign', id }, outcome: 'success', details: { wave: position, by: 'approval' } });
      });
      await deps.wake(id).catch(() => undefined);
    },

    /**
     * A started campaign's target changes only through a new revision, audited with its reason:
     * devices it adds join their waves, devices it drops that were sent nothing are skipped.
     */
    async reviseTarget(caller: Caller, id: string, body: ReviseTargetBody) {
      const org = caller.scope.organisationId;
      // A campaign out of reach is unknown before anything about the new target is said.
      if (!visible(caller, await repo.findCampaign(db, org, id))) throw new NotFoundError('Campaign');
      const problems = new Problems();
      await checkTarget(caller, body.target, problems);
      problems.throwIfAny('campaign');
      const result = await db.transaction(async (tx) => {
        const c = await repo.lockCampaign(tx, org, id);
        if (!visible(caller, c)) throw new NotFoundError('Campaign');
        if (!['draft', 'running', 'paused'].includes(c.status)) throw new ConflictError(`The campaign is ${c.status}: its target no longer changes`, 'campaign_state', { campaignStatus: c.status });
        const revised = { ...c, target: body.target };
        const subject = await resolveSubject(tx, org, c.action, c.subject, new Problems());
        const selection = { campaign: revised, waves: await repo.wavesOf(tx, id), rules: deps.platforms.eligibility(c.action), appPlatform: subject?.appPlatform ?? null };
        const dropped = await repo.skipOutsideTarget(tx, selection);
        const added = await repo.insertTargets(tx, selection);
        await repo.setCampaign(tx, id, { target: body.target, revision: c.revision + 1 });
        await recordAudit(tx, {
          organisationId: org,
          actor: caller.actor,
          action: 'campaign.revise',
          target: { type: 'campaign', id },
          outcome: 'success',
          details: { revision: c.revision + 1, reason: body.reason, before: c.target, after: body.target, added, dropped },
        });
        return { revision: c.revision + 1, added, dropped };
      });
      await deps.wake(id).catch(() => undefined);
      return result;
    },

    /**
     * A new catalog version of an app the organisation updates automatically: a campaign from
     * the template, to the devices that have the app, started at once (its windows still apply).
     * Null when the app is not switched on or no template exists.
     */
    async autoUpdate(caller: Caller, appId: string, versionId: string) {
      const template = await repo.findTemplate(db, caller.scope.organisationId);
      if (!template?.autoUpdateAppIds.includes(appId)) return null;
      const app = await repo.appIdentity(db, caller.scope.organisationId, appId);
      if (!app) return null;
      const body = {
        ...(template.plan as unknown as PlanInput),
        name: `${app.name} ${app.version}`,
        action: 'install_app' as const,
        appVersionId: versionId,
        target: { platforms: [app.platform], installedApp: app.identifier },
        startAt: deps.now().toISOString(),
      };
      const c = await create(caller, body, 'automatic');
      await transition(caller, c.organisationId, c.id, ['draft'], 'running', 'campaign.start');
      return c.id;
    },

    async getTemplate(caller: Caller) {
      return repo.findTemplate(db, caller.scope.organisationId);
    },

    /** The organisation's default plan, and the apps whose new versions start a campaign from it. */
    async setTemplate(caller: Caller, body: TemplateBody) {
      const org = caller.scope.organisationId;
      const problems = new Problems();
      checkPlan(planOfTemplate(body), problems, await planContext(org, caller, body));
      const appIds = await repo.knownIds(db, 'apps', org, body.autoUpdateAppIds);
      body.autoUpdateAppIds.forEach((appId, i) => {
        if (!appIds.has(appId)) problems.add(`/autoUpdateAppIds/${i}`, 'not in the app catalog');
      });
      problems.throwIfAny('template');
      await db.transaction(async (tx) => {
        await repo.upsertTemplate(tx, { organisationId: org, plan: planOfTemplate(body) as Record<string, unknown>, autoUpdateAppIds: body.autoUpdateAppIds, updatedBy: caller.principal.userId });
        await recordAudit(tx, { organisationId: org, actor: caller.actor, action: 'campaign.template.update', target: { type: 'organisation', id: org }, outcome: 'success', details: { autoUpdateAppIds: body.autoUpdateAppIds } });
      });
      return repo.findTemplate(db, org);
    },
  };
}
export type CampaignsService = ReturnType<typeof createCampaignsService>;
