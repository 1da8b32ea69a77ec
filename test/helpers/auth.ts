import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../server/infra/db/client';
import { apiTokens, type RoleName, type ScopeType } from '../../server/infra/db/schema';
import { createApiTokensService } from '../../server/modules/access/tokens.service';
import { createUsersService } from '../../server/modules/access/users.service';
import type { Services } from '../../server/services';

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
