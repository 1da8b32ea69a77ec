import type { LoginThrottle } from '../../infra/login-throttle';
import type { Db } from '../../infra/db/client';
import { ForbiddenError, RateLimitedError, UnauthenticatedError } from '../../domain/errors';
import { recordAudit } from '../audit/audit.service';
import {
  countLoginFailure,
  findApiTokenByHash,
  findLiveSessionByHash,
  findUserByEmail,
  grantsOfUser,
  insertSession,
  recordLoginSuccess,
  revokeSessionRow,
  schoolIdsOfCommunes,
  touchApiToken,
  touchSession,
  type UserRow,
} from './access.repository';
import { decoyHash, isApiTokenShape, randomSecret, sha256, verifyPassword } from './credentials';
import { ROLE_PERMISSIONS, type Actor, type Permission, type Principal, type Scope } from './principal';
import { normaliseEmail } from './users.service';

export const LOCK_THRESHOLD = 10;
export const LOCK_SECONDS = 15 * 60;
/** Failed attempts from one address within the lock window before it is turned away. */
const IP_FAILURE_LIMIT = 50;
const SESSION_TTL_SECONDS = 12 * 3600;

export interface LoginContext {
  ip: string;
  userAgent: string | null;
}

export interface SignedIn {
  sessionToken: string;
  csrfToken: string;
  expiresAt: Date;
  user: { id: string; email: string; displayName: string };
}

