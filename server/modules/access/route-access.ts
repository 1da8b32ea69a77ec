import type { Permission } from './principal';

/**
 * What a route requires of its caller, declared once in its `config.access`. The auth plugin
 * derives from it both the check run before the handler and the route's OpenAPI `security`, and
 * refuses to start when a route declares nothing; the access-matrix test derives from it, with
 * the role table, the answer every caller must get.
 */
export type RouteAccess =
  /** Open to anyone; says why (a sign-in form, a static asset, the health probe). */
  | { public: string }
  /** Reached by a device, which proves itself inside the agent protocol, never by a person's credentials. */
  | { device: DeviceProof }
  /** Any signed-in caller, whatever their grants: routes about the caller themself. */
  | ({ signedIn: true } & Common)
  /** A caller holding `permission`; the route's scope is where they hold it. */
  | ({ permission: Permission; byKind?: ByKind } & Common);

/**
 * How a device proves itself: an enrollment token in the body (or an iPad enrollment link made
 * from one), a signed challenge, the session token of the HTTPS fallback (an `Authorization:
 * Bearer` that only devices hold), an iPad's `Mdm-Signature` (a CMS signature of the body by its
 * identity certificate), the one-time challenge inside a SCEP request, or a Windows tablet's
 * enrollment user name and PIN (SOAP) and then its certificate or MD5 digest (SyncML).
 */
export type DeviceProof = 'enrollment_token' | 'signed_challenge' | 'device_session' | 'mdm_signature' | 'scep_challenge' | 'windows_mdm';

/**
 * A stronger permission for some kinds of request, chosen by the `kind` found in the path or the
 * body (a wipe needs `devices.wipe` on top of `devices.command`); its scope then replaces the route's.
 */
export type ByKind = Readonly<Partial<Record<string, Permission>>>;

interface Common {
  /**
   * Only a person signed in with a session (a password or the identity provider), never an API
   * token: creating tokens and managing accounts and grants would let a leaked token outlive its
   * own revocation.
   */
  person?: true;
  /** A sensitive write: a refusal (403, 404) is written to the audit trail as this action, `denied`. */
  audit?: { action: string; target: string };
}

export type PeopleAccess = Extract<RouteAccess, { signedIn: true } | { permission: Permission }>;

export function isPeopleAccess(access: RouteAccess): access is PeopleAccess {
  return 'signedIn' in access || 'permission' in access;
}

/** The permission a request needs, once its kind is known. */
export function permissionFor(access: Extract<RouteAccess, { permission: Permission }>, kind: unknown): Permission {
  return (typeof kind === 'string' && access.byKind?.[kind]) || access.permission;
}

/** The OpenAPI security requirement a declaration stands for; `[]` says "no credentials" explicitly. */
export function openApiSecurity(access: RouteAccess): Array<Record<string, string[]>> {
  if ('public' in access) return [];
  if ('device' in access) return access.device === 'device_session' ? [{ deviceSession: [] }] : [];
  return access.person ? [{ session: [] }] : [{ bearer: [] }, { session: [] }];
}

export const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', description: 'API token (cart_…)' },
  session: { type: 'apiKey', in: 'cookie', name: 'cartable_session', description: 'Session cookie of a signed-in person; writes also carry the x-csrf-token header' },
  deviceSession: { type: 'http', scheme: 'bearer', description: "Session token of a device's HTTPS fallback (agent protocol)" },
} as const;

/** A wipe needs `devices.wipe` on top of `devices.command`, and happens only where that is held. */
export const WIPE: ByKind = { wipe: 'devices.wipe' };
