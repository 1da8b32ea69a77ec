/** Certificate renewal with key rotation (README §20), and what proves a device key elsewhere. */
import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { Base64, Obj, Pem, Uuid } from './common';
import { ATTESTATION_CHALLENGE_PREFIX } from './constants';

/** Agent → server, through the outbox: a CSR for a new key, authorised by the current key. */
export const CertificateRenew = Obj(
  {
    csr: Pem('PEM PKCS#10 request for a NEW key pair, signed with that new key.'),
    signature: Base64('Signature with the CURRENT device key over "cartable-agent-renew:v1:" + deviceId + ":" + csr.'),
  },
  { title: 'certificate.renew' },
);
export type CertificateRenew = Static<typeof CertificateRenew>;

/** Server → agent, `ref` = the `certificate.renew` id: the certificate for the new key. */
export const CertificateIssued = Obj(
  {
    certificate: Pem('PEM X.509 certificate for the public key of the renewal CSR, CN = deviceId.'),
    chain: Type.Array(Pem('PEM certificate'), { description: 'Issuer chain, CA certificate last.' }),
  },
  { title: 'certificate.issued' },
);
export type CertificateIssued = Static<typeof CertificateIssued>;

/** Android Keystore key attestation of the key in a CSR (README §7.6). Optional, never required. */
export const KeyAttestation = Obj(
  {
    certificateChain: Type.Array(Base64('DER certificate, standard base64.'), {
      minItems: 1,
      maxItems: 10,
      description: 'KeyStore.getCertificateChain(alias): the attested key\'s certificate first, the root last.',
    }),
  },
  { title: 'KeyAttestation' },
);
export type KeyAttestation = Static<typeof KeyAttestation>;

/** Proof, at enrollment, that the agent still holds the key of a previous enrollment (README §22). */
export const PreviousEnrollment = Obj(
  {
    deviceId: Uuid('deviceId of the previous enrollment.'),
    certificate: Pem('The previous PEM device certificate (it may be expired or revoked).'),
    signature: Base64('Signature with the PREVIOUS device key over "cartable-agent-reenroll:v1:" + deviceId + ":" + csr.'),
  },
  { title: 'PreviousEnrollment' },
);
export type PreviousEnrollment = Static<typeof PreviousEnrollment>;

/**
 * The Keystore attestation challenge for an enrollment: SHA-256 of the UTF-8 bytes of
 * `"cartable-agent-attest:v1:" + token` (32 bytes, passed to `setAttestationChallenge`).
 */
export function attestationChallenge(token: string): Buffer {
  return createHash('sha256').update(`${ATTESTATION_CHALLENGE_PREFIX}${token}`, 'utf8').digest();
}
