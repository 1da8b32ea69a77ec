import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../server/infra/db/client';
import { apiTokens, type RoleName, type ScopeType } from '../../server/infra/db/schema';
import { createApiTokensService } from '../../server/modules/access/tokens.service';
import { createUsersService } from '../../server/modules/access/users.service';
import type { Services } from '../../server/services';
import type { TestApp } from './test-env';

export interface PrincipalSpec {
  role: RoleName;
  scopeType: ScopeType;
  scopeId?: string | null;
  organisationId: string;
  /** The token expired a minute ago: the API must answer 401. */
  expired?: boolean;
  email?: string;
}

type AccessServices = Pick<Services, 'users' | 'apiTokens'>;

/** A new user holding one grant, and a bearer token carrying it, to call the API as any role. */
export async function createPrincipalToken(servicesOrDb: AccessServices | Db, spec: PrincipalSpec, db?: Db): Promise<string> {
  const services: AccessServices =
    'users' in servicesOrDb ? servicesOrDb : { users: createUsersService({ db: servicesOrDb }), apiTokens: createApiTokensService({ db: servicesOrDb }) };
  const scopeId = spec.scopeType === 'organisation' ? null : (spec.scopeId ?? null);
  const email = spec.email ?? `${spec.role}-${randomBytes(4).toString('hex')}@test.cartable.local`;
  const user = await services.users.createUser({ organisationId: spec.organisationId, email, displayName: `${spec.role} test` });
  await services.users.assignRole({ organisationId: spec.organisationId, userId: user.id, role: spec.role, scopeType: spec.scopeType, scopeId });
  const { token, id } = await services.apiTokens.createApiToken(user.id, { name: 'test', role: spec.role, scopeType: spec.scopeType, scopeId, expiresAt: new Date(Date.now() + 3600_000) });
  if (spec.expired) {
    const handle = db ?? ('users' in servicesOrDb ? undefined : servicesOrDb);
    if (!handle) throw new Error('createPrincipalToken: pass the database (third argument) to create an expired token');
    await handle.update(apiTokens).set({ expiresAt: sql`now() - interval '1 minute'` }).where(eq(apiTokens.id, id));
  }
  return token;
}

/**
 * A browser session, opened as a sign-in through the identity provider opens it, and the CSRF
 * token a page of the console gives it (with the cookie that carries the CSRF secret).
 */
export async function signIn(t: TestApp, email: string, ip: string): Promise<{ cookies: Record<string, string>; csrf: string }> {
  const { sessionToken } = await t.services.auth.loginWithVerifiedEmail(email, { ip, userAgent: null });
  const page = await t.app.inject({ url: '/console/tokens', cookies: { cartable_session: sessionToken }, remoteAddress: ip });
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (page.statusCode !== 200 || !csrf) throw new Error(`the session of ${email} opened no page (${page.statusCode})`);
  const secret = page.cookies.find((c) => c.name === 'cartable_csrf')!.value;
  return { cookies: { cartable_session: sessionToken, cartable_csrf: secret }, csrf };
}