export function createAuthService(deps: { db: Db; throttle: Pick<LoginThrottle, 'wait' | 'fail' | 'clear'> }) {
  const { db, throttle } = deps;

  async function authenticateBearer(token: string): Promise<Principal> {
    if (!isApiTokenShape(token)) throw new UnauthenticatedError('Invalid API token', 'invalid_token');
    const row = await findApiTokenByHash(db, sha256(token));
    if (!row || row.userStatus !== 'active') throw new UnauthenticatedError('Invalid API token', 'invalid_token');
    const t = row.token;
    if (t.revokedAt) throw new UnauthenticatedError('This API token has been revoked', 'token_revoked');
    if (t.expiresAt <= new Date()) throw new UnauthenticatedError('This API token has expired', 'token_expired');
    if (!row.stillGranted) throw new UnauthenticatedError('The owner of this API token no longer holds its role', 'token_not_granted');
    touchApiToken(db, t.id).catch(() => undefined);
    return {
      kind: 'api_token',
      userId: t.userId,
      organisationId: t.organisationId,
      label: `${row.email} (token ${t.prefix})`,
      grants: [{ role: t.role, scopeType: t.scopeType, scopeId: t.scopeId }],
      tokenId: t.id,
    };
  }

  /** `csrfToken` is required for methods that change state; a browser cannot forge that header cross-site. */
  async function authenticateSession(sessionToken: string, csrfToken: string | undefined, unsafe: boolean): Promise<Principal> {
    const row = await findLiveSessionByHash(db, sha256(sessionToken));
    if (!row || row.user.status !== 'active') throw new UnauthenticatedError('Session expired; sign in again', 'session_expired');
    if (unsafe && (!csrfToken || sha256(csrfToken) !== row.session.csrfTokenHash)) throw new ForbiddenError('Missing or wrong x-csrf-token header', 'csrf_failed');
    touchSession(db, row.session.id).catch(() => undefined);
    return {
      kind: 'user',
      userId: row.user.id,
      organisationId: row.user.organisationId,
      label: row.user.email,
      grants: await grantsOfUser(db, row.user.id),
      sessionId: row.session.id,
    };
  }

  /** The union of the grants carrying the permission; null when none does. */
  async function scopeFor(principal: Principal, permission: Permission): Promise<Scope | null> {
    const grants = principal.grants.filter((g) => ROLE_PERMISSIONS[g.role].includes(permission));
    if (grants.length === 0) return null;
    if (grants.some((g) => g.scopeType === 'organisation')) return { all: true, organisationId: principal.organisationId };
    const communeIds = [...new Set(grants.filter((g) => g.scopeType === 'commune').map((g) => g.scopeId!))];
    const schoolIds = new Set(grants.filter((g) => g.scopeType === 'school').map((g) => g.scopeId!));
    for (const id of await schoolIdsOfCommunes(db, principal.organisationId, communeIds)) schoolIds.add(id);
    return { all: false, organisationId: principal.organisationId, schoolIds: [...schoolIds], communeIds };
  }

  async function login(emailInput: string, password: string, context: LoginContext): Promise<SignedIn> {
    const email = normaliseEmail(emailInput);
    const account = sha256(email);
    const ipWait = await throttle.wait('ip', context.ip, IP_FAILURE_LIMIT);
    if (ipWait) throw new RateLimitedError('Too many failed sign-ins from this address; try again later', ipWait);
    const user = await findUserByEmail(db, email);
    // What was typed for an unknown account may be a misspelt address or even a password: the
    // trail keeps only a digest of it, enough to see repeated attempts on the same name.
    const label = user ? email : `unknown account sha256:${sha256(email).slice(0, 16)}`;
    const actor: Actor = { type: 'user', id: user?.id ?? null, label, role: null, ip: context.ip };
    const organisationId = user?.organisationId ?? null;

    if (!user || !user.passwordHash || user.status !== 'active') {
      await verifyPassword(password, await decoyHash());
      const wait = await throttle.wait('account', account, LOCK_THRESHOLD);
      await Promise.all([throttle.fail('ip', context.ip), throttle.fail('account', account)]);
      await db.transaction((tx) => recordAudit(tx, { organisationId, actor, action: 'auth.login_failed', target: user ? { type: 'user', id: user.id } : undefined, outcome: 'failure', details: { reason: user ? 'no_password_or_disabled' : 'unknown_account' } }));
      if (wait) throw new RateLimitedError('This account is locked after too many failed sign-ins', wait, 'account_locked');
      throw new UnauthenticatedError('Wrong email or password', 'invalid_credentials');
    }

    if (user.lockedUntil && user.lockedUntil > new Date()) {
      const wait = Math.ceil((user.lockedUntil.getTime() - Date.now()) / 1000);
      await db.transaction((tx) => recordAudit(tx, { organisationId, actor, action: 'auth.login_failed', target: { type: 'user', id: user.id }, outcome: 'denied', details: { reason: 'account_locked' } }));
      throw new RateLimitedError('This account is locked after too many failed sign-ins', wait, 'account_locked');
    }

    if (!(await verifyPassword(password, user.passwordHash))) {
      await throttle.fail('ip', context.ip);
      await db.transaction(async (tx) => {
        const after = await countLoginFailure(tx, user.id, LOCK_THRESHOLD, LOCK_SECONDS);
        await recordAudit(tx, { organisationId, actor, action: 'auth.login_failed', target: { type: 'user', id: user.id }, outcome: 'failure', details: { reason: 'wrong_password' } });
        if (after.lockedUntil && after.lockedUntil > new Date() && after.failedLogins === 0) {
          await recordAudit(tx, { organisationId, actor, action: 'auth.account_locked', target: { type: 'user', id: user.id }, outcome: 'success', details: { until: after.lockedUntil.toISOString(), failures: LOCK_THRESHOLD } });
        }
      });
      throw new UnauthenticatedError('Wrong email or password', 'invalid_credentials');
    }

    const signedIn = await startSession(user, 'password', context);
    await throttle.clear('account', account);
    return signedIn;
  }

  /**
   * Opens a session for a person whose identity has been established, by password here and by
   * an OpenID Connect callback later: only `method` differs, the session and its cookie do not.
   */
  async function startSession(user: UserRow, method: 'password' | 'oidc', context: LoginContext): Promise<SignedIn> {
    const sessionToken = randomSecret();
    const csrfToken = randomSecret();
    const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
    const actor: Actor = { type: 'user', id: user.id, label: user.email, role: null, ip: context.ip };
    await db.transaction(async (tx) => {
      await recordLoginSuccess(tx, user.id);
      const sessionId = await insertSession(tx, { userId: user.id, tokenHash: sha256(sessionToken), csrfTokenHash: sha256(csrfToken), method, sourceIp: context.ip, userAgent: context.userAgent, expiresAt });
      await recordAudit(tx, { organisationId: user.organisationId, actor, action: 'auth.login', target: { type: 'user', id: user.id }, outcome: 'success', details: { method, sessionId } });
    });
    return { sessionToken, csrfToken, expiresAt, user: { id: user.id, email: user.email, displayName: user.displayName } };
  }

  async function logout(principal: Principal, actor: Actor): Promise<void> {
    const sessionId = principal.sessionId;
    if (!sessionId) return;
    await db.transaction(async (tx) => {
      await revokeSessionRow(tx, sessionId);
      await recordAudit(tx, { organisationId: principal.organisationId, actor, action: 'auth.logout', target: { type: 'user', id: principal.userId }, outcome: 'success', details: { sessionId } });
    });
  }

  return { authenticateBearer, authenticateSession, scopeFor, login, startSession, logout };
}

export type AuthService = ReturnType<typeof createAuthService>;
