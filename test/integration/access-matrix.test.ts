import { randomBytes } from 'node:crypto';
import { deviceLocations, devices } from '../../server/infra/db/schema';
import type { Permission } from '../../server/modules/access/principal';
import type { RouteAccess } from '../../server/modules/access/route-access';
import { answers, databaseDigest, expectedOutcome, matrixWorld, type Caller, type Where } from '../helpers/access-world';
import { signIn } from '../helpers/auth';
import { createDownloadUrls } from '../../server/modules/apps/download-urls';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Every route of the REST API, every POST of the console and every device endpoint, for every
 * role of two organisations, with an API token and with a browser session (and its CSRF token).
 * The expected answer is computed from the role table and the route's declared access, never
 * typed here; this file only says how to call each route and where its target lies. Every
 * refused write must leave the database as it was.
 */
interface Req {
  method: string;
  url: string;
  payload?: object;
  /** A raw body (an uploaded package) and its content type. */
  file?: { type: string; data: Buffer };
  form?: Record<string, string>;
  csv?: string;
}
interface Row {
  /** Where the target the request names lies (`none`: the caller's own organisation, no particular target). */
  where: Where;
  /** Builds the request; `fresh` when the caller is expected to succeed, so a target it consumes is a new one. */
  build(caller: Caller, fresh: boolean): Promise<Req> | Req;
  /** The command kind the request carries, which may need a stronger permission. */
  kind?: string;
  /** The permission the handler checks on the target itself (a token of someone else). */
  handlerPermission?: Permission;
  /** The answer of the route once access is granted, when this request is refused by the route's own rules. */
  grantedStatus?: number;
  /** The request ends the session it is made with: a session caller signs in again for it. */
  endsSession?: true;
  /** How the route answers a target named in the body that it cannot find (or may not reach). */
  notFoundStatus?: number;
}

let env: TestEnv;
let t: TestApp;
let world: Awaited<ReturnType<typeof matrixWorld>>;
let adminToken: string;
const fx = {} as Record<'device' | 'group' | 'enrollment' | 'command' | 'batch' | 'userX' | 'tokenOfX' | 'school' | 'commune' | 'profile' | 'profileSlug' | 'app' | 'appVersion' | 'webhook' | 'geofence' | 'campaign', string> & {
  assignment: { userId: string; id: string };
  profileAssignment: { profileId: string; id: string };
};
let apk: Buffer;
let signedUrl: string;

const uid = () => randomBytes(4).toString('hex');
const inADay = () => new Date(Date.now() + 86400_000).toISOString();
const AGENT = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://example.org/agent.apk', signatureChecksum: 'A'.repeat(43) };

/** The digest of the database as last seen; forgotten whenever something may have changed it. */
let digest: Record<string, string> | null = null;

