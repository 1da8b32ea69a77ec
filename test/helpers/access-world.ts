import { sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import type { RoleName, ScopeType } from '../../server/infra/db/schema';
import { ROLE_PERMISSIONS, type Permission } from '../../server/modules/access/principal';
import { permissionFor, type RouteAccess } from '../../server/modules/access/route-access';
import { signIn } from './auth';
import { createOrgTree } from './fixtures';
import type { TestApp } from './test-env';

/**
 * The callers of the access matrix and the model it checks them against: the role table and the
 * routes' own declarations. Nothing here lists an expected status by hand.
 */

/**
 * Where a request's target lies in organisation A: a school, a commune, the organisation itself,
 * shared by the whole organisation (its profile and app catalogs: any grant in A reaches them), or nowhere in particular.
 */
export type Where = 'schoolA1' | 'communeA1' | 'organisation' | 'catalog' | 'none';

export interface Caller {
  name: string;
  organisation: 'A' | 'B' | null;
  grant: { role: RoleName; scopeType: ScopeType; scopeId: string | null } | null;
  credential: 'token' | 'session' | 'anonymous' | 'expired';
  userId?: string;
  email?: string;
  token?: string;
  cookies?: Record<string, string>;
  csrf?: string;
  ip: string;
}

export type Outcome = 'unauthenticated' | 'forbidden' | 'not_found' | 'allowed';

/** Two organisations; in A a school and a commune in reach of the "in" callers, another out of it. */
export async function matrixWorld(t: TestApp) {
  const db = t.infra.database.db;
  const a = await createOrgTree(db);
  const b = await createOrgTree(db);
  const [communeA1, communeA2] = a.communes;
  const [schoolA1, schoolA2] = a.schools;
  const grantsA: Record<string, Caller['grant']> = {
    admin: { role: 'admin', scopeType: 'organisation', scopeId: null },
    technicianIn: { role: 'technician', scopeType: 'commune', scopeId: communeA1!.id },
    technicianOut: { role: 'technician', scopeType: 'commune', scopeId: communeA2!.id },
    directorIn: { role: 'director', scopeType: 'school', scopeId: schoolA1!.id },
    directorOut: { role: 'director', scopeType: 'school', scopeId: schoolA2!.id },
    auditor: { role: 'auditor', scopeType: 'organisation', scopeId: null },
  };
  const grantsB: Record<string, Caller['grant']> = {
    admin: { role: 'admin', scopeType: 'organisation', scopeId: null },
    technician: { role: 'technician', scopeType: 'organisation', scopeId: null },
    director: { role: 'director', scopeType: 'school', scopeId: b.schools[0]!.id },
    auditor: { role: 'auditor', scopeType: 'organisation', scopeId: null },
  };
  const callers: Caller[] = [];
  let n = 0;
  for (const [organisation, tree, grants] of [['A', a, grantsA], ['B', b, grantsB]] as const) {
    for (const [name, grant] of Object.entries(grants)) {
      const email = `${name.toLowerCase()}-${organisation.toLowerCase()}-${tree.org.id.slice(0, 8)}@matrix.test`;
      // No password: sessions are opened as the identity provider opens them, without hashing anything.
      const user = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: name });
      await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, ...grant! });
      const { token } = await t.services.apiTokens.createApiToken(user.id, { name: 'matrix', ...grant!, expiresAt: new Date(Date.now() + 3600_000) });
      callers.push({ name: `${name}@${organisation} (token)`, organisation, grant, credential: 'token', userId: user.id, email, token, ip: `10.77.0.${++n}` });
      const session = { name: `${name}@${organisation} (session)`, organisation, grant, credential: 'session' as const, userId: user.id, email, ip: `10.77.0.${++n}` };
      callers.push(Object.assign(session, await signIn(t, email, session.ip)));
    }
  }
  const expired = await t.services.apiTokens.createApiToken(callers[0]!.userId!, { name: 'expired', ...grantsA.admin!, expiresAt: new Date(Date.now() + 3600_000) });
  await db.execute(sql`update api_tokens set expires_at = now() - interval '1 minute' where id = ${expired.id}`);
  callers.push({ name: 'anonymous', organisation: null, grant: null, credential: 'anonymous', ip: `10.77.0.${++n}` });
  callers.push({ name: 'expired token', organisation: 'A', grant: grantsA.admin!, credential: 'expired', token: expired.token, ip: `10.77.0.${++n}` });
  return { a, b, communeA1: communeA1!, schoolA1: schoolA1!, callers };
}

