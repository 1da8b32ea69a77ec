import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns';
import { devices } from './devices';
import { enrollmentTokens } from './enrollment';
import { organisations } from './organisation';

/**
 * A one-time PIN a technician reads out to enroll one Windows tablet: Windows asks for a user
 * name (the school's code) and a password (this PIN). The PIN stands for an enrollment token,
 * whose expiry, uses and revocation still decide; only its hash is kept.
 */
export const windowsEnrollmentPins = pgTable(
  'windows_enrollment_pins',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    tokenId: uuid('token_id').notNull().references(() => enrollmentTokens.id, { onDelete: 'cascade' }),
    /** What Windows must send as its user name: the code of the token's school. */
    userName: text('user_name').notNull(),
    pinHash: text('pin_hash').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    /** Set when an enrollment took the PIN: it never serves twice. */
    usedAt: tstz('used_at'),
    deviceId: uuid('device_id').references(() => devices.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('windows_enrollment_pins_hash_uq').on(t.pinHash),
    index('windows_enrollment_pins_token_idx').on(t.tokenId),
    index('windows_enrollment_pins_organisation_idx').on(t.organisationId),
    index('windows_enrollment_pins_device_idx').on(t.deviceId).where(sql`device_id is not null`),
  ],
);

/** The OMA-DM half of a Windows tablet: how its sessions are recognised and authenticated. */
export const windowsDevices = pgTable(
  'windows_devices',
  {
    deviceId: uuid('device_id')
      .primaryKey()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** The DeviceID Windows writes in every SyncHdr Source (and ./DevInfo/DevId). */
    windowsDeviceId: text('windows_device_id').notNull(),
    hwDevId: text('hw_dev_id'),
    enrollmentType: text('enrollment_type').notNull(),
    /** Upper-case hex SHA-1 of the identity certificate, as a TLS terminator forwards it. */
    certificateSha1: text('certificate_sha1').notNull(),
    certificateSha256: text('certificate_sha256').notNull(),
    /** The per-device MD5 digest account given in the provisioning document (APPSRV). */
    digestUser: text('digest_user').notNull(),
    /** b64(md5(user:secret)), encrypted with the server's key: all the digest check needs. */
    digestHashEncrypted: text('digest_hash_encrypted').notNull(),
    /**
     * What undoes each profile installed on the tablet, by profile id, recorded when the install
     * succeeded: a remove_profile command carries only the id.
     */
    installedProfiles: jsonb('installed_profiles').$type<Record<string, Array<{ verb: 'Delete'; locUri: string }>>>().notNull().default({}),
    lastSessionId: text('last_session_id'),
    lastSessionAt: tstz('last_session_at'),
    sessions: integer('sessions').notNull().default(0),
    unenrolledAt: tstz('unenrolled_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('windows_devices_device_id_uq').on(t.windowsDeviceId), uniqueIndex('windows_devices_cert_sha1_uq').on(t.certificateSha1)],
);

/** Every Status and Results a device sent about a command, raw, kept whatever was made of it. */
export const windowsCommandReplies = pgTable(
  'windows_command_replies',
  {
    id: id(),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** The Cartable command the CmdRef names; null for a reply to something no command sent. */
    commandId: uuid('command_id'),
    cmdRef: text('cmd_ref').notNull(),
    element: text('element').notNull(),
    verb: text('verb'),
    code: integer('code'),
    raw: text('raw').notNull(),
    sessionId: text('session_id').notNull(),
    msgId: text('msg_id').notNull(),
    receivedAt: createdAt(),
  },
  (t) => [index('windows_command_replies_command_idx').on(t.commandId), index('windows_command_replies_device_idx').on(t.deviceId)],
);
