import type { RoleName, ScopeType } from '../../infra/db/schema';

export interface RoleGrant {
  role: RoleName;
  scopeType: ScopeType;
  scopeId: string | null;
}

/** Who is calling: a signed-in person or an API token, with the grants that apply to this request. */
export interface Principal {
  kind: 'user' | 'api_token';
  userId: string;
  organisationId: string;
  label: string;
  grants: RoleGrant[];
  sessionId?: string;
  tokenId?: string;
  /** The account still has a printed first password: every call but the change itself is refused. */
  mustChangePassword?: boolean;
}

/**
 * The schools a principal may reach for one permission. Communes are resolved to their schools
 * when the principal is authenticated, so every repository filters on school ids alone.
 */
export type Scope = { all: true; organisationId: string } | { all: false; organisationId: string; schoolIds: string[]; communeIds: string[] };

export const PERMISSIONS = [
  'organisation.read',
  'organisation.manage',
  'users.manage',
  'devices.read',
  /** Network facts of a device (addresses, the Wi-Fi it sees): they say where it is. */
  'devices.network.read',
  'devices.command',
  'devices.wipe',
  'devices.location.read',
  'enrollment.manage',
  /** The profile catalog: read it, preview and validate profiles, see their compliance. */
  'profiles.read',
  /** Create, edit, delete and assign profiles (assignments only within the grant's reach). */
  'profiles.write',
  'audit.read',
  /** The organisation's app catalog: one catalog, whatever the grant's scope. */
  'apps.read',
  'apps.write',
  /** See campaigns, their progress and their dry runs. */
  'campaigns.read',
  /** Create, start, pause, resume, cancel and approve campaigns; set the organisation's campaign template. */
  'campaigns.manage',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Which role holds which permission; the scope still comes from the grant. */
export const ROLE_PERMISSIONS: Record<RoleName, readonly Permission[]> = {
  admin: PERMISSIONS,
  technician: ['organisation.read', 'devices.read', 'devices.network.read', 'devices.command', 'devices.wipe', 'devices.location.read', 'enrollment.manage', 'profiles.read', 'profiles.write', 'apps.read', 'apps.write', 'campaigns.read', 'campaigns.manage'],
  director: ['organisation.read', 'devices.read', 'profiles.read'],
  auditor: ['audit.read'],
};

/** The identity written to the audit trail for an action. */
export interface Actor {
  type: 'user' | 'api_token' | 'device' | 'system';
  id: string | null;
  label: string | null;
  role: string | null;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', id: null, label: 'cartable', role: null, ip: null };

/**
 * The schools a scope reaches: null for every school of its organisation, otherwise the list, and
 * an empty list reaches none. Every scope check, in SQL or here, reads a scope through this.
 */
export function schoolsOf(scope: Scope): readonly string[] | null {
  return scope.all ? null : scope.schoolIds;
}

export function inScope(scope: Scope, schoolId: string): boolean {
  const schools = schoolsOf(scope);
  return schools === null || schools.includes(schoolId);
}

/** The school or commune columns of an audit event about a grant of this scope. */
export function auditScopeOf(scopeType: ScopeType, scopeId: string | null): { schoolId: string | null; communeId: string | null } {
  return { schoolId: scopeType === 'school' ? scopeId : null, communeId: scopeType === 'commune' ? scopeId : null };
}
