import { sql } from 'drizzle-orm';
import { createDatabase, type Database } from '../../server/infra/db/client';
import { createAgentVersionGate } from '../../server/modules/commands/agent-version-gate';
import { heldBackFromOutdatedAgent } from '../../server/modules/commands/command-queue.repository';
import { createTestDatabase, dropTestDatabase } from '../helpers/databases';

/**
 * Agent protocol §24.1, rule by rule: what an agent below the minimum version is held back from,
 * in SQL (delivery, reconciliation, bulk actions) and before a command is created, alike.
 */
let database: Database;
let name: string;

beforeAll(async () => {
  const created = await createTestDatabase();
  name = created.name;
  database = createDatabase(created.url, 2);
});
afterAll(async () => {
  await database?.close();
  if (name) await dropTestDatabase(name);
});

const OWN = 'fr.cartable.agent';
interface Case {
  platform: string;
  agentVersionCode: number | null;
  agentPackage: string | null;
  kind: string;
  packageName?: string;
}

async function heldBack(min: number | null, c: Case): Promise<boolean> {
  const facts = c.agentPackage === null ? {} : { agent: { packageName: c.agentPackage } };
  const params = c.packageName === undefined ? {} : { packageName: c.packageName };
  const result = await database.db.execute<{ held: boolean }>(sql`
    select ${heldBackFromOutdatedAgent(min)} as held
    from (select ${c.platform}::text as platform, ${c.agentVersionCode}::int as agent_version_code, ${JSON.stringify(facts)}::jsonb as facts) d,
         (select ${c.kind}::text as kind, ${JSON.stringify(params)}::jsonb as params) c`);
  return result.rows[0]!.held;
}

const cases: [string, Case, boolean][] = [
  ['an ordinary command to an outdated agent', { platform: 'android', agentVersionCode: 10000, agentPackage: OWN, kind: 'lock' }, true],
  ['its own update', { platform: 'android', agentVersionCode: 10000, agentPackage: OWN, kind: 'install_app', packageName: OWN }, false],
  ["another app's install", { platform: 'android', agentVersionCode: 10000, agentPackage: OWN, kind: 'install_app', packageName: 'org.geogebra.android' }, true],
  ['an install to an agent whose package is unknown', { platform: 'android', agentVersionCode: 10000, agentPackage: null, kind: 'install_app', packageName: OWN }, true],
  ['a command to an agent at the minimum', { platform: 'android', agentVersionCode: 10100, agentPackage: OWN, kind: 'lock' }, false],
  ['a command to an agent that has not told its version', { platform: 'android', agentVersionCode: null, agentPackage: OWN, kind: 'lock' }, false],
  ['a command to another platform', { platform: 'ios', agentVersionCode: 10000, agentPackage: null, kind: 'lock' }, false],
];

describe('an agent below the minimum version', () => {
  it.each(cases)('%s: the SQL rule and the check before creation agree', async (_, c, expected) => {
    expect(await heldBack(10100, c)).toBe(expected);
    const refusal = createAgentVersionGate(10100).refusal(c.kind, c.packageName === undefined ? {} : { packageName: c.packageName }, c);
    expect(refusal !== null).toBe(expected);
    if (refusal) expect(refusal).toMatchObject({ code: 'agent_outdated', details: { minAgentVersionCode: 10100, agentVersionCode: c.agentVersionCode } });
  });

  it('holds nothing back when no minimum is set', async () => {
    expect(await heldBack(null, cases[0]![1])).toBe(false);
    expect(createAgentVersionGate(undefined).refusal('lock', {}, cases[0]![1])).toBeNull();
  });
});