async function asAdmin(method: string, url: string, payload?: object) {
  digest = null;
  const res = await t.app.inject({ method: method as 'POST', url: `/api/v1${url}`, payload, headers: { authorization: `Bearer ${adminToken}` } });
  if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url} answered ${res.statusCode}: ${res.body}`);
  return res.json();
}
const org = () => world.a.org.id;
const fresh = {
  group: async () => (await asAdmin('POST', '/groups', { schoolId: fx.school, name: `g-${uid()}` })).id as string,
  user: async () => {
    digest = null;
    return (await t.services.users.createUser({ organisationId: org(), email: `u-${uid()}@matrix.test`, displayName: 'U' })).id;
  },
  enrollment: async () => (await asAdmin('POST', '/enrollment-tokens', { schoolId: fx.school, label: `e-${uid()}` })).enrollmentToken.id as string,
  command: async () => (await asAdmin('POST', `/devices/${fx.device}/commands`, { kind: 'refresh_inventory' })).id as string,
  commune: async () => (await asAdmin('POST', '/communes', { code: String(10000 + Math.floor(Math.random() * 89999)), name: 'C' })).id as string,
  school: async () => (await asAdmin('POST', '/schools', { communeId: world.communeA1.id, code: `${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}Y`, name: 'S' })).id as string,
  tokenOfX: async () => {
    digest = null;
    return (await t.services.apiTokens.createApiToken(fx.userX, { name: 'x', role: 'technician', scopeType: 'organisation', scopeId: null, expiresAt: new Date(Date.now() + 3600_000) })).id;
  },
  profile: async () => (await asAdmin('POST', '/profiles', profileBody())).profile.id as string,
  profileAssignment: async () => {
    const profileId = await fresh.profile();
    return { profileId, id: (await asAdmin('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: fx.school })).assignment.id as string };
  },
  /** An iPad in-house app with one version: a catalog entry that costs no upload. */
  appVersion: async () => {
    const { app, version } = await asAdmin('POST', '/apps', { platform: 'ios', kind: 'in_house', bundleId: `fr.agglo.m${uid()}`, name: 'M', version: '1', manifestUrl: 'https://apps.example/m.plist' });
    return { app: app.id as string, version: version.id as string };
  },
  appAssignment: async () => {
    const { app } = await fresh.appVersion();
    return { appId: app, id: (await asAdmin('POST', `/apps/${app}/assignments`, { scopeType: 'school', scopeId: fx.school })).assignment.id as string };
  },
  webhook: async () => (await asAdmin('POST', '/webhooks', { url: 'https://hooks.example.org/matrix' })).id as string,
  /** A draft campaign of the whole organisation: out of reach of a caller scoped to schools. */
  campaign: async () => (await asAdmin('POST', '/campaigns', campaignBody())).id as string,
  geofence: async () => (await asAdmin('POST', `/schools/${fx.school}/geofences`, { name: `f-${uid()}`, shape: { type: 'circle', center: { lat: 45.76, lon: 4.83 }, radiusM: 200 } })).id as string,
  assignment: async () => {
    digest = null;
    const userId = await fresh.user();
    const role = await t.services.users.assignRole({ organisationId: org(), userId, role: 'director', scopeType: 'school', scopeId: fx.school });
    return { userId, id: role.id };
  },
};
const ALWAYS = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' }];
const campaignBody = () => ({ name: 'M', action: 'remove_app', appId: fx.app, target: { schoolIds: [fx.school] }, startAt: inADay(), windows: ALWAYS, perSchoolCap: 5, waves: [{ minSuccessPct: 90, maxFailurePct: 5 }] });
const profileBody = () => ({ schemaVersion: 1, id: `p-${uid()}`, name: 'Profil', lockScreenMessage: 'Tablette de l\'école' });
const ownGrant = (c: Caller) => c.grant ?? { role: 'admin', scopeType: 'organisation', scopeId: null };
const newCommuneCode = () => String(10000 + Math.floor(Math.random() * 89999));

const API: Record<string, Row> = {
  'POST /api/v1/auth/login': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/auth/login', payload: { email: `nobody-${uid()}@matrix.test`, password: 'x' } }) },
  'POST /api/v1/auth/logout': { where: 'none', endsSession: true, build: () => ({ method: 'POST', url: '/api/v1/auth/logout' }) },
  // The current password is wrong on purpose: once access is granted the route itself answers 400.
  'POST /api/v1/auth/password': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/api/v1/auth/password', payload: { currentPassword: 'not it', newPassword: 'x'.repeat(12) } }) },
  'GET /api/v1/auth/me': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/auth/me' }) },
  'POST /api/v1/auth/tokens': { where: 'none', build: (c) => ({ method: 'POST', url: '/api/v1/auth/tokens', payload: { name: 'm', ...ownGrant(c), expiresAt: inADay() } }) },
  'GET /api/v1/auth/tokens': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/auth/tokens' }) },
  'DELETE /api/v1/auth/tokens/:id': { where: 'organisation', handlerPermission: 'users.manage', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/auth/tokens/${f ? await fresh.tokenOfX() : fx.tokenOfX}` }) },
  'GET /api/v1/users': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/users' }) },
  'POST /api/v1/users': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/users', payload: { email: `n-${uid()}@matrix.test`, displayName: 'N' } }) },
  'GET /api/v1/users/:id': { where: 'organisation', build: () => ({ method: 'GET', url: `/api/v1/users/${fx.userX}` }) },
  'PATCH /api/v1/users/:id': { where: 'organisation', build: () => ({ method: 'PATCH', url: `/api/v1/users/${fx.userX}`, payload: { displayName: 'X' } }) },
  'DELETE /api/v1/users/:id': { where: 'organisation', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/users/${f ? await fresh.user() : fx.userX}` }) },
  'POST /api/v1/users/:id/roles': { where: 'organisation', build: () => ({ method: 'POST', url: `/api/v1/users/${fx.userX}/roles`, payload: { role: 'director', scopeType: 'school', scopeId: fx.school } }) },
  'DELETE /api/v1/users/:id/roles/:assignmentId': {
    where: 'organisation',
    build: async (_c, f) => {
      const a = f ? await fresh.assignment() : fx.assignment;
      return { method: 'DELETE', url: `/api/v1/users/${a.userId}/roles/${a.id}` };
    },
  },
  'GET /api/v1/communes': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/communes' }) },
  'GET /api/v1/communes/:id': { where: 'communeA1', build: () => ({ method: 'GET', url: `/api/v1/communes/${fx.commune}` }) },
  'POST /api/v1/communes': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/communes', payload: { code: newCommuneCode(), name: 'C' } }) },
  'PATCH /api/v1/communes/:id': { where: 'communeA1', build: () => ({ method: 'PATCH', url: `/api/v1/communes/${fx.commune}`, payload: { name: 'Commune A1' } }) },
  'DELETE /api/v1/communes/:id': { where: 'communeA1', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/communes/${f ? await fresh.commune() : fx.commune}` }) },
  'GET /api/v1/schools': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/schools' }) },
  'GET /api/v1/schools/:id': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/schools/${fx.school}` }) },
  'POST /api/v1/schools': { where: 'communeA1', notFoundStatus: 400, build: () => ({ method: 'POST', url: '/api/v1/schools', payload: { communeId: fx.commune, code: `${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}Z`, name: 'S' } }) },
  'PATCH /api/v1/schools/:id': { where: 'schoolA1', build: () => ({ method: 'PATCH', url: `/api/v1/schools/${fx.school}`, payload: { pilot: true } }) },
  'DELETE /api/v1/schools/:id': { where: 'schoolA1', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/schools/${f ? await fresh.school() : fx.school}` }) },
  'GET /api/v1/groups': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/groups' }) },
  'GET /api/v1/groups/:id': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/groups/${fx.group}` }) },
  'POST /api/v1/groups': { where: 'schoolA1', notFoundStatus: 400, build: () => ({ method: 'POST', url: '/api/v1/groups', payload: { schoolId: fx.school, name: `p-${uid()}` } }) },
  'PATCH /api/v1/groups/:id': { where: 'schoolA1', build: () => ({ method: 'PATCH', url: `/api/v1/groups/${fx.group}`, payload: { name: `r-${uid()}` } }) },
  'DELETE /api/v1/groups/:id': { where: 'schoolA1', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/groups/${f ? await fresh.group() : fx.group}` }) },
  'POST /api/v1/import/schools': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/import/schools', csv: 'code,name,commune_code\n' }) },
  'POST /api/v1/import/directors': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/import/directors', csv: 'name,email,school_code\n' }) },
  'GET /api/v1/audit/events': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/audit/events' }) },
  'GET /api/v1/audit/events.csv': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/audit/events.csv' }) },
  'GET /api/v1/audit/verification': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/audit/verification' }) },
  'POST /api/v1/enrollment-tokens': { where: 'schoolA1', build: () => ({ method: 'POST', url: '/api/v1/enrollment-tokens', payload: { schoolId: fx.school, label: 'm' } }) },
  'GET /api/v1/enrollment-tokens': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/enrollment-tokens' }) },
  'GET /api/v1/enrollment-tokens/:id': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/enrollment-tokens/${fx.enrollment}` }) },
  'POST /api/v1/enrollment-tokens/:id/revoke': { where: 'schoolA1', build: async (_c, f) => ({ method: 'POST', url: `/api/v1/enrollment-tokens/${f ? await fresh.enrollment() : fx.enrollment}/revoke` }) },
  'GET /api/v1/enrollment-tokens/:id/qr': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/enrollment-tokens/${fx.enrollment}/qr?format=json` }) },
  'GET /api/v1/enrollment-tokens/:id/apple': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/enrollment-tokens/${fx.enrollment}/apple?format=json` }) },
  'POST /api/v1/enrollment-tokens/:id/qr': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/api/v1/enrollment-tokens/${fx.enrollment}/qr`, payload: { format: 'json' } }) },
  'POST /api/v1/enrollment-tokens/:id/windows-pin': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/api/v1/enrollment-tokens/${fx.enrollment}/windows-pin` }) },
  'PATCH /api/v1/organisation/settings/agent-package': { where: 'none', build: () => ({ method: 'PATCH', url: '/api/v1/organisation/settings/agent-package', payload: AGENT }) },
  'GET /api/v1/apple/push-certificate': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/apple/push-certificate' }) },
  'GET /api/v1/amapi/binding': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/amapi/binding' }) },
  // Not a key on purpose: once access is granted the route itself answers 400, before calling Google.
  'POST /api/v1/amapi/binding': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/api/v1/amapi/binding', payload: { serviceAccountKey: 'not a key file' } }) },
  // No signup in progress, nothing bound: once access is granted the routes answer 409.
  'GET /api/v1/amapi/binding/callback': { where: 'none', grantedStatus: 409, build: () => ({ method: 'GET', url: '/api/v1/amapi/binding/callback?enterpriseToken=x' }) },
  'PUT /api/v1/amapi/binding/notifications': { where: 'none', grantedStatus: 409, build: () => ({ method: 'PUT', url: '/api/v1/amapi/binding/notifications', payload: { mode: 'pull' } }) },
  'POST /api/v1/amapi/binding/unbind': { where: 'none', grantedStatus: 409, build: () => ({ method: 'POST', url: '/api/v1/amapi/binding/unbind', payload: { confirm: 'x' } }) },
  'POST /api/v1/enrollment-tokens/:id/amapi': { where: 'schoolA1', grantedStatus: 409, build: () => ({ method: 'POST', url: `/api/v1/enrollment-tokens/${fx.enrollment}/amapi` }) },
  'GET /api/v1/enrollment-tokens/:id/amapi': { where: 'schoolA1', grantedStatus: 404, build: () => ({ method: 'GET', url: `/api/v1/enrollment-tokens/${fx.enrollment}/amapi` }) },
  'POST /api/v1/apple/push-certificate/request': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/apple/push-certificate/request' }) },
  // Not a certificate on purpose: once access is granted the route itself answers 400.
  'PUT /api/v1/apple/push-certificate': { where: 'none', grantedStatus: 400, build: () => ({ method: 'PUT', url: '/api/v1/apple/push-certificate', payload: { certificatePem: 'not a certificate' } }) },
  'GET /api/v1/devices': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/devices' }) },
  'GET /api/v1/devices/summary': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/devices/summary' }) },
  'GET /api/v1/devices/:id': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}` }) },
  'GET /api/v1/devices/:id/apps': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/apps` }) },
  'GET /api/v1/devices/:id/events': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/events` }) },
  'POST /api/v1/devices/:id/commands': { where: 'schoolA1', kind: 'refresh_inventory', build: () => ({ method: 'POST', url: `/api/v1/devices/${fx.device}/commands`, payload: { kind: 'refresh_inventory' } }) },
  'GET /api/v1/devices/:id/commands': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/commands` }) },
  'POST /api/v1/commands/bulk': { where: 'schoolA1', kind: 'refresh_inventory', build: () => ({ method: 'POST', url: '/api/v1/commands/bulk', payload: { kind: 'refresh_inventory', target: { schoolId: fx.school } } }) },
  // Progress counts only the caller's devices: out of reach, a batch reads like an unknown one (total 0).
  'GET /api/v1/commands': { where: 'none', build: () => ({ method: 'GET', url: `/api/v1/commands?batchId=${fx.batch}` }) },
  'GET /api/v1/commands/:id': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/commands/${fx.command}` }) },
  'POST /api/v1/commands/:id/cancel': { where: 'schoolA1', build: async (_c, f) => ({ method: 'POST', url: `/api/v1/commands/${f ? await fresh.command() : fx.command}/cancel` }) },
  'GET /api/v1/devices/:id/location': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/location` }) },
  'GET /api/v1/devices/:id/desired-state': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/desired-state` }) },
  'GET /api/v1/profiles': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/profiles' }) },
  'POST /api/v1/profiles': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/profiles', payload: profileBody() }) },
  'POST /api/v1/profiles/validate': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/profiles/validate', payload: profileBody() }) },
  'GET /api/v1/profiles/:id': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/profiles/${fx.profile}` }) },
  // A profile assigned nowhere: any grant of the organisation reaches every device it is on.
  'PUT /api/v1/profiles/:id': { where: 'catalog', build: () => ({ method: 'PUT', url: `/api/v1/profiles/${fx.profile}`, payload: { ...profileBody(), id: fx.profileSlug } }) },
  'DELETE /api/v1/profiles/:id': { where: 'catalog', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/profiles/${f ? await fresh.profile() : fx.profile}` }) },
  'GET /api/v1/profiles/:id/preview': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/profiles/${fx.profile}/preview?platform=windows` }) },
  'GET /api/v1/profiles/:id/compliance': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/profiles/${fx.profile}/compliance` }) },
  'POST /api/v1/profiles/:id/assignments': {
    where: 'schoolA1',
    build: async (_c, f) => ({ method: 'POST', url: `/api/v1/profiles/${f ? await fresh.profile() : fx.profile}/assignments`, payload: { scopeType: 'school', scopeId: fx.school } }),
  },
  'DELETE /api/v1/profiles/:id/assignments/:assignmentId': {
    where: 'schoolA1',
    build: async (_c, f) => {
      const a = f ? await fresh.profileAssignment() : fx.profileAssignment;
      return { method: 'DELETE', url: `/api/v1/profiles/${a.profileId}/assignments/${a.id}` };
    },
  },
  'GET /api/v1/apps': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/apps' }) },
  'GET /api/v1/apps/:id': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/apps/${fx.app}` }) },
  // The same file each time: a second upload answers 200 with the version already there.
  'POST /api/v1/apps/packages': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/apps/packages', file: { type: 'application/vnd.android.package-archive', data: apk } }) },
  'POST /api/v1/apps': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/apps', payload: { platform: 'ios', kind: 'app_store', bundleId: 'com.example.matrix', storeId: 42, name: 'Matrix' } }) },
  'DELETE /api/v1/apps/:id': { where: 'catalog', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/apps/${f ? (await fresh.appVersion()).app : fx.app}` }) },
  'DELETE /api/v1/apps/:id/versions/:versionId': {
    where: 'catalog',
    build: async (_c, f) => {
      const { app, version } = f ? await fresh.appVersion() : { app: fx.app, version: fx.appVersion };
      return { method: 'DELETE', url: `/api/v1/apps/${app}/versions/${version}` };
    },
  },
  'GET /api/v1/apps/:id/assignments': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/apps/${fx.app}/assignments` }) },
  'GET /api/v1/apps/:id/compliance': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/apps/${fx.app}/compliance` }) },
  'POST /api/v1/apps/:id/assignments': {
    where: 'schoolA1',
    build: async (_c, f) => ({ method: 'POST', url: `/api/v1/apps/${f ? (await fresh.appVersion()).app : fx.app}/assignments`, payload: { scopeType: 'school', scopeId: fx.school } }),
  },
  'DELETE /api/v1/apps/:id/assignments/:assignmentId': {
    where: 'schoolA1',
    build: async () => {
      const a = await fresh.appAssignment();
      return { method: 'DELETE', url: `/api/v1/apps/${a.appId}/assignments/${a.id}` };
    },
  },
  'GET /api/v1/apps/:id/versions/:versionId/file': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/apps/${fx.app}/versions/${fx.appVersion}/file` }) },
  // A device's signed URL: a person's credentials add nothing to it, nor take anything away.
  'GET /api/v1/app-files/:sha256': { where: 'none', build: () => ({ method: 'GET', url: signedUrl }) },
  'GET /api/v1/devices/:id/export': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/devices/${fx.device}/export` }) },
  // The fixture device is active: a caller who may erase is answered that it must be retired first.
  'POST /api/v1/devices/:id/erase': { where: 'schoolA1', grantedStatus: 409, build: () => ({ method: 'POST', url: `/api/v1/devices/${fx.device}/erase` }) },
  'GET /api/v1/organisation/settings/retention': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/organisation/settings/retention' }) },
  'PATCH /api/v1/organisation/settings/retention': { where: 'none', build: () => ({ method: 'PATCH', url: '/api/v1/organisation/settings/retention', payload: { positionsDays: 30 } }) },
  'GET /api/v1/webhooks': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/webhooks' }) },
  'POST /api/v1/webhooks': { where: 'none', build: () => ({ method: 'POST', url: '/api/v1/webhooks', payload: { url: 'https://hooks.example.org/m', events: ['campaign.finished'] } }) },
  'DELETE /api/v1/webhooks/:id': { where: 'catalog', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/webhooks/${f ? await fresh.webhook() : fx.webhook}` }) },
  'GET /api/v1/webhooks/:id/deliveries': { where: 'catalog', build: () => ({ method: 'GET', url: `/api/v1/webhooks/${fx.webhook}/deliveries` }) },
  'POST /api/v1/webhooks/:id/ping': { where: 'catalog', build: () => ({ method: 'POST', url: `/api/v1/webhooks/${fx.webhook}/ping` }) },
  'GET /api/v1/campaigns': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/campaigns' }) },
  // A school out of the caller's reach is refused like any unknown school in the body.
  'POST /api/v1/campaigns': { where: 'schoolA1', notFoundStatus: 400, build: () => ({ method: 'POST', url: '/api/v1/campaigns', payload: campaignBody() }) },
  'GET /api/v1/campaigns/:id': { where: 'organisation', build: () => ({ method: 'GET', url: `/api/v1/campaigns/${fx.campaign}` }) },
  'GET /api/v1/campaigns/:id/progress': { where: 'organisation', build: () => ({ method: 'GET', url: `/api/v1/campaigns/${fx.campaign}/progress` }) },
  'GET /api/v1/campaigns/:id/preview': { where: 'organisation', build: () => ({ method: 'GET', url: `/api/v1/campaigns/${fx.campaign}/preview` }) },
  'GET /api/v1/campaigns/:id/devices': { where: 'organisation', build: () => ({ method: 'GET', url: `/api/v1/campaigns/${fx.campaign}/devices` }) },
  'POST /api/v1/campaigns/:id/start': { where: 'organisation', build: async (_c, f) => ({ method: 'POST', url: `/api/v1/campaigns/${f ? await fresh.campaign() : fx.campaign}/start` }) },
  // The fixture is a draft: a caller who may steer it is answered that it cannot be paused, resumed or approved yet.
  'POST /api/v1/campaigns/:id/pause': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/api/v1/campaigns/${fx.campaign}/pause` }) },
  'POST /api/v1/campaigns/:id/resume': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/api/v1/campaigns/${fx.campaign}/resume` }) },
  'POST /api/v1/campaigns/:id/waves/:position/approve': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/api/v1/campaigns/${fx.campaign}/waves/1/approve` }) },
  'POST /api/v1/campaigns/:id/cancel': { where: 'organisation', build: async (_c, f) => ({ method: 'POST', url: `/api/v1/campaigns/${f ? await fresh.campaign() : fx.campaign}/cancel` }) },
  'PUT /api/v1/campaigns/:id/target': { where: 'organisation', build: async (_c, f) => ({ method: 'PUT', url: `/api/v1/campaigns/${f ? await fresh.campaign() : fx.campaign}/target`, payload: { target: { schoolIds: [fx.school] }, reason: 'm' } }) },
  'GET /api/v1/campaign-template': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/campaign-template' }) },
  'PUT /api/v1/campaign-template': { where: 'none', build: () => ({ method: 'PUT', url: '/api/v1/campaign-template', payload: { windows: ALWAYS, perSchoolCap: 5, waves: [{ minSuccessPct: 90, maxFailurePct: 5 }], autoUpdateAppIds: [] } }) },
  'GET /api/v1/location-policies/:scopeType/:scopeId': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/location-policies/school/${fx.school}` }) },
  'PUT /api/v1/location-policies/:scopeType/:scopeId': { where: 'schoolA1', build: () => ({ method: 'PUT', url: `/api/v1/location-policies/school/${fx.school}`, payload: { mode: 'on_demand' } }) },
  'DELETE /api/v1/location-policies/:scopeType/:scopeId': {
    where: 'schoolA1',
    build: async (_c, f) => {
      if (f) await asAdmin('PUT', `/location-policies/school/${fx.school}`, { mode: 'on_demand' });
      return { method: 'DELETE', url: `/api/v1/location-policies/school/${fx.school}` };
    },
  },
  'GET /api/v1/schools/:schoolId/location-policy': { where: 'schoolA1', build: () => ({ method: 'GET', url: `/api/v1/schools/${fx.school}/location-policy` }) },
  'GET /api/v1/organisation/settings/location': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/organisation/settings/location' }) },
  'PUT /api/v1/organisation/settings/location': { where: 'none', build: () => ({ method: 'PUT', url: '/api/v1/organisation/settings/location', payload: { directorsReadPositions: false, alertEmails: [] } }) },
  'GET /api/v1/geofences': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/geofences' }) },
  'POST /api/v1/schools/:schoolId/geofences': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/api/v1/schools/${fx.school}/geofences`, payload: { name: 'Cour', shape: { type: 'circle', center: { lat: 45.76, lon: 4.83 }, radiusM: 150 } } }) },
  'PUT /api/v1/geofences/:id': { where: 'schoolA1', build: () => ({ method: 'PUT', url: `/api/v1/geofences/${fx.geofence}`, payload: { name: 'École', shape: { type: 'circle', center: { lat: 45.76, lon: 4.83 }, radiusM: 250 } } }) },
  'DELETE /api/v1/geofences/:id': { where: 'schoolA1', build: async (_c, f) => ({ method: 'DELETE', url: `/api/v1/geofences/${f ? await fresh.geofence() : fx.geofence}` }) },
  'GET /api/v1/location/alerts': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/location/alerts' }) },
  'GET /api/v1/location/positions': { where: 'none', build: () => ({ method: 'GET', url: '/api/v1/location/positions' }) },
};

