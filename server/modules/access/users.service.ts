import type { Db, DbOrTx } from '../../infra/db/client';
import type { RoleName, ScopeType } from '../../infra/db/schema';
import { InvalidInputError, ConflictError, NotFoundError } from '../../domain/errors';
import { recordAudit } from '../audit/audit.service';
import { findUserByEmail, hasRoleInOrganisation, revokeSessionsOfUser, scopeTargetExists } from './access.repository';
import { hashPassword, randomPassword } from './credentials';
import { SYSTEM_ACTOR, auditScopeOf, type Actor } from './principal';
import {
  assignmentsOfUsers,
  countActiveAdministrators,
  deleteRoleAssignmentRow,
  deleteUserRow,
  findRoleAssignment,
  findUserInOrganisation,
  insertUser,
  listUsersPage,
  lockAdministrators,
  updateUserRow,
  upsertRoleAssignment,
  type RoleAssignmentRow,
  type UserRecord,
} from './users.repository';

export interface RoleAssignmentView {
  id: string;
  role: RoleName;
  scopeType: ScopeType;
  scopeId: string | null;
}

export interface UserView {
  id: string;
  email: string;
  displayName: string;
  status: 'active' | 'disabled';
  hasPassword: boolean;
  mustChangePassword: boolean;
  lockedUntil: string | null;
  lastLoginAt: string | null;
  createdAt: string;
  roles: RoleAssignmentView[];
}

export interface NewUser {
  organisationId: string;
  email: string;
  displayName: string;
  password?: string;
  /** The password is printed for someone to read: it must be replaced at the first sign-in. */
  mustChangePassword?: boolean;
}

export interface NewGrant {
  organisationId: string;
  userId: string;
  role: RoleName;
  scopeType: ScopeType;
  scopeId: string | null;
}

/** Which scopes each role may be given: directors belong to schools, admins and auditors to the whole organisation. */
const ALLOWED_SCOPES: Record<RoleName, readonly ScopeType[]> = {
  admin: ['organisation'],
  auditor: ['organisation'],
  technician: ['organisation', 'commune', 'school'],
  director: ['school'],
};

const assignmentView = (r: RoleAssignmentRow): RoleAssignmentView => ({ id: r.id, role: r.role, scopeType: r.scopeType, scopeId: r.scopeId });

function userView(u: UserRecord, roles: RoleAssignmentRow[]): UserView {
  return {
    id: u.id,
    email: u.email,
    displayName: u.displayName,
    status: u.status,
    hasPassword: u.passwordHash !== null,
    mustChangePassword: u.mustChangePassword,
    lockedUntil: u.lockedUntil && u.lockedUntil > new Date() ? u.lockedUntil.toISOString() : null,
    lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
    createdAt: u.createdAt.toISOString(),
    roles: roles.filter((r) => r.userId === u.id).map(assignmentView),
  };
}

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

/**
 * Refuses a change that would leave the organisation without an active administrator (nobody
 * could then manage accounts from the API or the console). Runs inside the change's transaction,
 * after lockAdministrators, so two administrators removing each other cannot both succeed.
 */
async function keepAnAdministrator(tx: DbOrTx, organisationId: string, leaving: { userId?: string; assignmentId?: string }): Promise<void> {
  await lockAdministrators(tx, organisationId);
  if ((await countActiveAdministrators(tx, organisationId, leaving)) === 0) {
    throw new ConflictError('This is the last active administrator of the organisation: make someone else an administrator first', 'last_administrator');
  }
}

const isAdministrator = (roles: RoleAssignmentRow[]) => roles.some((r) => r.role === 'admin');

