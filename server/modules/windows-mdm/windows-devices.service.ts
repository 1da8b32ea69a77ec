import { createHash, randomBytes, randomInt, X509Certificate } from 'node:crypto';
import { ConflictError, NotFoundError, UnauthenticatedError } from '../../domain/errors';
import type { EnrolledDevice, EnrollmentPort, EnrollmentRequest } from '../../domain/platform-ports';
import { batched } from '../../infra/batched';
import type { Db } from '../../infra/db/client';
import type { SecretBox } from '../../infra/secrets';
import { sha256 } from '../access/credentials';
import type { Actor, Scope } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import { insertCommand } from '../commands/commands.repository';
import { DEFAULT_TTL_SEC } from '../commands/commands.schemas';
import * as repo from './windows-devices.repository';

export type { OpenedSessions, WindowsEnrollment } from './windows-devices.repository';

/** A PIN serves for a day at most, and never beyond its token. */
const PIN_TTL_MS = 24 * 3600 * 1000;
/** Digits are easy to read out and type on a tablet's keyboard; twelve make guessing hopeless. */
const PIN_DIGITS = 12;

export interface WindowsEnrollmentFacts {
  /** The DeviceID context item: the SyncHdr Source of every later session. */
  windowsDeviceId: string;
  hwDevId: string | null;
  enrollmentType: string;
}

export interface WindowsEnrolled extends EnrolledDevice {
  digestUser: string;
  digestSecret: string;
}

/** The MD5 digest's stored half: b64(md5(user:secret)), what OMA-DM's auth-md5 hashes with the nonce. */
export const digestHash = (user: string, secret: string) => createHash('md5').update(`${user}:${secret}`).digest('base64');

/**
 * The statements of OMA-DM messages run one at a time per kind: the messages arriving meanwhile
 * wait for it and go together in the next (group commit). Under load the batches grow with the
 * load instead of the statements; each costs PostgreSQL and this process far more than its rows.
 */
const TOGETHER = { oneAtATime: true };

const deviceActor = (deviceId: string): Actor => ({ type: 'device', id: deviceId, label: null, role: null, ip: null });
const pinHash = (userName: string, pin: string) => sha256(`windows-pin:${userName.toLowerCase()}:${pin}`);

/**
 * Windows tablets' enrollment by user name (the school's code) and one-time PIN, and the state
 * their OMA-DM sessions need. The enrollment itself, and the use of the token, is the enrollment
 * service's, exactly as for any other platform.
 */
