import { ConflictError } from '../../domain/errors';
import { batched } from '../../infra/batched';
import type { Db, DbOrTx } from '../../infra/db/client';
import type { SecretBox } from '../../infra/secrets';
import type { Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import { insertCommand } from '../commands/commands.repository';
import { DEFAULT_TTL_SEC } from '../commands/commands.schemas';
import * as repo from './apple-devices.repository';

export type { CertificateEnrollment, PendingScepEnrollment, PushTarget } from './apple-devices.repository';

/**
 * The SCEP side's record of the certificates it issued (the Apple enrollment module): read by
 * fingerprint at the first check-in, and claimed, in the check-in's transaction, by the device
 * row Authenticate creates.
 */
export interface ScepEnrollments {
  pendingEnrollment(fingerprintSha256: string): Promise<repo.PendingScepEnrollment | undefined>;
  claim(tx: DbOrTx, id: string): Promise<boolean>;
}

/** What an Authenticate check-in told, decoded by the Apple edge. */
export interface AuthenticateFacts {
  udid: string;
  topic: string;
  serial: string | null;
  imei: string | null;
  model: string | null;
  osVersion: string | null;
  buildVersion: string | null;
  productName: string | null;
  deviceName: string | null;
}

export interface TokenUpdateFacts {
  topic: string;
  tokenHex: string;
  pushMagic: string;
  unlockToken: Buffer | null;
  awaitingConfiguration: boolean;
}

/** An iPad is pushed again at most this often, unless a command was queued for it since. */
const PUSH_MIN_INTERVAL_SEC = 30;

const deviceActor = (deviceId: string): Actor => ({ type: 'device', id: deviceId, label: null, role: null, ip: null });

/**
 * The Apple MDM state of iPads: their enrollment through check-ins, and what APNs needs to wake
 * them. Protocol-neutral inputs; the Apple edge decodes the plists.
 */
export function createAppleDevicesService({ db, secrets, scep }: { db: Db; secrets: Pick<SecretBox, 'seal'>; scep?: ScepEnrollments }) {
  const enrollmentsOf = repo.enrollmentsOfCertificatesStatement(db);
  // Read at every request, never cached: requests arriving in the same turn of the event loop
  // share one statement, which each of them waits for (a revocation committed before a request
  // arrived is seen by it).
  const knownEnrollment = batched(async (fingerprints: string[]) => {
    const found = await enrollmentsOf([...new Set(fingerprints)]);
    return fingerprints.map((fp) => found.get(fp) ?? null);
  });

  return {
    /**
     * The enrollment a certificate belongs to: its device's certificate row, or, before the first
     * Authenticate, what SCEP recorded when it issued it.
     */
    async enrollmentOfCertificate(fingerprintSha256: string): Promise<repo.CertificateEnrollment | null> {
      const known = await knownEnrollment(fingerprintSha256);
      if (known || !scep) return known;
      const pending = await scep.pendingEnrollment(fingerprintSha256);
      // Claimed means a device row took it; without that device's certificate row, it is no longer ours.
      if (!pending || pending.claimedAt) return null;
      const { deviceId, organisationId, schoolId } = pending;
      return { certificateId: pending.id, deviceId, organisationId, schoolId, deviceStatus: 'active', revoked: false, udid: null, enrollmentState: null, pendingScep: pending };
    },

    /** The device in the school its certificate was issued for: identifiers and facts recorded, push state reset. */
    async authenticate(device: { deviceId: string; organisationId: string; schoolId: string; pendingScep?: repo.PendingScepEnrollment }, facts: AuthenticateFacts): Promise<void> {
      await db.transaction(async (tx) => {
        if (device.pendingScep) {
          if (!scep || !(await scep.claim(tx, device.pendingScep.id))) throw new ConflictError('This enrollment was already taken by a device', 'enrollment_claimed');
          await repo.createFromScep(tx, device.pendingScep, facts.deviceName ?? `iPad ${facts.serial ?? facts.udid}`);
        }
        await repo.recordAuthenticate(tx, device.deviceId, {
          udid: facts.udid,
          topic: facts.topic,
          serial: facts.serial,
          imei: facts.imei,
          model: facts.productName ?? facts.model,
          osVersion: facts.osVersion,
          name: facts.deviceName,
          facts: { udid: facts.udid, buildVersion: facts.buildVersion, productName: facts.productName, model: facts.model },
        });
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: deviceActor(device.deviceId),
          action: 'device.apple.authenticate',
          target: { type: 'device', id: device.deviceId },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { topic: facts.topic },
        });
      });
    },

    /**
     * The push trio (token as hex, PushMagic, UnlockToken sealed). At the first one the iPad is
     * enrolled: its inventory and app list are asked for at once.
     */
    async tokenUpdate(device: { deviceId: string; organisationId: string }, facts: TokenUpdateFacts): Promise<{ enrolled: boolean }> {
      return db.transaction(async (tx) => {
        const { first } = await repo.recordTokenUpdate(tx, device.deviceId, {
          topic: facts.topic,
          tokenHex: facts.tokenHex,
          pushMagic: facts.pushMagic,
          unlockTokenEncrypted: facts.unlockToken ? secrets.seal(facts.unlockToken.toString('base64')) : null,
          awaitingConfiguration: facts.awaitingConfiguration,
        });
        if (first) {
          const now = Date.now();
          // Distinct creation times: the inventory (which tells supervision) is handed out first.
          for (const [i, kind] of (['refresh_inventory', 'refresh_apps'] as const).entries()) {
            await insertCommand(tx, { organisationId: device.organisationId, deviceId: device.deviceId, kind, params: {}, origin: 'system', createdAt: new Date(now + i), expiresAt: new Date(now + DEFAULT_TTL_SEC[kind] * 1000) });
          }
        }
        return { enrolled: first };
      });
    },

    /** The MDM profile was removed: the device is retired, its certificates revoked, its pending commands cancelled. */
    async checkOut(device: { deviceId: string; organisationId: string; schoolId: string }): Promise<void> {
      await db.transaction(async (tx) => {
        const revoked = await repo.recordCheckOut(tx, device.deviceId);
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: deviceActor(device.deviceId),
          action: 'device.apple.checkout',
          target: { type: 'device', id: device.deviceId },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { revokedCertificates: revoked },
        });
      });
    },

    setSupervised: (deviceId: string, supervised: boolean) => repo.setSupervised(db, deviceId, supervised),
    pushTargets: (deviceIds: string[]) => repo.pushTargets(db, deviceIds, PUSH_MIN_INTERVAL_SEC),
    markPushed: (deviceIds: string[]) => repo.markPushed(db, deviceIds),
    markTokenInvalid: (deviceId: string, tokenHex: string) => repo.markTokenInvalid(db, deviceId, tokenHex),
    state: (deviceId: string) => repo.appleState(db, deviceId),
  };
}
export type AppleDevicesService = ReturnType<typeof createAppleDevicesService>;
