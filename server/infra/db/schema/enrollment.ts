import { sql } from 'drizzle-orm';
import { index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz } from './columns';

/** The platforms an enrollment token can be made for: the agent's only, so far. */
export const TOKEN_PLATFORMS = ['android'] as const;
import { users } from './access';
import { groups, organisations, schools } from './organisation';

export const enrollmentTokens = pgTable(
  'enrollment_tokens',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    schoolId: uuid('school_id').notNull().references(() => schools.id),
    groupId: uuid('group_id').references(() => groups.id, { onDelete: 'set null' }),
    platform: text('platform', { enum: TOKEN_PLATFORMS }).notNull().default('android'),
    label: text('label').notNull(),
    /** SHA-256 of the token: lookups never need the clear value. */
    tokenHash: text('token_hash').notNull().unique(),
    /** The token encrypted with the server's secret key, so its QR code can be printed again later. */
    tokenCiphertext: text('token_ciphertext').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    revokedAt: tstz('revoked_at'),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('enrollment_tokens_school_idx').on(t.schoolId),
    index('enrollment_tokens_organisation_idx').on(t.organisationId),
    index('enrollment_tokens_group_idx').on(t.groupId).where(sql`group_id is not null`),
    index('enrollment_tokens_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
    oneOf('enrollment_tokens_platform_ck', t.platform, TOKEN_PLATFORMS),
  ],
);

/** Certificate authorities of this installation; keys are stored encrypted with the server's secret key. */
export const certificateAuthorities = pgTable('certificate_authorities', {
  name: text('name').primaryKey(),
  certPem: text('cert_pem').notNull(),
  keyEncryptedPem: text('key_encrypted_pem').notNull(),
  createdAt: createdAt(),
});
