import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { ConflictError, ForbiddenError, NotFoundError } from '../../domain/errors';
import type { Db, DbOrTx } from '../../infra/db/client';
import type { KeyType } from '../../infra/pki';
import type { Actor } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { PkiStore } from '../pki-store/pki-store.service';
import * as repo from './apple-enrollment.repository';
import type { PushTopicLookup } from './push-topic';

/**
 * iPad enrollment, protocol aside. An enrollment link names a token by its id and a MAC of it
 * under the server's secret, never by the token itself: it enrolls iPads of the token's school
 * while the token is active and nothing else (no Android agent can enroll with it, and it does
 * not reveal the token). Each profile served from it carries its own one-time challenge,
 * stored hashed; a challenge buys one identity certificate, for a device id reserved then, and
 * takes one use of the token. The device row is made at the first check-in with that identity.
 */

export interface AppleEnrollmentDeps {
  db: Db;
  pki: PkiStore;
  /** Keys the links' MACs; derived from the server's secret. */
  linkKey: Buffer;
  topic: PushTopicLookup;
  challengeTtlSec: number;
}

/** What an enrollment profile is built from. */
export interface ProfileGrant {
  tokenId: string;
  organisationId: string;
  organisationName: string;
  schoolName: string;
  topic: string;
  challenge: string;
}

/** The key of a certification request, already checked to be the requester's (the CSR verified). */
export interface IdentityRequest {
  publicKeyDer: Buffer;
  keyType: KeyType;
  challenge: string | undefined;
  /** What the device put in its subject's CN (the serial number, per the profile): a label only. */
  label: string | null;
  sourceIp: string | null;
  /** The protocol's id of the exchange, kept in the audit trail. */
  transactionId: string;
}

export type IdentityDecision =
  | { outcome: 'issued' | 'reissued'; certPem: string; deviceId: string }
  | { outcome: 'refused'; reason: string };

export const challengeHash = (challenge: string) => createHash('sha256').update(challenge, 'utf8').digest('hex');

const CHALLENGE_KEPT_AFTER_EXPIRY_MS = 24 * 3600 * 1000;

const LINK_PATTERN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{22})$/;

