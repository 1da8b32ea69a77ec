import plist from 'plist';
import { signCms, type CmsSigner } from '../../../infra/pki';
import { warningList } from '../../../modules/profiles/compile-warnings';
import { stableUuid } from '../../../modules/profiles/profile-ids';
import type { Compiled, NeutralProfile } from '../../../modules/profiles/profile.schemas';
import {
  appLockPayload,
  certificatePayloads,
  globalProxyPayload,
  lockScreenPayload,
  passcodePayload,
  restrictionsPayload,
  webFilterPayload,
  wifiPayloads,
  type PlistDict,
} from './apple-payloads';

export interface MobileconfigOptions {
  /** Reverse-DNS prefix of every PayloadIdentifier. */
  identifierPrefix?: string;
}

export interface Mobileconfig {
  /** The top-level PayloadIdentifier: what `RemoveProfile` names. */
  identifier: string;
  /** The unsigned XML property list. */
  xml: string;
}

export const DEFAULT_IDENTIFIER_PREFIX = 'fr.cartable.profile';

/**
 * The neutral profile as an Apple configuration profile. Pure: the same profile version gives
 * the same bytes, identifiers and UUIDs (derived, never random), whatever the day.
 */
export function compileMobileconfig(profile: NeutralProfile, options: MobileconfigOptions = {}): Compiled<Mobileconfig> {
  const { warnings, warn } = warningList();
  const identifier = `${options.identifierPrefix ?? DEFAULT_IDENTIFIER_PREFIX}.${profile.id}`;
  const certificateUuid = (id: string) => stableUuid(profile, `certificate.${id}`);

  const drafts = [
    ...certificatePayloads(profile.certificates),
    ...wifiPayloads(profile.wifi, certificateUuid, warn),
    ...globalProxyPayload(profile.proxy, warn),
    ...webFilterPayload(profile.webFilter, warn),
    ...restrictionsPayload(profile.restrictions, warn),
    ...appLockPayload(profile.kiosk, warn),
    ...lockScreenPayload(profile, warn),
    ...passcodePayload(profile.passcode),
  ];
  const content = drafts.map(
    (draft): PlistDict => ({
      PayloadType: draft.type,
      PayloadVersion: 1,
      PayloadIdentifier: `${identifier}.${draft.key}`,
      PayloadUUID: stableUuid(profile, draft.key),
      PayloadDisplayName: draft.displayName,
      ...draft.content,
    }),
  );

  const top: PlistDict = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: stableUuid(profile, 'configuration'),
    PayloadDisplayName: profile.name,
  };
  if (profile.description) top.PayloadDescription = profile.description;
  if (profile.organisation) top.PayloadOrganization = profile.organisation;
  if (profile.restrictions?.removeManagement === false) top.PayloadRemovalDisallowed = true;
  top.PayloadContent = content;

  return { output: { identifier, xml: plist.build(top as plist.PlistObject) }, warnings };
}

/** The profile as a tablet installs it: CMS SignedData with the XML attached, signed by `signer`. */
export function signMobileconfig(xml: string, signer: CmsSigner, signingTime?: Date): Buffer {
  return signCms(Buffer.from(xml, 'utf8'), signer, signingTime);
}
