import type { DeviceIdentity } from '../../domain/devices';
import type { AuthFailureCode, AuthOutcome, CertificateProof, DeviceIdentityPort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import type { PkiStore } from '../pki-store/pki-store.service';
import * as repo from './device-reports.repository';

export interface DeviceIdentityDeps {
  db: Db;
  pki: Pick<PkiStore, 'verifyDeviceCertificate'>;
}

const fail = (code: AuthFailureCode, message: string): AuthOutcome => ({ ok: false, code, message });

/** Devices proven by their certificate and a protocol's proof of possession; nothing here comes from what they claim. */
export function createDeviceIdentityService({ db, pki }: DeviceIdentityDeps): DeviceIdentityPort {
  return {
    /** Checks in a fixed order, so each failure names its first cause (agent protocol §8). */
    async authenticate(proof: CertificateProof): Promise<AuthOutcome> {
      const deviceId = proof.claimedDeviceId.toLowerCase();
      const cert = pki.verifyDeviceCertificate(proof.certificatePem);
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
      if (!proof.verify(cert.publicKey)) return fail('auth_failed', 'The signature does not verify.');
      return { ok: true, identity: { deviceId, organisationId: device.organisationId, schoolId: device.schoolId, platform: device.platform, fingerprintSha256: cert.fingerprintSha256 } };
    },

    async stillActive(identity: DeviceIdentity): Promise<boolean> {
      const device = await repo.findDeviceForAuth(db, identity.deviceId, identity.fingerprintSha256);
      return Boolean(device && device.status === 'active' && device.certRevoked === false);
    },
  };
}
