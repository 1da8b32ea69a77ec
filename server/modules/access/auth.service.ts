import type { LoginThrottle } from '../../infra/login-throttle';
import type { Db } from '../../infra/db/client';
import type { RoleName } from '../../infra/db/schema';
import { InvalidInputError, RateLimitedError, UnauthenticatedError } from '../../domain/errors';
import { recordAudit } from '../audit/audit.service';
import {
  countLoginFailure,
  directorsReadPositions,
  findApiTokenByHash,
  findLiveSessionByHash,
  findUserByEmail,
  findUserById,
  grantsOfUser,
  insertSession,
  recordLoginSuccess,
  replaceOwnPassword,
  revokeSessionRow,
  schoolIdsOfCommunes,
  touchApiToken,
  touchSession,
  type UserRow,
} from './access.repository';
import { decoyHash, hashPassword, isApiTokenShape, randomSecret, sha256, verifyPassword } from './credentials';
import { ROLE_PERMISSIONS, type Actor, type Permission, type Principal, type Scope } from './principal';
import { normaliseEmail } from './users.service';

export const LOCK_THRESHOLD = 10;
export const LOCK_SECONDS = 15 * 60;
export const MIN_PASSWORD_LENGTH = 12;
const SESSION_TTL_SECONDS = 12 * 3600;

export interface LoginContext {
  ip: string;
  userAgent: string | null;
}

export interface SignedIn {
  sessionToken: string;
  sessionId: string;
  expiresAt: Date;
  user: { id: string; email: string; displayName: string };
  mustChangePassword: boolean;
}

/**
 * Who an attempt to sign in is recorded as. What was typed for an unknown account may be a
 * misspelt address or even a password: the trail keeps only a digest of it, enough to see
 * repeated attempts on the same name.
 */
function signInActor(user: UserRow | undefined, email: string, context: LoginContext): Actor {
  const label = user ? email : `unknown account sha256:${sha256(email).slice(0, 16)}`;
  return { type: 'user', id: user?.id ?? null, label, role: null, ip: context.ip };
}

/** How a typed password is checked against a stored hash; a caller may wrap it to observe the work done. */
export type PasswordVerifier = (password: string, stored: string) => Promise<boolean>;