const tomorrow = () => inADay().slice(0, 10);
const CONSOLE: Record<string, Row> = {
  'POST /console/login': { where: 'none', build: () => ({ method: 'POST', url: '/console/login', form: { email: `nobody-${uid()}@matrix.test`, password: 'x' } }) },
  'POST /console/logout': { where: 'none', endsSession: true, build: () => ({ method: 'POST', url: '/console/logout', form: {} }) },
  'POST /console/password': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/console/password', form: { currentPassword: 'not it', newPassword: 'y'.repeat(12), confirmPassword: 'y'.repeat(12) } }) },
  'POST /console/devices/:id/location': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/console/devices/${fx.device}/location`, form: {} }) },
  'POST /console/location/schools/:schoolId': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/console/location/schools/${fx.school}`, form: { mode: 'on_demand' } }) },
  'POST /console/devices/:id/actions/:kind': { where: 'schoolA1', kind: 'lock', build: () => ({ method: 'POST', url: `/console/devices/${fx.device}/actions/lock`, form: {} }) },
  'POST /console/campaigns': { where: 'schoolA1', build: () => ({ method: 'POST', url: '/console/campaigns', form: { name: 'C', what: `remove_app:${fx.app}`, schoolId: fx.school, windows: 'always', perSchoolCap: '5' } }) },
  'POST /console/campaigns/:id/start': { where: 'organisation', build: async (_c, f) => ({ method: 'POST', url: `/console/campaigns/${f ? await fresh.campaign() : fx.campaign}/start`, form: {} }) },
  'POST /console/campaigns/:id/pause': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/console/campaigns/${fx.campaign}/pause`, form: {} }) },
  'POST /console/campaigns/:id/resume': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/console/campaigns/${fx.campaign}/resume`, form: {} }) },
  'POST /console/campaigns/:id/waves/:position/approve': { where: 'organisation', grantedStatus: 409, build: () => ({ method: 'POST', url: `/console/campaigns/${fx.campaign}/waves/1/approve`, form: {} }) },
  'POST /console/campaigns/:id/cancel': { where: 'organisation', build: async (_c, f) => ({ method: 'POST', url: `/console/campaigns/${f ? await fresh.campaign() : fx.campaign}/cancel`, form: {} }) },
  'POST /console/enrollment': { where: 'schoolA1', build: () => ({ method: 'POST', url: '/console/enrollment', form: { schoolId: fx.school, label: 'c', expiresOn: tomorrow() } }) },
  'POST /console/enrollment/:id/google': { where: 'schoolA1', grantedStatus: 400, build: () => ({ method: 'POST', url: `/console/enrollment/${fx.enrollment}/google`, form: {} }) },
  'POST /console/enrollment/:id/revoke': { where: 'schoolA1', build: async (_c, f) => ({ method: 'POST', url: `/console/enrollment/${f ? await fresh.enrollment() : fx.enrollment}/revoke`, form: {} }) },
  'POST /console/users': { where: 'none', build: () => ({ method: 'POST', url: '/console/users', form: { email: `c-${uid()}@matrix.test`, displayName: 'C' } }) },
  'POST /console/users/:id': { where: 'organisation', build: () => ({ method: 'POST', url: `/console/users/${fx.userX}`, form: { displayName: 'X', status: 'active' } }) },
  'POST /console/users/:id/password': { where: 'organisation', build: () => ({ method: 'POST', url: `/console/users/${fx.userX}/password`, form: { password: 'z'.repeat(12) } }) },
  'POST /console/users/:id/roles': { where: 'organisation', build: () => ({ method: 'POST', url: `/console/users/${fx.userX}/roles`, form: { role: 'director', scope: `school:${fx.school}` } }) },
  'POST /console/users/:id/roles/:assignmentId/remove': {
    where: 'organisation',
    build: async (_c, f) => {
      const a = f ? await fresh.assignment() : fx.assignment;
      return { method: 'POST', url: `/console/users/${a.userId}/roles/${a.id}/remove`, form: {} };
    },
  },
  'POST /console/tokens': { where: 'none', build: () => ({ method: 'POST', url: '/console/tokens', form: { name: 't', grant: '0', expiresOn: tomorrow() } }) },
  'POST /console/tokens/:id/revoke': { where: 'organisation', handlerPermission: 'users.manage', build: async (_c, f) => ({ method: 'POST', url: `/console/tokens/${f ? await fresh.tokenOfX() : fx.tokenOfX}/revoke`, form: {} }) },
  'POST /console/profiles': { where: 'none', build: () => ({ method: 'POST', url: '/console/profiles', form: { body: JSON.stringify(profileBody()) } }) },
  'POST /console/profiles/:id': { where: 'catalog', build: () => ({ method: 'POST', url: `/console/profiles/${fx.profile}`, form: { body: JSON.stringify({ ...profileBody(), id: fx.profileSlug }) } }) },
  'POST /console/profiles/:id/assignments': {
    where: 'schoolA1',
    build: async (_c, f) => ({ method: 'POST', url: `/console/profiles/${f ? await fresh.profile() : fx.profile}/assignments`, form: { scope: `school:${fx.school}` } }),
  },
  'POST /console/profiles/:id/assignments/:assignmentId/remove': {
    where: 'schoolA1',
    build: async (_c, f) => {
      const a = f ? await fresh.profileAssignment() : fx.profileAssignment;
      return { method: 'POST', url: `/console/profiles/${a.profileId}/assignments/${a.id}/remove`, form: {} };
    },
  },
  'POST /console/apps/:id/assignments': {
    where: 'schoolA1',
    build: async (_c, f) => {
      const { app, version } = f ? await fresh.appVersion() : { app: fx.app, version: fx.appVersion };
      return { method: 'POST', url: `/console/apps/${app}/assignments`, form: { scope: `school:${fx.school}`, versionId: version } };
    },
  },
  'POST /console/apps/:id/assignments/:assignmentId/remove': {
    where: 'schoolA1',
    build: async () => {
      const a = await fresh.appAssignment();
      return { method: 'POST', url: `/console/apps/${a.appId}/assignments/${a.id}/remove`, form: {} };
    },
  },
  'POST /console/devices/:id/install': { where: 'schoolA1', build: () => ({ method: 'POST', url: `/console/devices/${fx.device}/install`, form: { appVersionId: fx.appVersion } }) },
  'POST /console/settings/agent-package': { where: 'none', build: () => ({ method: 'POST', url: '/console/settings/agent-package', form: AGENT }) },
  'POST /console/settings/android-management/binding': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/console/settings/android-management/binding', form: { serviceAccountKey: 'not a key file' } }) },
  'POST /console/settings/android-management/notifications': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/console/settings/android-management/notifications', form: { mode: 'pull' } }) },
  'POST /console/settings/android-management/unbind': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/console/settings/android-management/unbind', form: { confirm: 'x' } }) },
  'POST /console/settings/apple-push/request': { where: 'none', build: () => ({ method: 'POST', url: '/console/settings/apple-push/request', form: {} }) },
  'POST /console/settings/apple-push/certificate': { where: 'none', grantedStatus: 400, build: () => ({ method: 'POST', url: '/console/settings/apple-push/certificate', form: { certificatePem: 'not a certificate' } }) },
};