export function createAppleEnrollmentService(deps: AppleEnrollmentDeps) {
  const { db, pki } = deps;
  const macOf = (tokenId: string) => createHmac('sha256', deps.linkKey).update(`apple-enroll:${tokenId}`).digest().subarray(0, 16).toString('base64url');

  function tokenIdOf(link: string): string | null {
    const match = LINK_PATTERN.exec(link);
    if (!match) return null;
    const expected = Buffer.from(macOf(match[1]!));
    const given = Buffer.from(match[2]!);
    return expected.length === given.length && timingSafeEqual(expected, given) ? match[1]! : null;
  }

  return {
    /** The last segment of a token's enrollment link. */
    linkOf(tokenId: string): string {
      return `${tokenId}.${macOf(tokenId)}`;
    },

    /** Checks a link and makes the one-time challenge of the profile about to be served. */
    async grantProfile(link: string, sourceIp: string | null): Promise<ProfileGrant> {
      const tokenId = tokenIdOf(link);
      const token = tokenId ? await repo.findTokenById(db, tokenId) : undefined;
      if (!token) throw new NotFoundError('Enrollment link');
      if (token.revokedAt) throw new ForbiddenError('The enrollment token was revoked.', 'token_revoked');
      if (token.expiresAt.getTime() <= Date.now()) throw new ForbiddenError(`The enrollment token expired on ${token.expiresAt.toISOString()}.`, 'token_expired');
      if (token.maxUses !== null && token.uses >= token.maxUses) throw new ForbiddenError('The enrollment token reached its maximum number of uses.', 'token_exhausted');
      const topic = await deps.topic(token.organisationId);
      if (!topic) {
        throw new ConflictError(
          'iPads cannot enroll yet: the MDM push certificate (from Apple, topic com.apple.mgmt.…) is not configured. Upload it, or set APPLE_MDM_TOPIC.',
          'apns_not_configured',
        );
      }
      // Hex: a PKCS#10 challengePassword may travel as a PrintableString, which has no '_'.
      const challenge = randomBytes(20).toString('hex');
      const actor: Actor = { type: 'device', id: null, label: null, role: null, ip: sourceIp };
      await db.transaction(async (tx) => {
        await repo.insertChallenge(tx, { organisationId: token.organisationId, tokenId: token.id, challengeHash: challengeHash(challenge), expiresAt: new Date(Date.now() + deps.challengeTtlSec * 1000) });
        await recordAudit(tx, {
          organisationId: token.organisationId,
          actor,
          action: 'apple.enrollment_profile.serve',
          target: { type: 'enrollment_token', id: token.id },
          schoolId: token.schoolId,
          communeId: token.communeId,
          outcome: 'success',
        });
      });
      return { tokenId: token.id, organisationId: token.organisationId, organisationName: token.organisationName, schoolName: token.schoolName, topic, challenge };
    },

    /** Spends a challenge on an identity certificate; a request re-sent with the same key gets the same one. */
    async issueIdentity(request: IdentityRequest): Promise<IdentityDecision> {
      if (!request.challenge) return { outcome: 'refused', reason: 'no challengePassword in the request' };
      const spkiSha256 = createHash('sha256').update(request.publicKeyDer).digest('hex');
      const deviceId = randomUUID();
      // Signed before the transaction, so the challenge row stays locked for as little as possible.
      const issued = await pki.issueDeviceCertificate(request.publicKeyDer, deviceId, request.keyType);

      return db.transaction(async (tx): Promise<IdentityDecision> => {
        const found = await repo.lockChallenge(tx, challengeHash(request.challenge!));
        // Unknown: no organisation to write it to; the edge logs it.
        if (!found) return { outcome: 'refused', reason: 'unknown challenge' };
        const { challenge, token } = found;
        const actor: Actor = { type: 'device', id: deviceId, label: request.label, role: null, ip: request.sourceIp };
        const refuse = async (reason: string): Promise<IdentityDecision> => {
          await recordAudit(tx, {
            organisationId: token.organisationId,
            actor,
            action: 'apple.scep.refused',
            target: { type: 'enrollment_token', id: token.id },
            schoolId: token.schoolId,
            outcome: 'failure',
            details: { reason, transactionId: request.transactionId },
          });
          return { outcome: 'refused', reason };
        };

        if (challenge.usedAt) {
          const earlier = await repo.findEnrollmentByChallenge(tx, challenge.id);
          if (earlier && earlier.spkiSha256 === spkiSha256) return { outcome: 'reissued', certPem: earlier.certPem, deviceId: earlier.deviceId };
          return refuse('challenge already used');
        }
        if (challenge.expiresAt.getTime() <= Date.now()) return refuse('challenge expired');
        if (!(await repo.consumeTokenUse(tx, token.id))) return refuse('enrollment token no longer active');
        await repo.markChallengeUsed(tx, challenge.id);
        await repo.insertEnrollment(tx, {
          organisationId: token.organisationId,
          schoolId: token.schoolId,
          groupId: token.groupId,
          tokenId: token.id,
          challengeId: challenge.id,
          deviceId,
          serialHex: issued.serialHex,
          fingerprintSha256: issued.fingerprintSha256,
          spkiSha256,
          certPem: issued.certPem,
          notBefore: issued.notBefore,
          notAfter: issued.notAfter,
        });
        await recordAudit(tx, {
          organisationId: token.organisationId,
          actor,
          action: 'apple.scep.issue',
          target: { type: 'device', id: deviceId },
          schoolId: token.schoolId,
          outcome: 'success',
          details: { tokenId: token.id, serialHex: issued.serialHex, transactionId: request.transactionId },
        });
        return { outcome: 'issued', certPem: issued.certPem, deviceId };
      });
    },

    /**
     * Deletes challenges expired for a day or more: until then a late request is still told
     * (and the audit trail shows) that its challenge expired rather than that it is unknown.
     */
    purgeExpiredChallenges(now = new Date()): Promise<number> {
      return repo.deleteExpiredChallenges(db, new Date(now.getTime() - CHALLENGE_KEPT_AFTER_EXPIRY_MS));
    },

    /** For the check-in: the enrollment an identity certificate was issued for, by its SHA-256 fingerprint. */
    pendingEnrollment(fingerprintSha256: string): Promise<repo.AppleScepEnrollmentRow | undefined> {
      return repo.findEnrollmentByFingerprint(db, fingerprintSha256);
    },

    /** Taken by the device row the first Authenticate creates, in that transaction; false when already taken. */
    claim(tx: DbOrTx, id: string): Promise<boolean> {
      return repo.claimEnrollment(tx, id);
    },
  };
}
export type AppleEnrollmentService = ReturnType<typeof createAppleEnrollmentService>;