export function createUsersService(deps: { db: Db }) {
  const { db } = deps;

  async function insertUserIn(tx: DbOrTx, input: NewUser, passwordHash: string | null, actor: Actor): Promise<UserRecord> {
    const email = normaliseEmail(input.email);
    if (await findUserByEmail(tx, email)) throw new ConflictError('A user with this email already exists', 'email_taken');
    const user = await insertUser(tx, { organisationId: input.organisationId, email, displayName: input.displayName.trim(), passwordHash, mustChangePassword: input.mustChangePassword ?? false });
    await recordAudit(tx, { organisationId: input.organisationId, actor, action: 'user.create', target: { type: 'user', id: user.id }, outcome: 'success', details: { email } });
    return user;
  }

  async function grantIn(tx: DbOrTx, input: NewGrant, actor: Actor): Promise<RoleAssignmentView> {
    if (!ALLOWED_SCOPES[input.role].includes(input.scopeType)) throw new InvalidInputError(`The ${input.role} role cannot be scoped to a ${input.scopeType}`, 'invalid_scope');
    const scopeId = input.scopeType === 'organisation' ? null : input.scopeId;
    if (!(await findUserInOrganisation(tx, input.organisationId, input.userId))) throw new NotFoundError('User');
    if (!(await scopeTargetExists(tx, input.organisationId, input.scopeType, scopeId))) throw new InvalidInputError(`Unknown ${input.scopeType}`, 'unknown_scope');
    const { row, created } = await upsertRoleAssignment(tx, { ...input, scopeId });
    if (created) {
      await recordAudit(tx, {
        organisationId: input.organisationId,
        actor,
        action: 'role.assign',
        target: { type: 'user', id: input.userId },
        ...auditScopeOf(input.scopeType, scopeId),
        outcome: 'success',
        details: { assignmentId: row.id, role: row.role, scopeType: row.scopeType, scopeId },
      });
    }
    return assignmentView(row);
  }

  async function createUser(input: NewUser, actor: Actor = SYSTEM_ACTOR): Promise<UserView> {
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    const user = await db.transaction((tx) => insertUserIn(tx, input, passwordHash, actor));
    return userView(user, []);
  }

  function assignRole(input: NewGrant, actor: Actor = SYSTEM_ACTOR): Promise<RoleAssignmentView> {
    return db.transaction((tx) => grantIn(tx, input, actor));
  }

  /**
   * An account and its organisation-wide administrator grant, in one transaction: a crash in
   * between must not leave an account without its role (the first administrator's fixed address
   * would then be taken, and no administrator ever created).
   */
  async function createAdministrator(input: NewUser, actor: Actor = SYSTEM_ACTOR): Promise<UserView> {
    const passwordHash = input.password ? await hashPassword(input.password) : null;
    return db.transaction(async (tx) => {
      const user = await insertUserIn(tx, input, passwordHash, actor);
      const grant = await grantIn(tx, { organisationId: input.organisationId, userId: user.id, role: 'admin', scopeType: 'organisation', scopeId: null }, actor);
      return { ...userView(user, []), roles: [grant] };
    });
  }

  async function removeRole(organisationId: string, userId: string, assignmentId: string, actor: Actor): Promise<void> {
    await db.transaction(async (tx) => {
      const row = await findRoleAssignment(tx, organisationId, assignmentId);
      if (!row || row.userId !== userId) throw new NotFoundError('Role assignment');
      if (row.role === 'admin') await keepAnAdministrator(tx, organisationId, { assignmentId: row.id });
      await deleteRoleAssignmentRow(tx, row.id);
      await recordAudit(tx, {
        organisationId,
        actor,
        action: 'role.remove',
        target: { type: 'user', id: row.userId },
        outcome: 'success',
        details: { assignmentId: row.id, role: row.role, scopeType: row.scopeType, scopeId: row.scopeId },
      });
    });
  }

  async function listUsers(organisationId: string, page: { after?: string; limit: number }): Promise<{ items: UserView[]; next: string | null }> {
    const rows = await listUsersPage(db, organisationId, page.after, page.limit + 1);
    const items = rows.slice(0, page.limit);
    const roles = await assignmentsOfUsers(db, items.map((u) => u.id));
    return { items: items.map((u) => userView(u, roles)), next: rows.length > page.limit ? items[items.length - 1]!.email : null };
  }

  async function getUser(organisationId: string, id: string): Promise<UserView> {
    const user = await findUserInOrganisation(db, organisationId, id);
    if (!user) throw new NotFoundError('User');
    return userView(user, await assignmentsOfUsers(db, [id]));
  }

  /** Setting a password also lifts a lockout; disabling an account ends its sessions at once. */
  async function updateUser(
    organisationId: string,
    id: string,
    patch: { displayName?: string; status?: 'active' | 'disabled'; password?: string; mustChangePassword?: boolean },
    actor: Actor,
  ): Promise<UserView> {
    const passwordHash = patch.password ? await hashPassword(patch.password) : undefined;
    return db.transaction(async (tx) => {
      const existing = await findUserInOrganisation(tx, organisationId, id);
      if (!existing) throw new NotFoundError('User');
      if (patch.status === 'disabled' && existing.status === 'active' && isAdministrator(await assignmentsOfUsers(tx, [id]))) await keepAnAdministrator(tx, organisationId, { userId: id });
      const user = await updateUserRow(tx, id, {
        displayName: patch.displayName?.trim(),
        status: patch.status,
        mustChangePassword: patch.mustChangePassword,
        ...(passwordHash ? { passwordHash, failedLogins: 0, lockedUntil: null } : {}),
      });
      if (patch.status === 'disabled' || passwordHash) await revokeSessionsOfUser(tx, id);
      const changed = Object.keys(patch).filter((k) => patch[k as keyof typeof patch] !== undefined);
      await recordAudit(tx, { organisationId, actor, action: 'user.update', target: { type: 'user', id }, outcome: 'success', details: { changed } });
      return userView(user, await assignmentsOfUsers(tx, [id]));
    });
  }

  async function deleteUser(organisationId: string, id: string, actor: Actor): Promise<void> {
    await db.transaction(async (tx) => {
      const existing = await findUserInOrganisation(tx, organisationId, id);
      if (!existing) throw new NotFoundError('User');
      if (actor.id === id) throw new ConflictError('You cannot delete your own account', 'self_delete');
      if (existing.status === 'active' && isAdministrator(await assignmentsOfUsers(tx, [id]))) await keepAnAdministrator(tx, organisationId, { userId: id });
      await deleteUserRow(tx, id);
      await recordAudit(tx, { organisationId, actor, action: 'user.delete', target: { type: 'user', id }, outcome: 'success', details: { email: existing.email } });
    });
  }

  /**
   * Creates the first administrator when the organisation has none; the caller prints the password
   * once, and the administrator must replace it at the first sign-in. Processes starting together race on the fixed address: the loser creates nobody.
   */
  async function ensureBootstrapAdmin(organisationId: string): Promise<{ email: string; password: string } | null> {
    if (await hasRoleInOrganisation(db, organisationId, 'admin')) return null;
    const password = randomPassword();
    const email = 'admin@cartable.local';
    try {
      await createAdministrator({ organisationId, email, displayName: 'Administrator', password, mustChangePassword: true });
    } catch (e) {
      if (e instanceof ConflictError) return null;
      throw e;
    }
    return { email, password };
  }

  return { createUser, assignRole, createAdministrator, removeRole, listUsers, getUser, updateUser, deleteUser, ensureBootstrapAdmin };
}

export type UsersService = ReturnType<typeof createUsersService>;
