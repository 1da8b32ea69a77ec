import { randomUUID } from 'node:crypto';
import plist from 'plist';
import type { PlistDict } from '../profiles/apple-payloads';

/**
 * The iPad enrollment profile: a SCEP payload that gets the device its identity certificate,
 * and the MDM payload that enrolls it with that identity. Key spellings follow Apple's schema
 * (apple/device-management, com.apple.mdm.yaml and com.apple.security.scep.yaml): note
 * `Keysize`, `Key Type` and `Key Usage`.
 */

export interface EnrollmentProfileInput {
  organisationId: string;
  organisationName: string;
  schoolName: string;
  scepUrl: string;
  challenge: string;
  topic: string;
  serverUrl: string;
  checkInUrl: string;
}

/** All thirteen rights (1 to 4096): the profile may not be given more later, only less. */
export const ACCESS_RIGHTS_ALL = 8191;
/** digitalSignature (1) | keyEncipherment (4): signing check-ins and opening SCEP answers. */
const KEY_USAGE_SIGN_AND_ENCRYPT = 5;

export const ENROLLMENT_IDENTIFIER_PREFIX = 'fr.cartable.mdm';

/**
 * The unsigned XML. The top-level identifier is stable per organisation, so enrolling again
 * replaces the profile rather than adding a second; the payload UUIDs are fresh each time.
 */
export function buildEnrollmentProfile(input: EnrollmentProfileInput): string {
  const identifier = `${ENROLLMENT_IDENTIFIER_PREFIX}.${input.organisationId}`;
  const scepUuid = randomUUID().toUpperCase();

  const scep: PlistDict = {
    PayloadType: 'com.apple.security.scep',
    PayloadVersion: 1,
    PayloadIdentifier: `${identifier}.scep`,
    PayloadUUID: scepUuid,
    PayloadDisplayName: 'Identité de gestion (SCEP)',
    PayloadContent: {
      URL: input.scepUrl,
      Name: 'Device Management Identity Certificate',
      // An array of RDNs, each an array of [type, value] pairs: iOS rejects a flatter nesting.
      Subject: [[['O', input.organisationName]], [['CN', '%SerialNumber%']]],
      Challenge: input.challenge,
      Keysize: 2048,
      'Key Type': 'RSA',
      'Key Usage': KEY_USAGE_SIGN_AND_ENCRYPT,
      Retries: 3,
      RetryDelay: 10,
    },
  };

  const mdm: PlistDict = {
    PayloadType: 'com.apple.mdm',
    PayloadVersion: 1,
    PayloadIdentifier: `${identifier}.mdm`,
    PayloadUUID: randomUUID().toUpperCase(),
    PayloadDisplayName: 'Gestion des appareils',
    IdentityCertificateUUID: scepUuid,
    Topic: input.topic,
    ServerURL: input.serverUrl,
    CheckInURL: input.checkInUrl,
    SignMessage: true,
    CheckOutWhenRemoved: true,
    AccessRights: ACCESS_RIGHTS_ALL,
    ServerCapabilities: ['com.apple.mdm.per-user-connections', 'com.apple.mdm.bootstraptoken'],
  };

  const top: PlistDict = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: randomUUID().toUpperCase(),
    PayloadDisplayName: `Cartable — ${input.schoolName}`,
    PayloadDescription: `Inscrit cet iPad dans la gestion des tablettes de ${input.organisationName} (${input.schoolName}).`,
    PayloadOrganization: input.organisationName,
    PayloadContent: [scep, mdm],
  };
  return plist.build(top as plist.PlistObject);
}
