import { sql } from 'drizzle-orm';
import { index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz } from './columns';
import { enrollmentTokens } from './enrollment';
import { groups, organisations, schools } from './organisation';

/**
 * One-time SCEP challenges, one per enrollment profile served: the profile carries the clear
 * challenge, the database only its SHA-256. The token it was made from gives the school.
 */
export const appleScepChallenges = pgTable(
  'apple_scep_challenges',
  {
    id: id(),
    organisationId: uuid('organisation_id')
      .notNull()
      .references(() => organisations.id),
    tokenId: uuid('token_id')
      .notNull()
      .references(() => enrollmentTokens.id, { onDelete: 'cascade' }),
    challengeHash: text('challenge_hash').notNull().unique(),
    expiresAt: tstz('expires_at').notNull(),
    usedAt: tstz('used_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('apple_scep_challenges_token_idx').on(t.tokenId),
    index('apple_scep_challenges_organisation_idx').on(t.organisationId),
    index('apple_scep_challenges_expires_idx').on(t.expiresAt),
  ],
);

/**
 * Identity certificates issued over SCEP to iPads that have not checked in yet. The certificate
 * names a device id reserved here (its CN); the first check-in signed with it creates the device
 * in the token's school and sets `claimed_at`.
 */
export const appleScepEnrollments = pgTable(
  'apple_scep_enrollments',
  {
    id: id(),
    organisationId: uuid('organisation_id')
      .notNull()
      .references(() => organisations.id),
    schoolId: uuid('school_id')
      .notNull()
      .references(() => schools.id),
    groupId: uuid('group_id').references(() => groups.id, { onDelete: 'set null' }),
    tokenId: uuid('token_id').references(() => enrollmentTokens.id, { onDelete: 'set null' }),
    challengeId: uuid('challenge_id').references(() => appleScepChallenges.id, { onDelete: 'set null' }),
    /** The CN of the issued certificate: the id the device row will get. */
    deviceId: uuid('device_id').notNull().unique(),
    serialHex: text('serial_hex').notNull().unique(),
    fingerprintSha256: text('fingerprint_sha256').notNull().unique(),
    /** SHA-256 of the certified key: a PKCSReq re-sent after a lost answer gets the same certificate. */
    spkiSha256: text('spki_sha256').notNull(),
    certPem: text('cert_pem').notNull(),
    notBefore: tstz('not_before').notNull(),
    notAfter: tstz('not_after').notNull(),
    claimedAt: tstz('claimed_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('apple_scep_enrollments_school_idx').on(t.schoolId),
    index('apple_scep_enrollments_organisation_idx').on(t.organisationId),
    index('apple_scep_enrollments_token_idx').on(t.tokenId).where(sql`token_id is not null`),
    index('apple_scep_enrollments_challenge_idx').on(t.challengeId).where(sql`challenge_id is not null`),
    index('apple_scep_enrollments_group_idx').on(t.groupId).where(sql`group_id is not null`),
  ],
);
