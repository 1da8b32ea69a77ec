import type { KeyObject } from 'node:crypto';
import type { Db } from '../../infra/db/client';
import { createCa, decryptKey, encryptKey, issueDeviceCertificate, verifyDeviceCertificate, type IssuedCertificate } from '../../infra/pki';
import { findCa, insertCaIfAbsent } from './pki-store.repository';

export const DEVICE_CA_NAME = 'device';
/** Device certificates are not renewed in protocol version 1, so they outlive the tablets. */
const DEVICE_CERT_VALIDITY_DAYS = 3650;

export interface PkiStoreDeps {
  db: Db;
  /** Encrypts the CA key at rest (infra.secrets.passphrase). */
  passphrase: string;
  organisationName: string;
}

interface LoadedCa {
  certPem: string;
  key: KeyObject;
}

/**
 * The device CA: created at first start, stored with its key encrypted, loaded once per process.
 * Several processes starting together all end up with the same CA (first insert wins).
 */
export function createPkiStore(deps: PkiStoreDeps) {
  let ca: LoadedCa | undefined;

  function current(): LoadedCa {
    if (!ca) throw new Error('the device CA is not loaded: services.startup() must run first');
    return ca;
  }

  return {
    async load(): Promise<void> {
      let stored = await findCa(deps.db, DEVICE_CA_NAME);
      if (!stored) {
        const fresh = await createCa({ commonName: `Cartable Device CA (${deps.organisationName})`, organisation: deps.organisationName, validityYears: 20 });
        await insertCaIfAbsent(deps.db, { name: DEVICE_CA_NAME, certPem: fresh.certPem, keyEncryptedPem: encryptKey(fresh.keyPem, deps.passphrase) });
        stored = await findCa(deps.db, DEVICE_CA_NAME);
      }
      if (!stored) throw new Error('the device CA could not be stored');
      ca = { certPem: stored.certPem, key: decryptKey(stored.keyEncryptedPem, deps.passphrase) };
    },

    caCertPem(): string {
      return current().certPem;
    },

    issueDeviceCertificate(subjectPublicKeyDer: Buffer, deviceId: string): IssuedCertificate {
      const { certPem, key } = current();
      return issueDeviceCertificate({ caCertPem: certPem, caKey: key, subjectPublicKeyDer, commonName: deviceId, validityDays: DEVICE_CERT_VALIDITY_DAYS });
    },

    verifyDeviceCertificate(certPem: string, now?: Date) {
      return verifyDeviceCertificate({ certPem, caCertPem: current().certPem, now });
    },
  };
}
export type PkiStore = ReturnType<typeof createPkiStore>;
