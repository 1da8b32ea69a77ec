import type { Db } from '../../infra/db/client';
import type { RoleName, ScopeType } from '../../infra/db/schema';
import { InvalidInputError, ForbiddenError, NotFoundError } from '../../domain/errors';
import { recordAudit } from '../audit/audit.service';
import { communeOfSchool, findApiToken, findUserById, insertApiToken, listApiTokensOf, revokeApiTokenRow, scopeTargetExists, type ApiTokenRow } from './access.repository';
import { newApiToken } from './credentials';
import { SYSTEM_ACTOR, auditScopeOf, type Actor, type Principal, type RoleGrant } from './principal';

export interface NewApiToken {
  name: string;
  role: RoleName;
  scopeType: ScopeType;
  scopeId: string | null;
  expiresAt: Date;
}

export interface ApiTokenView {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  role: RoleName;
  scopeType: ScopeType;
  scopeId: string | null;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}

const MAX_LIFETIME_MS = 366 * 24 * 3600 * 1000;

function tokenView(t: ApiTokenRow): ApiTokenView {
  return {
    id: t.id,
    userId: t.userId,
    name: t.name,
    prefix: t.prefix,
    role: t.role,
    scopeType: t.scopeType,
    scopeId: t.scopeId,
    expiresAt: t.expiresAt.toISOString(),
    revokedAt: t.revokedAt?.toISOString() ?? null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    createdAt: t.createdAt.toISOString(),
  };
}

export function createApiTokensService(deps: { db: Db }) {
  const { db } = deps;

  /** Issues a token for a user; the clear token is returned here only and never stored. */
  async function createApiToken(userId: string, input: NewApiToken, actor: Actor = SYSTEM_ACTOR): Promise<{ token: string; id: string; view: ApiTokenView }> {
    const user = await findUserById(db, userId);
    if (!user) throw new NotFoundError('User');
    const scopeId = input.scopeType === 'organisation' ? null : input.scopeId;
    if (!(await scopeTargetExists(db, user.organisationId, input.scopeType, scopeId))) throw new InvalidInputError(`Unknown ${input.scopeType}`, 'unknown_scope');
    const { token, prefix, hash } = newApiToken();
    return db.transaction(async (tx) => {
      const row = await insertApiToken(tx, { organisationId: user.organisationId, userId, name: input.name, tokenHash: hash, prefix, role: input.role, scopeType: input.scopeType, scopeId, expiresAt: input.expiresAt });
      await recordAudit(tx, {
        organisationId: user.organisationId,
        actor,
        action: 'api_token.create',
        target: { type: 'api_token', id: row.id },
        ...auditScopeOf(input.scopeType, scopeId),
        outcome: 'success',
        details: { userId, prefix, role: input.role, scopeType: input.scopeType, scopeId, expiresAt: input.expiresAt.toISOString() },
      });
      return { token, id: row.id, view: tokenView(row) };
    });
  }

  /** A grant the caller holds covers the token's role and scope (a commune grant covers its schools). */
  async function covered(grants: RoleGrant[], input: NewApiToken): Promise<boolean> {
    for (const g of grants) {
      if (g.role !== input.role) continue;
      if (g.scopeType === 'organisation') return true;
      if (g.scopeType === input.scopeType && g.scopeId === input.scopeId) return true;
      if (g.scopeType === 'commune' && input.scopeType === 'school' && input.scopeId && (await communeOfSchool(db, input.scopeId)) === g.scopeId) return true;
    }
    return false;
  }

  /**
   * A person signed in with a session mints a token for themself, never wider than what they hold
   * and for a year at most. A token never mints one: a leaked token could otherwise extend itself
   * and leave children that outlive its revocation.
   */
  async function issueForCaller(principal: Principal, input: NewApiToken, actor: Actor) {
    if (principal.kind !== 'user' || !principal.sessionId) throw new ForbiddenError('Only a signed-in person creates API tokens, never a token', 'person_required');
    const lifetime = input.expiresAt.getTime() - Date.now();
    if (lifetime <= 0 || lifetime > MAX_LIFETIME_MS) throw new InvalidInputError('expiresAt must be in the future and within a year', 'invalid_expiry');
    if (!(await covered(principal.grants, input))) throw new ForbiddenError('A token cannot carry a role or scope you do not hold', 'grant_not_held');
    return createApiToken(principal.userId, input, actor);
  }

  /** Lists the caller's own tokens, or everyone's for an administrator; never the secret. */
  async function list(principal: Principal, everyone: boolean): Promise<ApiTokenView[]> {
    const rows = await listApiTokensOf(db, principal.organisationId, everyone ? undefined : principal.userId);
    return rows.map(tokenView);
  }

  /** Takes effect at once: tokens are checked against the database on every request. */
  async function revoke(principal: Principal, id: string, mayRevokeOthers: boolean, actor: Actor): Promise<ApiTokenView> {
    return db.transaction(async (tx) => {
      const row = await findApiToken(tx, principal.organisationId, id);
      if (!row || (!mayRevokeOthers && row.userId !== principal.userId)) throw new NotFoundError('API token');
      await revokeApiTokenRow(tx, id);
      await recordAudit(tx, { organisationId: principal.organisationId, actor, action: 'api_token.revoke', target: { type: 'api_token', id }, outcome: 'success', details: { userId: row.userId, prefix: row.prefix } });
      const updated = await findApiToken(tx, principal.organisationId, id);
      return tokenView(updated!);
    });
  }

  return { createApiToken, issueForCaller, list, revoke };
}

export type ApiTokensService = ReturnType<typeof createApiTokensService>;