export function createWindowsDevicesService({ db, secrets, enrollment }: { db: Db; secrets: Pick<SecretBox, 'seal' | 'open'>; enrollment: EnrollmentPort }) {
  const recordSessions = repo.recordSessionsStatement(db);
  // Each session is identified afresh at its opening (a revocation takes effect at the next one); messages arriving together share the query.
  const lookupTogether = (lookup: (db: Db, keys: string[]) => Promise<Map<string, repo.WindowsEnrollment>>) =>
    batched(async (keys: string[]) => {
      const found = await lookup(db, [...new Set(keys)]);
      return keys.map((key) => found.get(key) ?? null);
    }, TOGETHER);
  // Every Status and Results is kept as received, before the answer: those of tablets answering together in one insert.
  const insertReplies = repo.insertRepliesStatement(db);
  const recordReplies = batched(async (groups: repo.NewReply[][]) => {
    await insertReplies(groups.flat());
    return groups.map(() => undefined);
  }, TOGETHER);
  const byThumbprint = lookupTogether(repo.enrollmentsByThumbprint);
  const bySource = lookupTogether(repo.enrollmentsBySource);
  return {
    /** A PIN for one Windows tablet, standing for an active token of the caller's scope. */
    async createPin(scope: Scope, actor: Actor, tokenId: string): Promise<{ userName: string; pin: string; expiresAt: string }> {
      return db.transaction(async (tx) => {
        const found = await repo.tokenWithSchoolCode(tx, scope, tokenId);
        if (!found) throw new NotFoundError('Enrollment token');
        const { token, schoolCode } = found;
        const now = Date.now();
        if (token.revokedAt || token.expiresAt.getTime() <= now || (token.maxUses !== null && token.uses >= token.maxUses)) throw new ConflictError('The enrollment token is not active; create a new one.', 'token_not_active');
        const pin = Array.from({ length: PIN_DIGITS }, () => randomInt(10)).join('');
        const expiresAt = new Date(Math.min(now + PIN_TTL_MS, token.expiresAt.getTime()));
        const row = await repo.insertPin(tx, { organisationId: token.organisationId, tokenId, userName: schoolCode, pinHash: pinHash(schoolCode, pin), expiresAt });
        await recordAudit(tx, { organisationId: token.organisationId, actor, action: 'enrollment_token.windows_pin', target: { type: 'enrollment_token', id: tokenId }, schoolId: token.schoolId, outcome: 'success', details: { pinId: row.id, expiresAt: expiresAt.toISOString() } });
        return { userName: schoolCode, pin, expiresAt: expiresAt.toISOString() };
      });
    },

    /** Whether the user name and PIN open an enrollment (GetPolicies asks before the request itself). */
    async checkCredentials(userName: string, password: string): Promise<void> {
      const open = await repo.openPin(db, pinHash(userName, password));
      if (!open || open.pin.userName.toLowerCase() !== userName.toLowerCase()) throw new UnauthenticatedError('The user name or the enrollment PIN is wrong, used or expired.', 'pin_invalid');
    },

    /**
     * Enrolls the tablet through the enrollment port with the PIN's token; the PIN is taken first
     * and given back if the enrollment is refused, so a refusal costs the technician nothing.
     */
    async enroll(userName: string, password: string, request: Omit<EnrollmentRequest, 'token'>, facts: WindowsEnrollmentFacts): Promise<WindowsEnrolled> {
      const open = await repo.openPin(db, pinHash(userName, password));
      if (!open || open.pin.userName.toLowerCase() !== userName.toLowerCase()) throw new UnauthenticatedError('The user name or the enrollment PIN is wrong, used or expired.', 'pin_invalid');
      if (!(await repo.claimPin(db, open.pin.id))) throw new UnauthenticatedError('The enrollment PIN was just used.', 'pin_invalid');
      let enrolled: EnrolledDevice;
      try {
        enrolled = await enrollment.enroll({ ...request, token: secrets.open(open.tokenCiphertext) });
      } catch (error) {
        await repo.releasePin(db, open.pin.id);
        throw error;
      }
      const certificate = new X509Certificate(enrolled.certificatePem);
      const digestUser = enrolled.deviceId;
      const digestSecret = randomBytes(24).toString('base64url');
      await db.transaction(async (tx) => {
        const replaced = await repo.recordEnrollment(tx, open.pin.id, {
          deviceId: enrolled.deviceId,
          windowsDeviceId: facts.windowsDeviceId,
          hwDevId: facts.hwDevId,
          enrollmentType: facts.enrollmentType,
          certificateSha1: certificate.fingerprint.replaceAll(':', '').toUpperCase(),
          certificateSha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
          digestUser,
          digestHashEncrypted: secrets.seal(digestHash(digestUser, digestSecret)),
        });
        if (replaced) {
          await recordAudit(tx, { organisationId: open.pin.organisationId, actor: deviceActor(enrolled.deviceId), action: 'device.replaced', target: { type: 'device', id: replaced }, schoolId: null, outcome: 'success', details: { by: enrolled.deviceId, windowsDeviceId: facts.windowsDeviceId } });
        }
        // The inventory is asked for at once: the first session brings it.
        const now = Date.now();
        await insertCommand(tx, { organisationId: open.pin.organisationId, deviceId: enrolled.deviceId, kind: 'refresh_inventory', params: {}, origin: 'system', createdAt: new Date(now), expiresAt: new Date(now + DEFAULT_TTL_SEC.refresh_inventory * 1000) });
      });
      return { ...enrolled, digestUser, digestSecret };
    },

    enrollmentByThumbprint: (sha1: string) => byThumbprint(sha1.toUpperCase()),
    enrollmentBySource: (windowsDeviceId: string) => bySource(windowsDeviceId),
    /** The stored digest hash of a device, opened for one check. */
    digestHashOf: (enrollment: repo.WindowsEnrollment) => secrets.open(enrollment.digestHashEncrypted),
    /** The sessions opened by many devices, in one statement (their counts are written every few seconds). */
    recordSessions,
    recordReplies,

    /** Alert 1226: the management account was removed on the tablet. */
    async unenroll(device: { deviceId: string; organisationId: string; schoolId: string }): Promise<void> {
      await db.transaction(async (tx) => {
        const revoked = await repo.recordUnenrollment(tx, device.deviceId);
        await recordAudit(tx, { organisationId: device.organisationId, actor: deviceActor(device.deviceId), action: 'device.windows.unenroll', target: { type: 'device', id: device.deviceId }, schoolId: device.schoolId, outcome: 'success', details: { revokedCertificates: revoked } });
      });
    },

    /** A profile's install succeeded: what undoes it is kept for its removal. */
    profileInstalled: (deviceId: string, profileId: string, removal: repo.Removal) => repo.recordProfile(db, deviceId, profileId, removal),
    profileRemoved: (deviceId: string, profileId: string) => repo.recordProfile(db, deviceId, profileId, null),
    profileRemoval: (deviceId: string, profileId: string) => repo.profileRemoval(db, deviceId, profileId),
    state: (deviceId: string) => repo.windowsState(db, deviceId),
  };
}
export type WindowsDevicesService = ReturnType<typeof createWindowsDevicesService>;
