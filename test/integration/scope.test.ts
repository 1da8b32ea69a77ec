import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { commands, devices, groups } from '../../server/infra/db/schema';
import type { Scope } from '../../server/modules/access/principal';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { insertBatch, insertBatchChunk } from '../../server/modules/commands/command-batches.repository';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * One scope filter: whatever reads tenant data reads a scope the same way. An organisation-wide
 * scope reaches everything of its organisation, a list of schools reaches those schools, and an
 * empty list (a commune grant over a commune without schools yet) reaches nothing, never "all".
 */
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let other: Awaited<ReturnType<typeof createOrgTree>>;
const ids = { devices: [] as string[], groups: [] as string[], tokens: [] as string[], commands: [] as string[], batch: '' };

const db = () => t.infra.database.db;
const scopes = () => ({
  all: { all: true, organisationId: tree.org.id } as Scope,
  schoolA: { all: false, organisationId: tree.org.id, schoolIds: [tree.schools[0]!.id], communeIds: [] } as Scope,
  empty: { all: false, organisationId: tree.org.id, schoolIds: [], communeIds: [] } as Scope,
  // The other organisation's whole scope reaches nothing of this one.
  otherOrganisation: { all: true, organisationId: other.org.id } as Scope,
});
const caller = (scope: Scope) => ({ principal: { kind: 'user' as const, userId: randomUUID(), organisationId: scope.organisationId, label: 'test', grants: [] }, scope, actor: SYSTEM_ACTOR });

/** What a scope sees of everything that is scoped in the first organisation. */
async function seen(scope: Scope) {
  const s = t.services;
  const found = async <T>(get: () => Promise<T>) => get().then(() => true, (e: { code?: string }) => (e.code === 'not_found' ? false : Promise.reject(e)));
  return {
    devices: (await s.devices.list(scope, { limit: 100, offset: 0 } as never)).items.map((d: { id: string }) => d.id).sort(),
    deviceReads: (await Promise.all(ids.devices.map((id) => found(() => s.devices.get(scope, id))))).filter(Boolean).length,
    schools: (await s.organisation.listSchools(scope, {})).map((x) => x.id).filter((id) => tree.schools.some((x) => x.id === id)).sort(),
    communes: (await s.organisation.listCommunes(scope)).filter((c) => tree.communes.some((x) => x.id === c.id)).length,
    groups: (await s.organisation.listGroups(scope, {})).map((g) => g.id).sort(),
    enrollmentTokens: (await s.enrollment.listTokens(scope, { limit: 100, offset: 0 })).map((x) => x.id).sort(),
    commands: (await Promise.all(ids.commands.map((id) => found(() => s.commands.get(caller(scope), id))))).filter(Boolean).length,
    history: (await Promise.all(ids.devices.map((id) => s.commands.history(caller(scope), id, 10).then((h) => h.items.length, () => 0)))).reduce((a, b) => a + b, 0),
    fleet: (await s.devices.fleetSummary(scope, { silentDays: 7 })).bySchool.map((x) => x.schoolId).sort(),
    batchTotal: (await s.commandBatches.progress(caller(scope), ids.batch)).total,
  };
}

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(db());
  other = await createOrgTree(db());
  const admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
  const api = (method: 'POST', url: string, payload: object) => t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, payload }).then((r) => r.json());
  for (const school of tree.schools) {
    const [device] = await db().insert(devices).values({ organisationId: tree.org.id, schoolId: school.id, platform: 'android', name: `Tablette ${school.name}` }).returning();
    ids.devices.push(device!.id);
    ids.groups.push((await api('POST', '/groups', { schoolId: school.id, name: 'Classe mobile' })).id);
    ids.tokens.push((await api('POST', '/enrollment-tokens', { schoolId: school.id, label: 'Rentrée' })).enrollmentToken.id);
    ids.commands.push((await api('POST', `/devices/${device!.id}/commands`, { kind: 'refresh_inventory' })).id);
  }
  ids.batch = (await api('POST', '/commands/bulk', { kind: 'refresh_inventory', target: { deviceIds: ids.devices } })).batchId;
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('the scope filter', () => {
  it('gives an organisation-wide scope everything of its organisation', async () => {
    const s = tree.schools.map((x) => x.id).sort();
    expect(await seen(scopes().all)).toEqual({
      devices: [...ids.devices].sort(),
      deviceReads: 2,
      schools: s,
      communes: 2,
      groups: [...ids.groups].sort(),
      enrollmentTokens: [...ids.tokens].sort(),
      commands: 2,
      history: 4,
      fleet: s,
      batchTotal: 2,
    });
  });

  it("gives a list of schools those schools' rows only", async () => {
    expect(await seen(scopes().schoolA)).toEqual({
      devices: [ids.devices[0]],
      deviceReads: 1,
      schools: [tree.schools[0]!.id],
      communes: 0,
      groups: [ids.groups[0]],
      enrollmentTokens: [ids.tokens[0]],
      commands: 1,
      history: 2,
      fleet: [tree.schools[0]!.id],
      batchTotal: 1,
    });
  });

  it('gives an empty list of schools nothing at all, like a scope of another organisation', async () => {
    const nothing = { devices: [], deviceReads: 0, schools: [], communes: 0, groups: [], enrollmentTokens: [], commands: 0, history: 0, fleet: [], batchTotal: 0 };
    expect(await seen(scopes().empty)).toEqual(nothing);
    expect(await seen(scopes().otherOrganisation)).toEqual(nothing);
  });

  it('stores a bulk action made with an empty list of schools without a single command', async () => {
    const batch = await insertBatch(db(), {
      organisationId: tree.org.id,
      kind: 'refresh_inventory',
      params: {},
      target: { deviceIds: ids.devices },
      scopeSchoolIds: [],
      origin: 'technician',
      issuedBy: null,
      expiresAt: new Date(Date.now() + 3600_000),
      eligible: 0,
    });
    const chunk = await insertBatchChunk(db(), batch, [{ platform: 'android', channel: null, capability: null }], 100, null);
    expect(chunk).toMatchObject({ inserted: 0, done: true });
    expect(await db().select().from(commands).where(eq(commands.batchId, batch.id))).toEqual([]);
  });

  it('keeps a group of a school out of an empty scope even when named directly', async () => {
    const [group] = await db().select().from(groups).where(eq(groups.id, ids.groups[0]!));
    await expect(t.services.organisation.getGroup(scopes().empty, group!.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.services.organisation.getGroup(scopes().schoolA, group!.id)).resolves.toMatchObject({ id: group!.id });
  });
});
