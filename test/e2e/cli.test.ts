import { asDatabaseOwner } from '../helpers/audit-chain';
import { buildOnce, npxCartable, type CliResult } from '../helpers/cli';
import { queryDatabase } from '../helpers/databases';
import { createTestEnv, type TestEnv } from '../helpers/test-env';

let env: TestEnv;

// Each npx start costs seconds on a busy machine; a test makes several.
jest.setTimeout(120_000);

beforeAll(async () => {
  await buildOnce();
  env = await createTestEnv();
}, 300_000);
afterAll(async () => env.cleanup());

const cartable = (args: string[], input?: string): Promise<CliResult> => npxCartable(args, { env: env.env, input });

const sql = <T>(text: string, params: unknown[] = []) => queryDatabase<T>(env.config.DATABASE_URL, text, params);

describe('npx cartable, as the README runs it', () => {
  it('prints the usage for --help and exits 0, also without installing anything', async () => {
    for (const noInstall of [false, true]) {
      const res = await npxCartable(['--help'], { env: env.env, noInstall });
      expect(res).toMatchObject({ code: 0, stderr: '' });
      expect(res.stdout).toMatch(/^Usage: cartable <command>/);
      expect(res.stdout).toContain('audit verify');
    }
  });

  it('prints the usage and exits 2 without a command', async () => {
    const res = await cartable([]);
    expect(res.code).toBe(2);
    expect(res.stdout).toMatch(/^Usage: cartable/);
  });

  it('explains an unknown command and exits 2', async () => {
    const res = await cartable(['frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^cartable: unknown command "frobnicate"/);
  });

  it('exits 2 with one line when a required option is missing or unknown', async () => {
    const missing = await cartable(['create-admin']);
    expect(missing).toMatchObject({ code: 2, stderr: 'cartable: --email ADDRESS is required\n' });
    const unknown = await cartable(['create-admin', '--email', 'a@b.fr', '--frob']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('applies migrations, and says so', async () => {
    const res = await cartable(['migrate']);
    expect(res).toMatchObject({ code: 0, stdout: 'migrations applied\n' });
  });

  it('fails with a one-line message and a non-zero code when PostgreSQL is unreachable or the configuration is wrong', async () => {
    const unreachable = await npxCartable(['migrate'], { env: { ...env.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' } });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^cartable: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
    const misconfigured = await npxCartable(['audit', 'verify'], { env: { ...env.env, DATABASE_URL: 'mysql://x' } });
    expect(misconfigured.code).toBe(1);
    expect(misconfigured.stderr).toMatch(/^cartable: invalid configuration: DATABASE_URL .*\n$/);
  });

  it('seeds the demo idempotently', async () => {
    const first = await cartable(['seed-demo']);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/11 communes, 11 schools \(7 pilot schools in Alpha\), 11 new director accounts/);
    const again = await cartable(['seed-demo']);
    expect(first.out).toMatch(/8 profile templates added to the catalog/);
    expect(again.out).toMatch(/0 new director accounts, 0 profile templates added/);
    const [org] = await sql<{ name: string; n: number }>("select o.name, (select count(*)::int from schools s join communes c on c.id = s.commune_id where c.name = 'Alpha' and s.pilot) as n from organisations o");
    expect(org).toEqual({ name: "Communauté d'agglomération d'Admirville", n: 7 });
  });

  it('creates an administrator and prints a generated password once', async () => {
    const res = await cartable(['create-admin', '--email', 'Dsi.Admin@Admirville.fr']);
    expect(res.code).toBe(0);
    const password = /password \(shown only this once\): (\S+)/.exec(res.out)?.[1];
    expect(password).toMatch(/^[\w-]{20,}$/);
    const [row] = await sql<{ password_hash: string; role: string }>(
      "select u.password_hash, r.role from users u join role_assignments r on r.user_id = u.id where u.email = 'dsi.admin@admirville.fr'",
    );
    expect(row!.role).toBe('admin');
    expect(row!.password_hash).toMatch(/^scrypt\$/);
    expect(row!.password_hash).not.toContain(password);
    const again = await cartable(['create-admin', '--email', 'dsi.admin@admirville.fr']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reads the password from stdin when asked, and never prints it', async () => {
    const res = await cartable(['create-admin', '--email', 'tech@admirville.fr', '--password-stdin'], 'correct horse battery staple\n');
    expect(res.code).toBe(0);
    expect(res.out).not.toContain('correct horse');
    expect(res.out).not.toMatch(/password/);
    expect((await cartable(['reset-password', '--email', 'tech@admirville.fr', '--password-stdin'], 'short\n')).out).toMatch(/at least 12 characters/);
  });

  it('verifies the audit trail, and exits 1 naming a tampered row', async () => {
    const ok = await cartable(['audit', 'verify']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/audit trail intact: \d+ event\(s\) checked in \d+ chain\(s\)/);
    const victim = await asDatabaseOwner(env.config.DATABASE_URL, async (c) => {
      const [row] = (await c.query<{ id: string; seq: string }>('select id, seq from audit_events order by id limit 1 offset 1')).rows;
      await c.query(`update audit_events set action = 'forged' where id = $1`, [row!.id]);
      return row!;
    });
    const broken = await cartable(['audit', 'verify']);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`BROKEN at event ${victim.id} (seq ${victim.seq}):`);
  });
});
