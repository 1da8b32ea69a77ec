import type { CmsSigner } from '../../../infra/pki';
import type { AppleEnrollmentService } from '../../../modules/apple-enrollment/apple-enrollment.service';
import type { PkiStore } from '../../../modules/pki-store/pki-store.service';
import { signMobileconfig } from '../profiles/mobileconfig.compiler';
import { APPLE_PATHS, appleUrl } from './apple-urls';
import { buildEnrollmentProfile } from './enrollment-profile';

/** Serves signed iPad enrollment profiles from enrollment links. */

const SIGNER_TTL_MS = 24 * 3600 * 1000;

export interface ProfileServerDeps {
  enrollment: AppleEnrollmentService;
  pki: PkiStore;
  publicUrl: string;
}

export function createProfileServer(deps: ProfileServerDeps) {
  const { enrollment, pki, publicUrl } = deps;
  let signer: { at: number; value: Promise<CmsSigner> } | undefined;

  /**
   * One signing identity a day per process: a fresh RSA key per profile would cost more than the
   * rest of the request, and a day-old one keeps far from its end of validity.
   */
  function profileSigner(): Promise<CmsSigner> {
    if (!signer || Date.now() - signer.at > SIGNER_TTL_MS) {
      const value = pki.issueProfileSigner();
      signer = { at: Date.now(), value };
      value.catch(() => {
        if (signer?.value === value) signer = undefined;
      });
    }
    return signer.value;
  }

  return {
    /** The iPad enrollment link of a token: opened in Safari on the iPad, typed or from its QR code. */
    enrollmentUrl(tokenId: string): string {
      return appleUrl(publicUrl, `${APPLE_PATHS.enroll}/${enrollment.linkOf(tokenId)}`);
    },

    /** The signed .mobileconfig (CMS SignedData, XML attached) for one link. */
    async profile(link: string, sourceIp: string | null): Promise<Buffer> {
      const grant = await enrollment.grantProfile(link, sourceIp);
      const xml = buildEnrollmentProfile({
        organisationId: grant.organisationId,
        organisationName: grant.organisationName,
        schoolName: grant.schoolName,
        scepUrl: appleUrl(publicUrl, APPLE_PATHS.scep),
        challenge: grant.challenge,
        topic: grant.topic,
        serverUrl: appleUrl(publicUrl, APPLE_PATHS.mdm),
        checkInUrl: appleUrl(publicUrl, APPLE_PATHS.checkin),
      });
      return signMobileconfig(xml, await profileSigner());
    },
  };
}
export type ProfileServer = ReturnType<typeof createProfileServer>;
