import { eq } from 'drizzle-orm';
import { users } from '../../server/infra/db/schema';
import { LoginThrottle } from '../../server/infra/login-throttle';
import { createAuthService, LOCK_SECONDS } from '../../server/modules/access/auth.service';
import { verifyPassword } from '../../server/modules/access/credentials';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let organisationId: string;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  organisationId = (await createOrgTree(t.infra.database.db, { communes: 1, schools: 1 })).org.id;
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const db = () => t.infra.database.db;
const context = { ip: '10.1.0.1', userAgent: null };

/** The real sign-in, with every password verification it runs written down (the real scrypt still runs). */
function observedAuth() {
  const verifications: Array<{ password: string; params: string }> = [];
  const auth = createAuthService({
    db: db(),
    throttle: new LoginThrottle(t.infra.redis, env.config.REDIS_PREFIX, LOCK_SECONDS),
    verifyPassword: (password, stored) => {
      verifications.push({ password, params: stored.split('$').slice(0, 4).join('$') });
      return verifyPassword(password, stored);
    },
  });
  return { auth, verifications };
}

async function account(email: string, patch: Partial<typeof users.$inferInsert> = {}) {
  await t.services.users.createUser({ organisationId, email, displayName: 'Person', password: 'the right password' });
  if (Object.keys(patch).length) await db().update(users).set(patch).where(eq(users.email, email));
}

describe('sign-in does the same work whatever the account', () => {
  it('runs one scrypt verification with the same parameters for a wrong password, an unknown, a locked, a disabled and a password-less account', async () => {
    await account('wrong@example.org');
    await account('locked@example.org', { lockedUntil: new Date(Date.now() + 600_000) });
    await account('disabled@example.org', { status: 'disabled' });
    await account('nopassword@example.org', { passwordHash: null });
    const { auth, verifications } = observedAuth();
    const params = new Map<string, string[]>();
    for (const email of ['wrong@example.org', 'nobody@example.org', 'locked@example.org', 'disabled@example.org', 'nopassword@example.org']) {
      verifications.length = 0;
      await expect(auth.login(email, 'a wrong password', context)).rejects.toMatchObject({ kind: expect.stringMatching(/^(unauthenticated|rate_limited)$/) });
      expect(verifications.map((v) => v.password)).toEqual(['a wrong password']);
      params.set(email, verifications.map((v) => v.params));
    }
    // The same scrypt cost everywhere: the decoy hash is made like a real one.
    expect(new Set([...params.values()].map((p) => p.join()))).toEqual(new Set(['scrypt$15$8$1']));
  });

  it('still refuses a locked account given the right password', async () => {
    await account('locked-right@example.org', { lockedUntil: new Date(Date.now() + 600_000) });
    const { auth, verifications } = observedAuth();
    await expect(auth.login('locked-right@example.org', 'the right password', context)).rejects.toMatchObject({ code: 'account_locked' });
    expect(verifications).toHaveLength(1);
  });
});
