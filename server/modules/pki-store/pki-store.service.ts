import { constants, generateKeyPair, privateDecrypt, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Db } from '../../infra/db/client';
import { createCa, decryptKey, encryptKey, issueDeviceCertificateOffLoop, issueSigningCertificate, verifyDeviceCertificate, type CmsSigner, type IssuedCertificate, type KeyType } from '../../infra/pki';
import { findCa, insertCaIfAbsent } from './pki-store.repository';

export const DEVICE_CA_NAME = 'device';
/** The organisation named in the CA's subject. */
export const CA_ORGANISATION = 'Cartable';
/** Devices renew their certificates over their authenticated channel (agent protocol §20). */
export const DEVICE_CERT_VALIDITY_DAYS = 365;
/** A profile signer outlives any profile version it signs; a tablet checks the signature at install only. */
const PROFILE_SIGNER_VALIDITY_DAYS = 825;

const generateKeyPairAsync = promisify(generateKeyPair);

export interface PkiStoreDeps {
  db: Db;
  /** Encrypts the CA key at rest (infra.secrets.passphrase). */
  passphrase: string;
  organisationName: string;
}

interface LoadedCa {
  certPem: string;
  cert: X509Certificate;
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
    /**
     * Loads the CA, creating it at first start unless `create` is false; resolves false when
     * there is none. The certificate must match the key that the master secret decrypts, so a
     * certificate swapped in the database is refused rather than trusted.
     */
    async load(options: { create?: boolean } = {}): Promise<boolean> {
      let stored = await findCa(deps.db, DEVICE_CA_NAME);
      if (!stored && options.create === false) return false;
      if (!stored) {
        const fresh = await createCa({ commonName: `Cartable Device CA (${deps.organisationName})`, organisation: deps.organisationName, validityYears: 20 });
        await insertCaIfAbsent(deps.db, { name: DEVICE_CA_NAME, certPem: fresh.certPem, keyEncryptedPem: encryptKey(fresh.keyPem, deps.passphrase) });
        stored = await findCa(deps.db, DEVICE_CA_NAME);
      }
      if (!stored) throw new Error('the device CA could not be stored');
      const key = decryptKey(stored.keyEncryptedPem, deps.passphrase);
      const cert = new X509Certificate(stored.certPem);
      if (!cert.checkPrivateKey(key)) throw new Error('the device CA certificate does not match its key: the certificate stored in the database was replaced');
      ca = { certPem: stored.certPem, cert, key };
      return true;
    },

    /** Whether the CA was loaded (`load` resolved true). */
    hasCa(): boolean {
      return ca !== undefined;
    },

    caCertPem(): string {
      return current().certPem;
    },

    /** Signed on the thread pool: an enrollment burst leaves the event loop to the devices' traffic. */
    issueDeviceCertificate(subjectPublicKeyDer: Buffer, deviceId: string, subjectKeyType?: KeyType, validityDays = DEVICE_CERT_VALIDITY_DAYS): Promise<IssuedCertificate> {
      const { certPem, key } = current();
      return issueDeviceCertificateOffLoop({ caCertPem: certPem, caKey: key, subjectPublicKeyDer, subjectKeyType, commonName: deviceId, validityDays });
    },

    /**
     * A fresh identity that signs configuration profiles, issued by the CA: its key is made off
     * the event loop, and the CA certificate travels with it so a tablet can build the chain.
     */
    async issueProfileSigner(): Promise<CmsSigner> {
      const { certPem: caCertPem, key: caKey } = current();
      const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
      const issued = issueSigningCertificate({
        caCertPem,
        caKey,
        subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }),
        commonName: `Cartable profile signing (${deps.organisationName})`,
        validityDays: PROFILE_SIGNER_VALIDITY_DAYS,
      });
      return { certPem: issued.certPem, key: privateKey, chainPem: [caCertPem] };
    },

    /** The CA certificate, DER (SCEP's GetCACert). */
    caCertDer(): Buffer {
      return current().cert.raw;
    },

    /**
     * Unwraps a key encrypted to the CA certificate with RSA PKCS#1 v1.5, as SCEP clients send
     * their envelope's content key. Node answers a bad padding with a random key (implicit
     * rejection) rather than an error, so callers must check what the key decrypts.
     */
    decryptWithCaKey(data: Buffer): Buffer {
      return privateDecrypt({ key: current().key, padding: constants.RSA_PKCS1_PADDING }, data);
    },

    /** A detached SHA-256 signature by the CA's key (node:crypto, off node-forge's slow RSA). */
    sign(data: Buffer): Buffer {
      return sign('sha256', data, current().key);
    },

    /** Whether `signature` over `data` was made by this CA's key. */
    verifySignature(data: Buffer, signature: Buffer): boolean {
      try {
        return verify('sha256', data, current().cert.publicKey, signature);
      } catch {
        return false;
      }
    },

    verifyDeviceCertificate(certPem: string, options: { now?: Date; ignoreValidity?: boolean } = {}) {
      return verifyDeviceCertificate({ certPem, caCertPem: current().certPem, ...options });
    },
  };
}
export type PkiStore = ReturnType<typeof createPkiStore>;
