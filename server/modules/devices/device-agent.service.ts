import { authSigningInput, type ReportApps, type ReportEvents, type ReportInventory, type ReportLocation, type ReportStatus } from '../../../agent-protocol/src';
import type { Db } from '../../infra/db/client';
import { verifyChallengeSignature } from '../../infra/pki';
import type { PkiStore } from '../pki-store/pki-store.service';
import * as repo from './device-reports.repository';
import { storedFix } from './location-fix';

/** A device proven by its certificate and signature; nothing here comes from what it claims. */
export interface AgentIdentity {
  deviceId: string;
  organisationId: string;
  schoolId: string;
  fingerprintSha256: string;
}

export type AuthFailureCode = 'auth_failed' | 'certificate_invalid' | 'certificate_wrong_ca' | 'certificate_expired' | 'device_revoked';
export type AuthOutcome = { ok: true; identity: AgentIdentity } | { ok: false; code: AuthFailureCode; message: string };

export interface ProofOfPossession {
  deviceId: string;
  certificate: string;
  signature: string;
  nonce: string;
}

export type ReportOutcome = { stored: true } | { stored: false; code: 'location_not_allowed'; message: string };

export interface DeviceAgentDeps {
  db: Db;
  pki: Pick<PkiStore, 'verifyDeviceCertificate'>;
}

const fail = (code: AuthFailureCode, message: string): AuthOutcome => ({ ok: false, code, message });

/** What the agent gateway asks of the inventory: authentication, reports, last-seen times. */
export function createDeviceAgentService({ db, pki }: DeviceAgentDeps) {
  return {
    /** The checks of protocol §8, in its order. The caller has already checked the nonce is live. */
    async authenticate(proof: ProofOfPossession): Promise<AuthOutcome> {
      const deviceId = proof.deviceId.toLowerCase();
      const cert = pki.verifyDeviceCertificate(proof.certificate);
      if (!cert.ok) {
        if (cert.reason === 'wrong_ca') return fail('certificate_wrong_ca', 'The certificate was not issued by this server.');
        if (cert.reason === 'malformed') return fail('certificate_invalid', 'The certificate cannot be parsed.');
        return fail('certificate_expired', 'The certificate is expired or not yet valid.');
      }
      if (cert.deviceId.toLowerCase() !== deviceId) return fail('certificate_invalid', 'The certificate does not name this device.');
      const device = await repo.findDeviceForAuth(db, deviceId, cert.fingerprintSha256);
      if (!device) return fail('auth_failed', 'Unknown device.');
      if (device.status !== 'active' || device.certRevoked === true) return fail('device_revoked', `The device is ${device.status === 'active' ? 'revoked' : device.status}; enroll it again.`);
      if (device.certRevoked === null) return fail('auth_failed', 'The certificate is not one of this device.');
      if (!verifyChallengeSignature(cert.publicKey, Buffer.from(authSigningInput(proof.nonce, deviceId), 'utf8'), proof.signature)) {
        return fail('auth_failed', 'The signature does not verify.');
      }
      return { ok: true, identity: { deviceId, organisationId: device.organisationId, schoolId: device.schoolId, fingerprintSha256: cert.fingerprintSha256 } };
    },

    /** Whether the device may still talk (checked again on every HTTPS exchange). */
    async stillActive(identity: AgentIdentity): Promise<boolean> {
      const device = await repo.findDeviceForAuth(db, identity.deviceId, identity.fingerprintSha256);
      return Boolean(device && device.status === 'active' && device.certRevoked === false);
    },

    recordSession(deviceId: string, session: { capabilities?: string[]; protocol: number; bootId?: string; appliedStateVersion?: number; transport: 'ws' | 'https'; agent?: { versionName: string; versionCode: number } }): Promise<void> {
      return repo.recordAgentSession(db, deviceId, { ...session, at: new Date().toISOString() }, session.agent?.versionName ?? null);
    },

    touch(seen: { id: string; at: Date }[]): Promise<void> {
      return repo.touchDevices(db, seen);
    },

    reportStatus(deviceId: string, body: ReportStatus): Promise<void> {
      return repo.updateStatus(db, deviceId, { batteryLevel: body.batteryLevel, charging: body.charging, storageFreeBytes: body.storageFreeBytes, status: body });
    },

    reportInventory(deviceId: string, body: ReportInventory): Promise<void> {
      const serial = body.hardware.serial && body.hardware.serial !== 'unknown' ? body.hardware.serial : null;
      return repo.updateInventory(db, deviceId, {
        serial,
        imei: body.network.imei ?? body.hardware.imei ?? null,
        manufacturer: body.hardware.manufacturer,
        model: body.hardware.model,
        osVersion: body.software.androidVersion,
        agentVersion: body.software.agentVersionName,
        managementMode: body.management.deviceOwner ? 'device_owner' : 'none',
        storageTotalBytes: body.storage.totalBytes,
        storageFreeBytes: body.storage.freeBytes,
        inventory: body,
      });
    },

    reportApps(deviceId: string, body: ReportApps): Promise<void> {
      const apps = body.apps.map((a) => ({ identifier: a.packageName, name: a.label ?? null, version: a.versionName, versionCode: a.versionCode, installer: a.installer ?? null, system: a.system }));
      return db.transaction((tx) => repo.upsertApps(tx, deviceId, apps, { full: body.full, removed: body.full ? [] : (body.removed ?? []) }));
    },

    reportEvents(deviceId: string, body: ReportEvents): Promise<void> {
      return repo.insertEvents(db, deviceId, body.events.map((e) => ({ kind: e.kind, at: new Date(e.at), data: e.data ?? {} })));
    },

    /** Location is off by default: kept only under lost mode or an in-flight locate command. */
    async reportLocation(deviceId: string, body: ReportLocation): Promise<ReportOutcome> {
      const allowed = await repo.locationSource(db, deviceId);
      if (!allowed) return { stored: false, code: 'location_not_allowed', message: 'Location reporting is not enabled for this device.' };
      await repo.insertLocation(db, {
        deviceId,
        ...storedFix(body),
        source: allowed.source,
        commandId: allowed.commandId ?? body.commandId ?? null,
      });
      return { stored: true };
    },
  };
}
export type DeviceAgentService = ReturnType<typeof createDeviceAgentService>;
