import { SYSTEM_ACTOR } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { Db } from '../../infra/db/client';
import { DEMO_COMMUNES, DEMO_GROUP_NAME, DEMO_ORGANISATION, DEMO_SCHOOLS } from './demo-data';
import { InvalidInputError } from '../../domain/errors';
import { checkProfile } from '../profiles/profile-validation';
import { ensureDirectors, ensureGroups, ensureProfiles, upsertCommunes, upsertOrganisation, upsertSchools } from './demo.repository';

export interface DemoSummary {
  organisationId: string;
  communes: number;
  schools: number;
  pilotSchools: number;
  directorsCreated: number;
  profilesAdded: number;
}

/** Loads the demonstration authority; running it again updates the same rows. */
export async function seedDemo(db: Db, templates: { file: string; body: unknown }[] = []): Promise<DemoSummary> {
  const checked = templates.map(({ file, body }) => {
    const result = checkProfile(body);
    if (!result.ok) throw new InvalidInputError(`${file}: ${result.problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, 'invalid_profile');
    const p = result.profile;
    return { id: p.id, name: p.name, description: p.description, body: p as unknown as Record<string, unknown> };
  });
  return db.transaction(async (tx) => {
    const organisationId = await upsertOrganisation(tx, DEMO_ORGANISATION);
    const communeIds = await upsertCommunes(tx, organisationId, DEMO_COMMUNES);
    const schoolIds = await upsertSchools(
      tx,
      organisationId,
      DEMO_SCHOOLS.map((s) => ({ code: s.code, name: s.name, kind: s.kind, pilot: s.pilot, communeId: communeIds.get(s.commune)! })),
    );
    const pilotIds = DEMO_SCHOOLS.filter((s) => s.pilot).map((s) => schoolIds.get(s.code)!);
    await ensureGroups(tx, organisationId, pilotIds, DEMO_GROUP_NAME);
    const directorsCreated = await ensureDirectors(
      tx,
      organisationId,
      DEMO_SCHOOLS.map((s) => ({ email: s.director.email, name: s.director.name, schoolId: schoolIds.get(s.code)! })),
    );
    const profilesAdded = await ensureProfiles(tx, organisationId, checked);
    const summary = { organisationId, communes: communeIds.size, schools: schoolIds.size, pilotSchools: pilotIds.length, directorsCreated, profilesAdded };
    await recordAudit(tx, { organisationId, actor: SYSTEM_ACTOR, action: 'demo.seed', outcome: 'success', details: { ...summary } });
    return summary;
  });
}