// A person's credentials count for nothing on the device endpoints: every caller gets what an anonymous one gets.
const AGENT_ROWS: Record<string, Row> = {
  'POST /agent/v1/enroll': { where: 'none', build: () => ({ method: 'POST', url: '/agent/v1/enroll', payload: { token: 'not-a-token', csr: 'x', hardware: {}, agent: {} } }) },
  'GET /agent/v1/challenge': { where: 'none', build: () => ({ method: 'GET', url: '/agent/v1/challenge' }) },
  'POST /agent/v1/session': { where: 'none', build: () => ({ method: 'POST', url: '/agent/v1/session', payload: {} }) },
  'POST /agent/v1/exchange': { where: 'none', build: () => ({ method: 'POST', url: '/agent/v1/exchange', payload: { messages: [] } }) },
  'GET /agent/v1/ws': { where: 'none', build: () => ({ method: 'GET', url: '/agent/v1/ws' }) },
  'GET /apple/scep': { where: 'none', build: () => ({ method: 'GET', url: '/apple/scep?operation=GetCACaps' }) },
  'POST /apple/scep': { where: 'none', build: () => ({ method: 'POST', url: '/apple/scep?operation=PKIOperation', payload: { not: 'a PKIMessage' } }) },
  'GET /apple/enroll/:link': { where: 'none', build: () => ({ method: 'GET', url: '/apple/enroll/not-a-link' }) },
};
const ROWS: Record<string, Row> = { ...API, ...CONSOLE, ...AGENT_ROWS };

