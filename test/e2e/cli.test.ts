import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { createTestEnv, type TestEnv } from '../helpers/test-env';

const ROOT = join(__dirname, '..', '..');
let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => env.cleanup());

async function cartable(args: string[], input?: string): Promise<{ code: number; out: string }> {
  const child = execFile(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'server', 'cli', 'main.ts'), ...args], { env: { ...process.env, ...env.env } });
  if (input !== undefined) child.stdin!.end(input);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, out };
}

async function sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: env.config.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(query, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('the cartable command line', () => {
  it('seeds the demo idempotently', async () => {
    const first = await cartable(['seed-demo']);
    expect(first).toMatchObject({ code: 0 });
    expect(first.out).toMatch(/11 communes, 11 schools \(7 pilot schools in Alpha\), 11 new director accounts/);
    const again = await cartable(['seed-demo']);
    expect(again.out).toMatch(/0 new director accounts/);
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
    expect((await cartable(['create-admin', '--email', 'dsi.admin@admirville.fr'])).code).toBe(1);
  });

  it('reads the password from stdin when asked, and never prints it', async () => {
    const res = await cartable(['create-admin', '--email', 'tech@admirville.fr', '--password-stdin'], 'correct horse battery staple\n');
    expect(res.code).toBe(0);
    expect(res.out).not.toContain('correct horse');
    expect(res.out).not.toMatch(/password/);
    expect((await cartable(['reset-password', '--email', 'tech@admirville.fr', '--password-stdin'], 'short\n')).out).toMatch(/at least 12 characters/);
  });

  it('verifies the audit trail and names a tampered row', async () => {
    const ok = await cartable(['audit', 'verify']);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/audit trail intact: \d+ event\(s\) checked/);
    const [victim] = await sql<{ id: string }>('select id from audit_events order by id limit 1 offset 1');
    await sql(`update audit_events set details = '{"forged": true}' where id = $1`, [victim!.id]);
    const broken = await cartable(['audit', 'verify']);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(`BROKEN at event ${victim!.id}:`);
  });

  it('explains an unknown command', async () => {
    const res = await cartable(['frobnicate']);
    expect(res.code).toBe(2);
    expect(res.out).toMatch(/unknown command "frobnicate"/);
  });
});
