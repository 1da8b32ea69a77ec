import { InvalidInputError } from '../../domain/errors';
import type { CertificateProof } from '../../domain/platform-ports';
import type { DbOrTx } from '../../infra/db/client';
import type { Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { PkiStore } from '../pki-store/pki-store.service';
import { findPrevious, retirePrevious, type PreviousRecord } from './reenrollment.repository';

/**
 * Re-enrollment without a factory reset: the tablet proves, with the key of an identity this
 * server issued, that it is the device of an earlier record — whatever that certificate's dates
 * and that record's state. Checked before the token is taken.
 */
export async function provePrevious(db: DbOrTx, pki: Pick<PkiStore, 'verifyDeviceCertificate'>, proof: CertificateProof): Promise<PreviousRecord> {
  const invalid = (why: string) => new InvalidInputError(`The proof of the previous enrollment does not hold: ${why}`, 'proof_invalid');
  const cert = pki.verifyDeviceCertificate(proof.certificatePem, { ignoreValidity: true });
  if (!cert.ok) throw invalid('the certificate was not issued by this server.');
  if (cert.deviceId.toLowerCase() !== proof.claimedDeviceId.toLowerCase()) throw invalid('the certificate does not name that device.');
  const previous = await findPrevious(db, cert.deviceId.toLowerCase());
  if (!previous) throw invalid('no such device.');
  if (!proof.verify(cert.publicKey)) throw invalid('the signature does not verify.');
  return previous;
}

/**
 * Within the transaction that creates the new record: the previous one is retired, and both are
 * audited. Only a record of the token's organisation is touched; a tablet coming from another
 * organisation enrolls as a new one there.
 */
export async function supersedePrevious(tx: DbOrTx, previous: PreviousRecord, enrolled: { deviceId: string; organisationId: string; schoolId: string; actor: Actor; tokenId: string }): Promise<void> {
  const wasActive = await retirePrevious(tx, previous.id);
  const details = { previousDeviceId: previous.id, deviceId: enrolled.deviceId, tokenId: enrolled.tokenId, previousWasActive: wasActive };
  await recordAudit(tx, { organisationId: enrolled.organisationId, actor: enrolled.actor, action: 'device.reenroll', target: { type: 'device', id: enrolled.deviceId }, schoolId: enrolled.schoolId, outcome: 'success', details });
  await recordAudit(tx, { organisationId: previous.organisationId, actor: enrolled.actor, action: 'device.retire', target: { type: 'device', id: previous.id }, schoolId: previous.schoolId, outcome: 'success', details: { ...details, reason: 're-enrolled' } });
}