async function send(caller: Caller, req: Req, row: Row) {
  const headers: Record<string, string> = {};
  let cookies = caller.cookies;
  let csrf = caller.csrf;
  if (caller.token) headers.authorization = `Bearer ${caller.token}`;
  if (caller.credential === 'session' && row.endsSession) ({ cookies, csrf } = await signIn(t, caller.email!, caller.ip));
  if (csrf && req.method !== 'GET') headers['x-csrf-token'] = csrf;
  let payload: string | object | undefined = req.payload;
  if (req.csv !== undefined) [headers['content-type'], payload] = ['text/csv', req.csv];
  if (req.file) [headers['content-type'], payload] = [req.file.type, req.file.data];
  if (req.form) [headers['content-type'], payload] = ['application/x-www-form-urlencoded', new URLSearchParams(req.form).toString()];
  return t.app.inject({ method: req.method as 'GET', url: req.url, headers, cookies, payload, remoteAddress: caller.ip });
}

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  world = await matrixWorld(t);
  adminToken = world.callers.find((c) => c.name === 'admin@A (token)')!.token!;
  const [device] = await t.infra.database.db.insert(devices).values({ organisationId: org(), schoolId: world.schoolA1.id, platform: 'android', name: 'Tablette A1' }).returning();
  await t.infra.database.db.insert(deviceLocations).values({ deviceId: device!.id, lat: 45.76, lon: 4.83, accuracyM: 10, provider: 'fused', fixTime: new Date(), source: 'locate' });
  Object.assign(fx, { device: device!.id, school: world.schoolA1.id, commune: world.communeA1.id });
  fx.group = await fresh.group();
  fx.userX = await fresh.user();
  fx.tokenOfX = await fresh.tokenOfX();
  fx.assignment = await fresh.assignment();
  fx.enrollment = await fresh.enrollment();
  fx.command = await fresh.command();
  fx.profile = await fresh.profile();
  fx.webhook = await fresh.webhook();
  fx.profileSlug = (await asAdmin('GET', `/profiles/${fx.profile}`)).slug;
  fx.profileAssignment = await fresh.profileAssignment();
  fx.geofence = await fresh.geofence();
  fx.batch = (await asAdmin('POST', '/commands/bulk', { kind: 'refresh_inventory', target: { schoolId: fx.school } })).batchId;
  await asAdmin('PATCH', '/organisation/settings/agent-package', AGENT);
  apk = await buildApk({ packageName: 'org.example.matrix', versionCode: 1, signer: makeSigner('Matrix') });
  const uploaded = await t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/octet-stream' }, payload: apk });
  Object.assign(fx, { app: uploaded.json().app.id, appVersion: uploaded.json().version.id });
  fx.campaign = await fresh.campaign();
  const url = createDownloadUrls(t.infra.secrets.downloadKey, env.config.CARTABLE_PUBLIC_URL).url(uploaded.json().version.sha256, new Date(Date.now() + 3600_000));
  signedUrl = url.slice(env.config.CARTABLE_PUBLIC_URL.length);
  // Dozens of callers, an APK and fixtures of every kind: a loaded machine needs more than the default half-minute.
}, 120_000);
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