export function createAuthService(deps: { db: Db; throttle: Pick<LoginThrottle, 'wait' | 'fail' | 'clear'>; verifyPassword?: PasswordVerifier }) {
  const { db, throttle } = deps;
  const verify = deps.verifyPassword ?? verifyPassword;
  // Computed now, so that even the first sign-in to an unknown account costs one scrypt, not two.
  decoyHash().catch(() => undefined);

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
      mustChangePassword: row.mustChangePassword,
    };
  }

  /** The session's CSRF token is checked at the HTTP edge, where the form or header carries it. */
  async function authenticateSession(sessionToken: string): Promise<Principal> {
    const row = await findLiveSessionByHash(db, sha256(sessionToken));
    if (!row || row.user.status !== 'active') throw new UnauthenticatedError('Session expired; sign in again', 'session_expired');
    touchSession(db, row.session.id).catch(() => undefined);
    return {
      kind: 'user',
      userId: row.user.id,
      organisationId: row.user.organisationId,
      label: row.user.email,
      grants: await grantsOfUser(db, row.user.id),
      sessionId: row.session.id,
      mustChangePassword: row.user.mustChangePassword,
    };
  }

  /** The union of the grants carrying the permission; null when none does. */
  async function scopeFor(principal: Principal, permission: Permission): Promise<Scope | null> {
    const granted = (role: RoleName) => ROLE_PERMISSIONS[role].includes(permission);
    let grants = principal.grants.filter((g) => granted(g.role));
    // Directors read positions only where their organisation has decided so (docs/privacy.md).
    if (permission === 'devices.location.read' && principal.grants.some((g) => g.role === 'director') && (await directorsReadPositions(db, principal.organisationId))) {
      grants = principal.grants.filter((g) => granted(g.role) || g.role === 'director');
    }
    if (grants.length === 0) return null;
    if (grants.some((g) => g.scopeType === 'organisation')) return { all: true, organisationId: principal.organisationId };
    const communeIds = [...new Set(grants.filter((g) => g.scopeType === 'commune').map((g) => g.scopeId!))];
    const schoolIds = new Set(grants.filter((g) => g.scopeType === 'school').map((g) => g.scopeId!));
    for (const id of await schoolIdsOfCommunes(db, principal.organisationId, communeIds)) schoolIds.add(id);
    return { all: false, organisationId: principal.organisationId, schoolIds: [...schoolIds], communeIds };
  }

  /**
   * Attempts per address are limited at the HTTP edge; the lockout of an account is decided here.
   * An unknown, disabled or locked account costs the same single scrypt as a wrong password
   * (against a decoy hash when there is no real one), so the time taken does not tell them apart.
   */
  async function login(emailInput: string, password: string, context: LoginContext): Promise<SignedIn> {
    const email = normaliseEmail(emailInput);
    const account = sha256(email);
    const user = await findUserByEmail(db, email);
    const actor = signInActor(user, email, context);
    const organisationId = user?.organisationId ?? null;
    const usable = user?.passwordHash && user.status === 'active' ? user.passwordHash : null;
    const passwordMatches = await verify(password, usable ?? (await decoyHash()));

    if (!user || !usable) {
      const wait = await throttle.wait(account, LOCK_THRESHOLD);
      await throttle.fail(account);
      await db.transaction((tx) => recordAudit(tx, { organisationId, actor, action: 'auth.login_failed', target: user ? { type: 'user', id: user.id } : undefined, outcome: 'failure', details: { reason: user ? 'no_password_or_disabled' : 'unknown_account' } }));
      if (wait) throw new RateLimitedError('This account is locked after too many failed sign-ins', wait, 'account_locked');
      throw new UnauthenticatedError('Wrong email or password', 'invalid_credentials');
    }

    if (user.lockedUntil && user.lockedUntil > new Date()) {
      const wait = Math.ceil((user.lockedUntil.getTime() - Date.now()) / 1000);
      await db.transaction((tx) => recordAudit(tx, { organisationId, actor, action: 'auth.login_failed', target: { type: 'user', id: user.id }, outcome: 'denied', details: { reason: 'account_locked' } }));
      throw new RateLimitedError('This account is locked after too many failed sign-ins', wait, 'account_locked');
    }

    if (!passwordMatches) {
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
    await throttle.clear(account);
    return signedIn;
  }

  /**
   * Sign-in through the authority's identity provider, once its answer has been verified: the
   * e-mail it vouches for must be an existing, active Cartable account. Nobody is ever created
   * here, so the provider cannot make anyone an administrator.
   */
  async function loginWithVerifiedEmail(emailInput: string, context: LoginContext): Promise<SignedIn> {
    const email = normaliseEmail(emailInput);
    const user = await findUserByEmail(db, email);
    if (!user || user.status !== 'active') {
      const actor = signInActor(user, email, context);
      await db.transaction((tx) =>
        recordAudit(tx, { organisationId: user?.organisationId ?? null, actor, action: 'auth.login_failed', target: user ? { type: 'user', id: user.id } : undefined, outcome: 'failure', details: { method: 'oidc', reason: user ? 'disabled' : 'unknown_account' } }),
      );
      throw new UnauthenticatedError('No active Cartable account has the e-mail address given by the identity provider', 'oidc_unknown_account');
    }
    return startSession(user, 'oidc', context);
  }

  /**
   * Opens a session for a person whose identity has been established, by password or through
   * the identity provider: only `method` differs, the session and its cookie do not.
   */
  async function startSession(user: UserRow, method: 'password' | 'oidc', context: LoginContext): Promise<SignedIn> {
    const sessionToken = randomSecret();
    const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
    const actor: Actor = { type: 'user', id: user.id, label: user.email, role: null, ip: context.ip };
    const sessionId = await db.transaction(async (tx) => {
      await recordLoginSuccess(tx, user.id);
      const id = await insertSession(tx, { userId: user.id, tokenHash: sha256(sessionToken), method, sourceIp: context.ip, userAgent: context.userAgent, expiresAt });
      await recordAudit(tx, { organisationId: user.organisationId, actor, action: 'auth.login', target: { type: 'user', id: user.id }, outcome: 'success', details: { method, sessionId: id } });
      return id;
    });
    return { sessionToken, sessionId, expiresAt, user: { id: user.id, email: user.email, displayName: user.displayName }, mustChangePassword: user.mustChangePassword };
  }

  async function logout(principal: Principal, actor: Actor): Promise<void> {
    const sessionId = principal.sessionId;
    if (!sessionId) return;
    await db.transaction(async (tx) => {
      await revokeSessionRow(tx, sessionId);
      await recordAudit(tx, { organisationId: principal.organisationId, actor, action: 'auth.logout', target: { type: 'user', id: principal.userId }, outcome: 'success', details: { sessionId } });
    });
  }

  /**
   * A signed-in person replaces their own password, proving they know the current one. It lifts
   * the obligation to change a printed first password, and ends the person's other sessions.
   */
  async function changePassword(principal: Principal, current: string, next: string, actor: Actor): Promise<void> {
    if (principal.kind !== 'user' || !principal.sessionId) throw new InvalidInputError('Only a person signed in with a password can change it', 'session_required');
    if (next.length < MIN_PASSWORD_LENGTH) throw new InvalidInputError(`The new password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'weak_password');
    if (next === current) throw new InvalidInputError('The new password must differ from the current one', 'password_unchanged');
    const user = await findUserById(db, principal.userId);
    if (!user?.passwordHash || !(await verifyPassword(current, user.passwordHash))) throw new InvalidInputError('The current password is wrong', 'wrong_password');
    const passwordHash = await hashPassword(next);
    await db.transaction(async (tx) => {
      await replaceOwnPassword(tx, user.id, passwordHash, principal.sessionId!);
      await recordAudit(tx, { organisationId: user.organisationId, actor, action: 'user.password_change', target: { type: 'user', id: user.id }, outcome: 'success', details: { required: user.mustChangePassword } });
    });
  }

  /**
   * A refused sensitive write, in a transaction of its own: the action tried, the target named
   * in the address (an id, never what was sent) and the status answered, which reads the same
   * whether the target exists elsewhere or not at all.
   */
  async function recordRefusal(organisationId: string, actor: Actor, action: string, refused: { type: string; id: string | null; status: number }): Promise<void> {
    await recordAudit(db, {
      organisationId,
      actor,
      action,
      target: refused.id ? { type: refused.type, id: refused.id } : undefined,
      outcome: 'denied',
      details: { status: refused.status, targetType: refused.type },
    });
  }

  return { authenticateBearer, authenticateSession, scopeFor, recordRefusal, login, loginWithVerifiedEmail, logout, changePassword };
}

export type AuthService = ReturnType<typeof createAuthService>;
