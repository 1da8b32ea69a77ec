import { createHash } from 'node:crypto';
import type { DeviceIdentity } from '../../domain/devices';
import type { AuthFailureCode, AuthOutcome, CertificateProof, DeviceIdentityPort, RenewalOutcome } from '../../domain/platform-ports';
import { concurrencyLimit } from '../../infra/concurrency-limit';
import type { Db } from '../../infra/db/client';
import { CsrError, parseCsr } from '../../infra/pki';
import { recordAudit } from '../audit/audit.service';
import type { PkiStore } from '../pki-store/pki-store.service';
import { DEVICE_CERT_VALIDITY_DAYS } from '../pki-store/pki-store.service';
import * as certs from './device-certificates.repository';
import * as repo from './device-reports.repository';

export interface DeviceIdentityDeps {
  db: Db;
  pki: Pick<PkiStore, 'verifyDeviceCertificate' | 'issueDeviceCertificate' | 'caCertPem'>;
}

const DAY_MS = 24 * 3600 * 1000;
/** Devices renew once this fraction of their certificate's validity has elapsed. */
const RENEW_AT_FRACTION = 2 / 3;
/** At most this many certificates per device and day. */
const RENEWALS_PER_DAY = 3;
/**
 * Renewals written at once by this process. Each one appends to its organisation's audit chain,
 * which takes them one at a time: a whole fleet asked to renew after an upgrade would otherwise
 * hold every database connection waiting for that chain, starving everything else. The others
 * wait here, in memory.
 */
const CONCURRENT_RENEWALS = 4;

/** Revocations that come from a renewal, not from an administrator: such a certificate is merely outdated. */
const REPLACED_BY_RENEWAL = new Set(['superseded', 'replaced']);

const fail = (code: AuthFailureCode, message: string): AuthOutcome => ({ ok: false, code, message });

/**
 * Whether a certificate should be replaced now: it is longer-lived than the current policy (one
 * issued before renewals existed), or most of its validity has elapsed.
 */
export function renewalDue(notBefore: Date, notAfter: Date, now = Date.now()): boolean {
  const span = notAfter.getTime() - notBefore.getTime();
  return span > (DEVICE_CERT_VALIDITY_DAYS + 1) * DAY_MS || now >= notBefore.getTime() + span * RENEW_AT_FRACTION;
}

