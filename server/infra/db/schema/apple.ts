import { sql } from 'drizzle-orm';
import { boolean, index, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, oneOf, tstz, updatedAt } from './columns';
import { devices } from './devices';
import { organisations } from './organisation';

/**
 * Where an iPad stands in Apple's MDM check-in: `authenticated` after `Authenticate` (it may not
 * have installed the MDM payload yet, so it is not pushed to), `enrolled` after `TokenUpdate`,
 * `checked_out` when it said it removed the profile.
 */
export const APPLE_ENROLLMENT_STATES = ['authenticated', 'enrolled', 'checked_out'] as const;
export type AppleEnrollmentState = (typeof APPLE_ENROLLMENT_STATES)[number];

/** The Apple MDM half of an iPad: what APNs needs to wake it, and what the check-ins told. */
export const appleDevices = pgTable(
  'apple_devices',
  {
    deviceId: uuid('device_id')
      .primaryKey()
      .references(() => devices.id, { onDelete: 'cascade' }),
    udid: text('udid').notNull(),
    /** The push certificate's topic the device was enrolled with: it must match ours to be pushed. */
    topic: text('topic').notNull(),
    enrollmentState: text('enrollment_state', { enum: APPLE_ENROLLMENT_STATES }).notNull().default('authenticated'),
    /** The APNs device token, hex as APNs' path wants it. */
    tokenHex: text('token_hex'),
    pushMagic: text('push_magic'),
    /** The UnlockToken (ClearPasscode needs it), encrypted with the server's secret key. */
    unlockTokenEncrypted: text('unlock_token_encrypted'),
    supervised: boolean('supervised').notNull().default(false),
    awaitingConfiguration: boolean('awaiting_configuration').notNull().default(false),
    /** APNs said the token is no longer valid (410 / BadDeviceToken): not pushed to until a new TokenUpdate. */
    tokenInvalidAt: tstz('token_invalid_at'),
    lastPushAt: tstz('last_push_at'),
    authenticatedAt: tstz('authenticated_at').notNull().defaultNow(),
    tokenUpdatedAt: tstz('token_updated_at'),
    checkedOutAt: tstz('checked_out_at'),
    updatedAt: updatedAt(),
  },
  (t) => [index('apple_devices_udid_idx').on(t.udid), oneOf('apple_devices_enrollment_state_ck', t.enrollmentState, APPLE_ENROLLMENT_STATES)],
);

/**
 * The MDM push certificate of an organisation (one topic), with the key Cartable generated for
 * it, encrypted like the CA key. A renewal's new key waits in `pending_*` until Apple's signed
 * certificate for it is uploaded.
 */
export const applePushCertificates = pgTable(
  'apple_push_certificates',
  {
    organisationId: uuid('organisation_id')
      .primaryKey()
      .references(() => organisations.id),
    topic: text('topic'),
    certPem: text('cert_pem'),
    keyEncryptedPem: text('key_encrypted_pem'),
    notAfter: tstz('not_after'),
    pendingKeyEncryptedPem: text('pending_key_encrypted_pem'),
    pendingCsrPem: text('pending_csr_pem'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('apple_push_certificates_topic_idx').on(t.topic).where(sql`topic is not null`)],
);
