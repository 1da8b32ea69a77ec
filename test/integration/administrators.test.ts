import { eq, sql } from 'drizzle-orm';
import { users } from '../../server/infra/db/schema';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const db = () => t.infra.database.db;

describe('the first administrator', () => {
  it('is written with its role in one transaction: a failure in between leaves nothing, and the next start succeeds', async () => {
    const lone = await createOrgTree(db(), { communes: 1, schools: 1 });
    await db().delete(users).where(eq(users.email, 'admin@cartable.local'));
    // The grant fails as a crash between the two writes would.
    await db().execute(sql`create function refuse_grant() returns trigger language plpgsql as $$ begin raise exception 'grant refused by the test'; end $$`);
    await db().execute(sql`create trigger refuse_grant before insert on role_assignments for each row execute function refuse_grant()`);
    try {
      await expect(t.services.users.ensureBootstrapAdmin(lone.org.id)).rejects.toMatchObject({ cause: expect.objectContaining({ message: 'grant refused by the test' }) });
    } finally {
      await db().execute(sql`drop trigger refuse_grant on role_assignments; drop function refuse_grant()`);
    }
    expect(await db().select().from(users).where(eq(users.email, 'admin@cartable.local'))).toEqual([]);
    const first = await t.services.users.ensureBootstrapAdmin(lone.org.id);
    expect(first).toMatchObject({ email: 'admin@cartable.local' });
  });
});
