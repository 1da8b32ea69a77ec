import { boolean, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { organisations } from './organisation';

export const ROLE_NAMES = ['admin', 'technician', 'director', 'auditor'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];
export const SCOPE_TYPES = ['organisation', 'commune', 'school'] as const;
export type ScopeType = (typeof SCOPE_TYPES)[number];
export const USER_STATUSES = ['active', 'disabled'] as const;
export const SESSION_METHODS = ['password', 'oidc'] as const;

export const users = pgTable(
  'users',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    email: text('email').notNull(),
    displayName: text('display_name').notNull(),
    /** scrypt hash in PHC-like form; null for accounts that only sign in through an identity provider. */
    passwordHash: text('password_hash'),
    status: text('status', { enum: USER_STATUSES }).notNull().default('active'),
    /** Set on a password that was printed (the first administrator's): it must be replaced at the next sign-in. */
    mustChangePassword: boolean('must_change_password').notNull().default(false),
    failedLogins: integer('failed_logins').notNull().default(0),
    lockedUntil: tstz('locked_until'),
    lastLoginAt: tstz('last_login_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('users_email_uq').on(t.email), index('users_organisation_idx').on(t.organisationId), oneOf('users_status_ck', t.status, USER_STATUSES)],
);

export const roleAssignments = pgTable(
  'role_assignments',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ROLE_NAMES }).notNull(),
    scopeType: text('scope_type', { enum: SCOPE_TYPES }).notNull(),
    /** Commune or school id; null when the scope is the whole organisation. */
    scopeId: uuid('scope_id'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('role_assignments_uq').on(t.userId, t.role, t.scopeType, t.scopeId),
    index('role_assignments_user_idx').on(t.userId),
    index('role_assignments_organisation_idx').on(t.organisationId),
    oneOf('role_assignments_role_ck', t.role, ROLE_NAMES),
    oneOf('role_assignments_scope_type_ck', t.scopeType, SCOPE_TYPES),
  ],
);

/**
 * Browser sessions, revocable at once. Their CSRF secret is kept in a signed cookie and each
 * token is bound to the session id (see server/infra/http/web-plumbing.ts).
 */
export const sessions = pgTable(
  'sessions',
  {
    id: id(),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull().unique(),
    method: text('method', { enum: SESSION_METHODS }).notNull(),
    sourceIp: text('source_ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    lastSeenAt: tstz('last_seen_at').notNull().defaultNow(),
    expiresAt: tstz('expires_at').notNull(),
    revokedAt: tstz('revoked_at'),
  },
  (t) => [index('sessions_user_idx').on(t.userId), oneOf('sessions_method_ck', t.method, SESSION_METHODS)],
);

/** Tokens for scripts: shown once, stored hashed, each bound to one role and scope. */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    prefix: text('prefix').notNull(),
    role: text('role', { enum: ROLE_NAMES }).notNull(),
    scopeType: text('scope_type', { enum: SCOPE_TYPES }).notNull(),
    scopeId: uuid('scope_id'),
    expiresAt: tstz('expires_at').notNull(),
    revokedAt: tstz('revoked_at'),
    lastUsedAt: tstz('last_used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('api_tokens_user_idx').on(t.userId),
    index('api_tokens_organisation_idx').on(t.organisationId),
    oneOf('api_tokens_role_ck', t.role, ROLE_NAMES),
    oneOf('api_tokens_scope_type_ck', t.scopeType, SCOPE_TYPES),
  ],
);