/** The matrix covers the REST API, the console's POST routes and the device endpoints. */
const covered = (method: string, url: string) =>
  url.startsWith('/api/v1/') || url.startsWith('/agent/v1/') || url.startsWith('/apple/scep') || url.startsWith('/apple/enroll/') || (url.startsWith('/console/') && method === 'POST');

describe('route × caller matrix, derived from the declarations and the role table', () => {
  let declared: Map<string, RouteAccess>;
  beforeAll(() => {
    declared = new Map(t.app.declaredRoutes().filter((r) => covered(r.method, r.url)).map((r) => [`${r.method} ${r.url}`, r.access]));
  });

  it('knows how to call every covered route, and no route that is gone', () => {
    expect(Object.keys(ROWS).sort()).toEqual([...declared.keys()].sort());
  });

  it.each(Object.keys(ROWS))('%s', async (route) => {
    const row = ROWS[route]!;
    const access = declared.get(route)!;
    const surface = route.includes(' /console/') ? 'console' : 'api';
    const idsOfA = Object.values(fx).flatMap((v) => (typeof v === 'string' ? [v] : 'userId' in v ? [v.userId, v.id] : [v.profileId, v.id]));
    const wrong: unknown[] = [];
    let anonymousStatus = 0;
    // Where a person's credentials count for nothing, the kinds of credential are enough to show it.
    const asAnonymous = 'public' in access || 'device' in access;
    const callers = world.callers
      .filter((c) => !asAnonymous || c.credential === 'anonymous' || c.credential === 'expired' || c.name.startsWith('admin@'))
      .sort((x) => (x.credential === 'anonymous' ? -1 : 0));
    for (const caller of callers) {
      const outcome = expectedOutcome(access, caller, { where: row.where, kind: row.kind, handlerPermission: row.handlerPermission }, { schoolA1: world.schoolA1.id, communeA1: world.communeA1.id });
      const req = await row.build(caller, outcome === 'allowed');
      const deniedWrite = req.method !== 'GET' && (outcome === 'unauthenticated' || outcome === 'forbidden' || outcome === 'not_found');
      const before = deniedWrite ? (digest ??= await databaseDigest(t)) : null;
      const res = await send(caller, req, row);
      if (caller.credential === 'anonymous') anonymousStatus = res.statusCode;
      const ok =
        outcome === 'as_anonymous'
          ? res.statusCode === anonymousStatus && res.statusCode < 500
          : answers(res, outcome, surface, row.grantedStatus) || (outcome === 'not_found' && res.statusCode === row.notFoundStatus);
      if (!ok) wrong.push({ caller: caller.name, expected: outcome, status: res.statusCode, body: res.body.slice(0, 160) });
      if (before) {
        const after = (digest = await databaseDigest(t));
        const changed = Object.keys(before).filter((k) => before[k] !== after[k]);
        if (changed.length) wrong.push({ caller: caller.name, refusedButChanged: changed });
      } else digest = null;
      // A caller of organisation B never reads anything of organisation A it did not name itself
      // (the audit trail records what a caller named, even when refused).
      if (caller.organisation === 'B' && res.statusCode < 300 && !route.includes('/audit')) {
        const named = `${req.url} ${JSON.stringify(req.payload ?? req.form ?? '')}`;
        const leaked = idsOfA.filter((id) => !named.includes(id) && res.body.includes(id));
        if (leaked.length) wrong.push({ caller: caller.name, leaked });
      }
    }
    expect({ route, wrong }).toEqual({ route, wrong: [] });
  });

  it('gives a director the devices of their school and nothing else', async () => {
    const as = (name: string) => ({ authorization: `Bearer ${world.callers.find((c) => c.name === name)!.token}` });
    expect(JSON.stringify((await t.app.inject({ url: '/api/v1/devices', headers: as('directorIn@A (token)') })).json())).toContain(fx.device);
    expect(JSON.stringify((await t.app.inject({ url: '/api/v1/devices', headers: as('directorOut@A (token)') })).json())).not.toContain(fx.device);
    const schools = (await t.app.inject({ url: '/api/v1/schools', headers: as('directorIn@A (token)') })).json();
    expect(schools.map((s: { id: string }) => s.id)).toEqual([fx.school]);
    expect((await t.app.inject({ url: '/api/v1/communes', headers: as('directorIn@A (token)') })).json()).toEqual([]);
    expect((await t.app.inject({ url: `/api/v1/commands?batchId=${fx.batch}`, headers: as('directorOut@A (token)') })).json().total).toBe(0);
  });
});