/** Whether the caller's grant reaches a target lying `where` in organisation A. */
function reaches(caller: Caller, where: Where, places: { schoolA1: string; communeA1: string }): boolean {
  if (where === 'none') return true;
  if (caller.organisation !== 'A') return false;
  if (where === 'catalog') return true;
  const g = caller.grant!;
  if (g.scopeType === 'organisation') return true;
  if (where === 'organisation') return false;
  // School A1 lies in commune A1: a grant on that commune reaches both, a grant on the school only the school.
  if (g.scopeType === 'commune') return g.scopeId === places.communeA1;
  return where === 'schoolA1' && g.scopeId === places.schoolA1;
}

/**
 * What the caller must get, from the route's declaration and the role table alone: 401 without
 * valid credentials, 403 without the permission (or with a token where a person is required), 404
 * when the target is out of the grant's reach (another organisation included), allowed otherwise.
 * `handlerPermission` is the permission a route checks inside its handler on the target itself.
 */
export function expectedOutcome(
  access: RouteAccess,
  caller: Caller,
  target: { where: Where; kind?: string; handlerPermission?: Permission },
  places: { schoolA1: string; communeA1: string },
): Outcome | 'as_anonymous' {
  if ('public' in access || 'device' in access) return 'as_anonymous';
  if (caller.credential === 'anonymous' || caller.credential === 'expired') return 'unauthenticated';
  if ('person' in access && access.person && caller.credential !== 'session') return 'forbidden';
  const permission = 'permission' in access ? permissionFor(access, target.kind) : target.handlerPermission;
  if (permission === undefined) return 'allowed';
  const held = ROLE_PERMISSIONS[caller.grant!.role].includes(permission);
  if (!held) return 'permission' in access ? 'forbidden' : 'not_found';
  return reaches(caller, target.where, places) ? 'allowed' : 'not_found';
}

/** Whether an answer is the outcome expected, as the REST API or the console words it. */
export function answers(res: LightMyRequestResponse, outcome: Outcome, surface: 'api' | 'console', grantedStatus?: number): boolean {
  const s = res.statusCode;
  if (surface === 'api') {
    if (outcome === 'allowed') return grantedStatus !== undefined ? s === grantedStatus : s >= 200 && s < 300;
    const status = { unauthenticated: 401, forbidden: 403, not_found: 404 }[outcome];
    return s === status && String(res.headers['content-type']).startsWith('application/problem+json');
  }
  const location = String(res.headers.location);
  const toLogin = s === 303 && (location === '/console/login' || location.startsWith('/console/login?next='));
  // No session: to the sign-in page; a token that is no longer valid: its refusal, as a page.
  if (outcome === 'unauthenticated') return toLogin || s === 401;
  if (outcome === 'forbidden') return s === 403;
  // A form refused by the service is shown again (400), with the refusal in plain words.
  if (outcome === 'not_found') return s === 404 || s === 400;
  return grantedStatus !== undefined ? s === grantedStatus : (s === 200 || s === 303) && !toLogin;
}

/**
 * A digest of every table a person's request may change (the audit trail aside, which records
 * refusals, and the columns that only note when a credential was last used).
 */
export async function databaseDigest(t: TestApp): Promise<Record<string, string>> {
  const tables: Record<string, string> = {
    organisations: 'select * from organisations',
    communes: 'select * from communes',
    schools: 'select * from schools',
    groups: 'select * from groups',
    users: 'select * from users',
    role_assignments: 'select * from role_assignments',
    sessions: 'select id, user_id, expires_at, revoked_at from sessions',
    api_tokens: 'select id, user_id, role, scope_type, scope_id, expires_at, revoked_at from api_tokens',
    enrollment_tokens: 'select * from enrollment_tokens',
    devices: 'select * from devices',
    device_locations: 'select * from device_locations',
    commands: 'select * from commands',
    command_batches: 'select * from command_batches',
    profiles: 'select * from profiles',
    profile_assignments: 'select * from profile_assignments',
    profile_rollouts: 'select * from profile_rollouts',
    device_desired_states: 'select * from device_desired_states',
    apps: 'select * from apps',
    app_versions: 'select * from app_versions',
  };
  const columns = Object.entries(tables).map(([name, query]) => `(select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from (${query}) x) as ${name}`);
  const result = await t.infra.database.db.execute<Record<string, string>>(sql.raw(`select ${columns.join(', ')}`));
  return result.rows[0]!;
}
