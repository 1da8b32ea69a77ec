import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { NonStandardKeyDescription, SecurityLevel, VerifiedBootState, id_ce_keyDescription, type AuthorizationList } from '@peculiar/asn1-android';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { attestationChallenge } from '../../../agent-protocol/src';

/**
 * SHA-256 of the public key of Google's hardware attestation root. Google re-issues the root
 * certificate with the same RSA-4096 key, so the key, not a certificate, is what is trusted.
 */
export const GOOGLE_ATTESTATION_ROOT_KEYS: readonly string[] = ['feb2ea7551ee316ed4bb443c8293b884dbfdea40b603ee3e4f4a897e4580fbae'];

export type AttestationFailure = 'malformed' | 'bad_chain' | 'unknown_root' | 'key_mismatch' | 'challenge_mismatch';

/** What an enrollment's key attestation showed (agent protocol §7.6): recorded with the device, never a reason to refuse it. */
export type AttestationRecord =
  | { result: 'absent' }
  | { result: 'failed'; reason: AttestationFailure }
  | {
      result: 'verified';
      attestationSecurityLevel: string;
      keymasterSecurityLevel: string;
      verifiedBootState: string | null;
      deviceLocked: boolean | null;
      osVersion: number | null;
      osPatchLevel: number | null;
      attestedSerial: string | null;
      serialMatches: boolean | null;
      /** Google's revocation list is not fetched: the server may have no way out to the Internet. */
      revocationChecked: false;
    };

const spkiSha256 = (cert: X509Certificate) => createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');

/** Public-key fingerprints of the roots trusted for attestation: Google's, plus those of an optional PEM file (a lab's own). */
export function attestationRoots(extraRootsFile?: string): ReadonlySet<string> {
  const roots = new Set(GOOGLE_ATTESTATION_ROOT_KEYS);
  if (extraRootsFile) {
    for (const pem of readFileSync(extraRootsFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) roots.add(spkiSha256(new X509Certificate(pem)));
  }
  return roots;
}

/** Either list of authorizations may carry a field, depending on where the device enforces it. */
function property<K extends keyof AuthorizationList>(description: NonStandardKeyDescription, key: K): AuthorizationList[K] | undefined {
  return description.teeEnforced.findProperty(key) ?? description.softwareEnforced.findProperty(key);
}

const levelName = (level: SecurityLevel) => ({ [SecurityLevel.software]: 'Software', [SecurityLevel.trustedEnvironment]: 'TrustedEnvironment', [SecurityLevel.strongBox]: 'StrongBox' })[level] ?? 'unknown';
const bootStateName = (state: VerifiedBootState) =>
  ({ [VerifiedBootState.verified]: 'Verified', [VerifiedBootState.selfSigned]: 'SelfSigned', [VerifiedBootState.unverified]: 'Unverified', [VerifiedBootState.failed]: 'Failed' })[state] ?? 'unknown';

function keyDescriptionOf(der: Buffer): NonStandardKeyDescription | undefined {
  const extension = AsnConvert.parse(der, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === id_ce_keyDescription);
  return extension ? AsnConvert.parse(extension.extnValue.buffer, NonStandardKeyDescription) : undefined;
}

export interface AttestationInput {
  /** `attestation.certificateChain`: DER in base64, the key's certificate first. */
  chain: string[] | undefined;
  csrPublicKeyDer: Buffer;
  token: string;
  serial: string;
  trustedRoots: ReadonlySet<string>;
}

/** Checks the chain, its root, the key and the challenge, then reads what the device's secure hardware attests. */
export function verifyKeyAttestation(input: AttestationInput): AttestationRecord {
  if (!input.chain) return { result: 'absent' };
  const fail = (reason: AttestationFailure): AttestationRecord => ({ result: 'failed', reason });
  let certs: X509Certificate[];
  let description: NonStandardKeyDescription | undefined;
  try {
    certs = input.chain.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
    description = keyDescriptionOf(certs[0]!.raw);
  } catch {
    return fail('malformed');
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.verify(certs[i + 1]!.publicKey)) return fail('bad_chain');
  }
  if (!input.trustedRoots.has(spkiSha256(certs.at(-1)!))) return fail('unknown_root');
  if (!certs[0]!.publicKey.export({ type: 'spki', format: 'der' }).equals(input.csrPublicKeyDer)) return fail('key_mismatch');
  if (!description) return fail('malformed');
  if (!Buffer.from(description.attestationChallenge.buffer).equals(attestationChallenge(input.token))) return fail('challenge_mismatch');
  const rootOfTrust = property(description, 'rootOfTrust');
  const serialBytes = property(description, 'attestationIdSerial');
  const attestedSerial = serialBytes ? Buffer.from(serialBytes.buffer).toString('utf8') : null;
  return {
    result: 'verified',
    attestationSecurityLevel: levelName(description.attestationSecurityLevel),
    keymasterSecurityLevel: levelName(description.keymasterSecurityLevel),
    verifiedBootState: rootOfTrust ? bootStateName(rootOfTrust.verifiedBootState) : null,
    deviceLocked: rootOfTrust ? rootOfTrust.deviceLocked : null,
    osVersion: property(description, 'osVersion') ?? null,
    osPatchLevel: property(description, 'osPatchLevel') ?? null,
    attestedSerial,
    serialMatches: attestedSerial === null ? null : attestedSerial === input.serial,
    revocationChecked: false,
  };
}
