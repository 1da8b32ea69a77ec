import { createPublicKey, generateKeyPair, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ConflictError, InvalidInputError, NotFoundError } from '../../domain/errors';
import type { Db } from '../../infra/db/client';
import { createCsr, decryptKey, encryptKey } from '../../infra/pki';
import type { Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import * as repo from './push-certificate.repository';

const generateKeyPairAsync = promisify(generateKeyPair);
/** Apple's MDM push topics all start so (NanoMDM's TopicFromCert refuses anything else). */
const TOPIC_PREFIX = 'com.apple.mgmt';

export interface PushCertificateView {
  topic: string | null;
  notAfter: string | null;
  /** A key and request were generated and wait for Apple's signed certificate. */
  requestPending: boolean;
  pendingCsrPem: string | null;
}

/** The topic is the UID (0.9.2342.19200300.100.1.1) of the certificate's subject. */
export function topicOf(certificate: X509Certificate): string | null {
  for (const line of certificate.subject.split('\n')) {
    const [name, ...rest] = line.split('=');
    if (name === 'UID' || name === '0.9.2342.19200300.100.1.1') return rest.join('=');
  }
  return null;
}

const spki = (key: KeyObject) => createPublicKey(key).export({ type: 'spki', format: 'der' });

/**
 * The organisation's MDM push certificate. Cartable generates the key and a CSR; the
 * administrator has it signed (docs/apple.md) and uploads the certificate, which must match a key
 * we hold. A renewal must keep the topic: a new topic silently cuts every enrolled iPad off.
 */
export function createPushCertificateService({ db, passphrase }: { db: Db; passphrase: string }) {
  const view = (row: repo.PushCertificateRow | null): PushCertificateView => ({
    topic: row?.topic ?? null,
    notAfter: row?.notAfter?.toISOString() ?? null,
    requestPending: Boolean(row?.pendingKeyEncryptedPem),
    pendingCsrPem: row?.pendingCsrPem ?? null,
  });

  return {
    async get(organisationId: string): Promise<PushCertificateView> {
      return view(await repo.findPushCertificate(db, organisationId));
    },

    async createRequest(organisationId: string, actor: Actor): Promise<{ csrPem: string }> {
      const keyPair = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
      const csrPem = createCsr({ keyPair, commonName: 'Cartable MDM push' });
      const keyPem = keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      await db.transaction(async (tx) => {
        await repo.savePendingRequest(tx, organisationId, encryptKey(keyPem, passphrase), csrPem);
        await recordAudit(tx, { organisationId, actor, action: 'apple.push_certificate.request', outcome: 'success' });
      });
      return { csrPem };
    },

    async upload(organisationId: string, certificatePem: string, actor: Actor): Promise<PushCertificateView> {
      let certificate: X509Certificate;
      try {
        certificate = new X509Certificate(certificatePem);
      } catch {
        throw new InvalidInputError('The certificate cannot be read: upload the PEM certificate Apple signed', 'certificate_invalid');
      }
      const topic = topicOf(certificate);
      if (!topic?.startsWith(TOPIC_PREFIX)) throw new InvalidInputError(`The certificate is not an MDM push certificate: its subject UID must start with ${TOPIC_PREFIX}`, 'not_a_push_certificate');
      // @types/node 20 has no validToDate: the text form is parsed.
      const notAfter = new Date(certificate.validTo);
      if (Number.isNaN(notAfter.getTime()) || notAfter.getTime() < Date.now()) throw new InvalidInputError('The certificate has expired', 'certificate_expired');
      return db.transaction(async (tx) => {
        const row = await repo.findPushCertificate(tx, organisationId);
        if (!row) throw new NotFoundError('A push certificate request (generate one first)', 'no_push_certificate_request');
        const certKey = certificate.publicKey.export({ type: 'spki', format: 'der' });
        const pending = row.pendingKeyEncryptedPem && spki(decryptKey(row.pendingKeyEncryptedPem, passphrase)).equals(certKey) ? row.pendingKeyEncryptedPem : null;
        const current = !pending && row.keyEncryptedPem && spki(decryptKey(row.keyEncryptedPem, passphrase)).equals(certKey) ? row.keyEncryptedPem : null;
        if (!pending && !current) throw new InvalidInputError('The certificate is not for a key Cartable generated: sign the latest certificate request', 'certificate_key_mismatch');
        if (row.topic && row.topic !== topic) {
          throw new ConflictError(`The certificate's topic ${topic} differs from the current ${row.topic}: every enrolled iPad would stop answering. Renew the same certificate with the same Apple ID.`, 'push_topic_mismatch');
        }
        await repo.saveCertificate(tx, organisationId, { topic, certPem: certificate.toString(), keyEncryptedPem: (pending ?? current)!, notAfter, clearPending: Boolean(pending) });
        await recordAudit(tx, { organisationId, actor, action: 'apple.push_certificate.upload', outcome: 'success', details: { topic, notAfter: notAfter.toISOString(), renewal: Boolean(row.topic) } });
        return view(await repo.findPushCertificate(tx, organisationId));
      });
    },

    /** The certificate and key APNs needs, or null when none was uploaded. */
    async credentials(organisationId: string): Promise<{ topic: string; certPem: string; keyPem: string } | null> {
      const row = await repo.findPushCertificate(db, organisationId);
      if (!row?.certPem || !row.keyEncryptedPem || !row.topic) return null;
      const key = decryptKey(row.keyEncryptedPem, passphrase);
      return { topic: row.topic, certPem: row.certPem, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString() };
    },
  };
}
export type PushCertificateService = ReturnType<typeof createPushCertificateService>;