/** Devices proven by their certificate and a protocol's proof of possession; nothing here comes from what they claim. */
export function createDeviceIdentityService({ db, pki }: DeviceIdentityDeps): DeviceIdentityPort {
  const renewals = concurrencyLimit(CONCURRENT_RENEWALS);
  const deviceForAuth = repo.deviceForAuthStatement(db);
  return {
    /**
     * Checks in a fixed order, so each failure names its first cause (agent protocol §8), against
     * the records of now: revocation and expiry are checked at every connection.
     */
    async authenticate(proof: CertificateProof): Promise<AuthOutcome> {
      const deviceId = proof.claimedDeviceId.toLowerCase();
      const cert = pki.verifyDeviceCertificate(proof.certificatePem);
      if (!cert.ok) {
        if (cert.reason === 'wrong_ca') return fail('certificate_wrong_ca', 'The certificate was not issued by this server.');
        if (cert.reason === 'malformed') return fail('certificate_invalid', 'The certificate cannot be parsed.');
        return fail('certificate_expired', 'The certificate is expired or not yet valid.');
      }
      if (cert.deviceId.toLowerCase() !== deviceId) return fail('certificate_invalid', 'The certificate does not name this device.');
      const device = await deviceForAuth(deviceId, cert.fingerprintSha256);
      if (!device) return fail('auth_failed', 'Unknown device.');
      if (device.certRevoked && REPLACED_BY_RENEWAL.has(device.certRevokeReason ?? '')) return fail('auth_failed', 'The certificate was replaced by a renewal.');
      if (device.status !== 'active' || device.certRevoked === true) return fail('device_revoked', `The device is ${device.status === 'active' ? 'revoked' : device.status}; enroll it again.`);
      if (device.certRevoked === null) return fail('auth_failed', 'The certificate is not one of this device.');
      if (!proof.verify(cert.publicKey)) return fail('auth_failed', 'The signature does not verify.');
      if (device.certPending) await db.transaction((tx) => certs.promote(tx, deviceId, device.certId!));
      const publicKeySpki = cert.spkiDer.toString('base64');
      return {
        ok: true,
        identity: { deviceId, organisationId: device.organisationId, schoolId: device.schoolId, platform: device.platform, fingerprintSha256: cert.fingerprintSha256, publicKeySpki },
        renewalDue: renewalDue(device.certNotBefore!, device.certNotAfter!),
      };
    },

    /** A certificate replaced by a renewal still carries the session it opened: the device did nothing wrong. */
    async stillActive(identity: DeviceIdentity): Promise<boolean> {
      const device = await deviceForAuth(identity.deviceId, identity.fingerprintSha256);
      return Boolean(device && device.status === 'active' && (device.certRevoked === false || REPLACED_BY_RENEWAL.has(device.certRevokeReason ?? '')));
    },

    async renewCertificate(identity: DeviceIdentity, csrPem: string, proven: boolean): Promise<RenewalOutcome> {
      let csr;
      try {
        csr = parseCsr(csrPem);
      } catch (error) {
        if (error instanceof CsrError) return { ok: false, code: error.reason === 'bad_signature' ? 'csr_bad_signature' : 'csr_invalid', message: error.message };
        throw error;
      }
      const spkiSha256 = createHash('sha256').update(csr.publicKeyDer).digest('hex');
      const chainPem = [pki.caCertPem()];
      const sessionKey = identity.publicKeySpki !== undefined && csr.publicKeyDer.equals(Buffer.from(identity.publicKeySpki, 'base64'));
      if (sessionKey && !proven) {
        // A request re-sent after the device took its answer and authenticated with the new key, before
        // the ack reached it: its proof was made with the key it has since replaced. The answer is sent again.
        const again = await certs.findLiveForKey(db, identity.deviceId, spkiSha256);
        if (again?.certPem) return { ok: true, certificatePem: again.certPem, chainPem };
      }
      if (!proven) return { ok: false, code: 'proof_invalid', message: 'The signature does not verify with the key of the certificate this session authenticated with.' };
      if (sessionKey) return { ok: false, code: 'csr_invalid', message: 'Key reuse: a renewal needs a new key.' };
      // Signed before the transaction, which then holds its connection only for the writes.
      const issued = await pki.issueDeviceCertificate(csr.publicKeyDer, identity.deviceId, csr.keyType);
      return renewals(() => db.transaction(async (tx) => {
        await certs.lockDevice(tx, identity.deviceId);
        const again = await certs.findLiveForKey(tx, identity.deviceId, spkiSha256);
        if (again?.certPem) return { ok: true, certificatePem: again.certPem, chainPem };
        const recent = await certs.issuedSince(tx, identity.deviceId, new Date(Date.now() - DAY_MS));
        if (recent.length >= RENEWALS_PER_DAY) {
          const retryAfterSec = Math.max(1, Math.ceil((recent[recent.length - RENEWALS_PER_DAY]!.getTime() + DAY_MS - Date.now()) / 1000));
          return { ok: false, code: 'rate_limited', message: `${RENEWALS_PER_DAY} certificates were issued to this device in the last 24 hours.`, retryAfterSec };
        }
        await certs.insertPending(tx, {
          deviceId: identity.deviceId,
          serialHex: issued.serialHex,
          fingerprintSha256: issued.fingerprintSha256,
          notBefore: issued.notBefore,
          notAfter: issued.notAfter,
          spkiSha256,
          certPem: issued.certPem,
        });
        await recordAudit(tx, {
          organisationId: identity.organisationId,
          actor: { type: 'device', id: identity.deviceId, label: null, role: null, ip: null },
          action: 'device.certificate.renew',
          target: { type: 'device', id: identity.deviceId },
          schoolId: identity.schoolId,
          outcome: 'success',
          details: { serialHex: issued.serialHex, notAfter: issued.notAfter.toISOString() },
        });
        return { ok: true, certificatePem: issued.certPem, chainPem };
      }));
    },
  };
}
