import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AuthorizationList, KeyDescription, RootOfTrust, SecurityLevel, VerifiedBootState, id_ce_keyDescription } from '@peculiar/asn1-android';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { octets, oid, randomSerial, seq, toPem } from '../../server/infra/pki/der';
import { encodeName } from '../../server/infra/pki/name';
import { buildCertificate, extensions, keyIdentifier } from '../../server/infra/pki/x509';

/**
 * A Keystore attestation chain as an Android tablet would send it, under a root of our own:
 * root CA, intermediate CA, then the attested key's certificate carrying a KeyDescription.
 */
export interface TestAttestationRoot {
  key: KeyObject;
  spki: Buffer;
  der: Buffer;
  pem: string;
  name: ReturnType<typeof encodeName>;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
const spkiOf = (key: KeyObject) => createPublicKey(key).export({ type: 'spki', format: 'der' });

function certificate(input: { subject: string; issuer: ReturnType<typeof encodeName>; spki: Buffer; signingKey: KeyObject; ca: boolean; extra?: ReturnType<typeof seq>[] }) {
  const now = Date.now();
  return buildCertificate({
    serial: randomSerial(),
    issuer: input.issuer,
    subject: encodeName([['CN', input.subject]]),
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 10 * YEAR_MS),
    spkiDer: input.spki,
    extensions: [extensions.basicConstraints(input.ca), extensions.subjectKeyIdentifier(keyIdentifier(input.spki)), ...(input.extra ?? [])],
    signingKey: input.signingKey,
  });
}

export function attestationRoot(): TestAttestationRoot {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = spkiOf(privateKey);
  const name = encodeName([['CN', 'Test Attestation Root']]);
  const der = certificate({ subject: 'Test Attestation Root', issuer: name, spki, signingKey: privateKey, ca: true });
  return { key: privateKey, spki, der, pem: toPem('CERTIFICATE', der), name };
}

export interface AttestedKey {
  /** The attested key's SubjectPublicKeyInfo. */
  spki: Buffer;
  challenge: Buffer;
  serial?: string;
  level?: SecurityLevel;
}

/** `attestation.certificateChain`: base64 DER, the attested key's certificate first, the root last. */
export function attestationChain(root: TestAttestationRoot, attested: AttestedKey): string[] {
  const intermediate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const intermediateDer = certificate({ subject: 'Test Keystore Intermediate', issuer: root.name, spki: spkiOf(intermediate), signingKey: root.key, ca: true });
  const level = attested.level ?? SecurityLevel.trustedEnvironment;
  const description = new KeyDescription({
    attestationVersion: 200,
    attestationSecurityLevel: level,
    keymasterVersion: 200,
    keymasterSecurityLevel: level,
    attestationChallenge: new OctetString(attested.challenge),
    uniqueId: new OctetString(0),
    softwareEnforced: new AuthorizationList({ creationDateTime: Date.now() }),
    teeEnforced: new AuthorizationList({
      rootOfTrust: new RootOfTrust({ verifiedBootKey: new OctetString(32), deviceLocked: true, verifiedBootState: VerifiedBootState.verified, verifiedBootHash: new OctetString(32) }),
      osVersion: 140000,
      osPatchLevel: 202610,
      ...(attested.serial ? { attestationIdSerial: new OctetString(Buffer.from(attested.serial, 'utf8')) } : {}),
    }),
  });
  const keyDescription = seq([oid(id_ce_keyDescription), octets(Buffer.from(AsnConvert.serialize(description)))]);
  const leafDer = certificate({ subject: 'Android Keystore Key', issuer: encodeName([['CN', 'Test Keystore Intermediate']]), spki: attested.spki, signingKey: intermediate, ca: false, extra: [keyDescription] });
  return [leafDer, intermediateDer, root.der].map((der) => der.toString('base64'));
}
