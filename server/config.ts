import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const ROLES = ['api', 'gateway', 'worker'] as const;
export type Role = (typeof ROLES)[number];

const ConfigSchema = Type.Object({
  HOST: Type.String({ minLength: 1 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** Where the operations endpoints (/metrics, /api/docs) listen: loopback by default, never the public port. */
  OPS_HOST: Type.String({ minLength: 1 }),
  OPS_PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  /** Prefix for every Redis key and BullMQ queue, so several deployments (or test files) can share one Redis. */
  REDIS_PREFIX: Type.String({ pattern: '^[a-zA-Z0-9_:.-]+$' }),
  CARTABLE_PUBLIC_URL: Type.String({ pattern: '^https?://' }),
  CARTABLE_ROLES: Type.String({ pattern: '^(api|gateway|worker)(,(api|gateway|worker))*$' }),
  CARTABLE_SECRETS_DIR: Type.String({ minLength: 1 }),
  CARTABLE_SECRET_KEY: Type.Optional(Type.String({ minLength: 32 })),
  /** Where the app catalog's binaries are kept, each under its SHA-256. */
  APP_STORAGE_DIR: Type.String({ minLength: 1 }),
  /** The largest package (APK, MSI, MSIX) an upload may carry. */
  APP_MAX_UPLOAD_BYTES: Type.Integer({ minimum: 1024 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024 }),
  MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100 }),
  AGENT_HEARTBEAT_SEC: Type.Integer({ minimum: 5, maximum: 3600 }),
  COMMAND_ACK_TIMEOUT_SEC: Type.Integer({ minimum: 1 }),
  /** Lowest agent versionCode given ordinary commands; older agents are shown outdated (agent protocol §24). Unset: no minimum. */
  AGENT_MIN_VERSION_CODE: Type.Optional(Type.Integer({ minimum: 0 })),
  /** A PEM file of key attestation roots trusted besides Google's (a lab's own devices). */
  AGENT_ATTESTATION_ROOTS_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** Push wake-ups through Firebase Cloud Messaging (agent protocol §23): the Firebase project id, and the service account key file. Unset: no push. */
  FCM_PROJECT_ID: Type.Optional(Type.String({ minLength: 1 })),
  FCM_SERVICE_ACCOUNT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** FCM's API base URL (a stand-in in tests). */
  FCM_API_URL: Type.String({ pattern: '^https?://' }),
  /** Google's Android Management API and Pub/Sub roots (a local fake in tests and the demo); the path must be `/`. */
  AMAPI_ROOT_URL: Type.String({ pattern: '^https?://[^/]+/$' }),
  AMAPI_PUBSUB_ROOT_URL: Type.String({ pattern: '^https?://[^/]+/$' }),
  /** APNs for iPad MDM pushes: Apple's address in production, a local HTTP/2 server in tests. */
  APPLE_APNS_URL: Type.String({ pattern: '^https://' }),
  /** A PEM file of CA certificates to trust for APNs besides the system's (a test server). */
  APPLE_APNS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  /** The header in which the TLS-terminating proxy forwards an iPad's client certificate (RFC 9440 or URL-escaped PEM); unset: Mdm-Signature only. */
  APPLE_MDM_CERT_HEADER: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]+$' })),
  /** Largest Apple MDM request body (an InstalledApplicationList answer can be large). */
  APPLE_MDM_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024 }),
  /** The header in which the TLS terminator forwards a Windows tablet's client-certificate SHA-1 thumbprint (hex); unset: MD5 digest only. */
  WINDOWS_MDM_CERT_THUMBPRINT_HEADER: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]+$' })),
  /** An OMA-DM session's state (and a digest nonce) is forgotten after this long without a message. */
  WINDOWS_MDM_SESSION_TTL_SEC: Type.Integer({ minimum: 30, maximum: 3600 }),
  /** At most this many queued commands go in one OMA-DM message. */
  WINDOWS_MDM_COMMANDS_PER_MESSAGE: Type.Integer({ minimum: 1, maximum: 100 }),
  /** How often a Windows tablet polls once past its first hours (minutes; Windows also polls at each sign-in). */
  WINDOWS_MDM_POLL_INTERVAL_MIN: Type.Integer({ minimum: 60, maximum: 240 }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200 }),
  /** How long a request waits for a free PostgreSQL connection before it is answered 503 server_busy. */
  DB_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000 }),
  /**
   * Bulk actions up to this many devices are written to PostgreSQL before the call answers, so a
   * Redis flush cannot lose them; larger ones are written by background chunks.
   */
  BULK_INLINE_MAX_DEVICES: Type.Integer({ minimum: 1 }),
  /** Where the retention job writes the signed archives of purged audit events (keep a copy elsewhere). */
  AUDIT_ARCHIVE_DIR: Type.String({ minLength: 1 }),
  /** Rows one retention statement deletes at most: bounded locks, whatever the backlog. */
  RETENTION_CHUNK_ROWS: Type.Integer({ minimum: 10, maximum: 50_000 }),
  /** Audit events one archive-and-purge transaction removes at most (it picks an earlier checkpoint to stay under). */
  AUDIT_PURGE_MAX_EVENTS: Type.Integer({ minimum: 100, maximum: 1_000_000 }),
  /** Delay before a refused webhook delivery is tried again; it doubles at each of the 8 attempts. */
  WEBHOOK_FIRST_RETRY_MS: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
  /** Which reverse proxies may set X-Forwarded-For: `false`, `true` (any), or addresses/CIDRs, comma-separated. */
  TRUST_PROXY: Type.String({ minLength: 1 }),
  /** Enrollment attempts per minute and source address (0 disables the limit). */
  ENROLL_RATE_LIMIT_PER_MIN: Type.Integer({ minimum: 0 }),
  /** Sign-in attempts per 15 minutes and source address, REST API and console together (0 disables the limit). */
  SIGN_IN_RATE_LIMIT_PER_15MIN: Type.Integer({ minimum: 0 }),
  /** Sign-in through the authority's OpenID Connect provider: its issuer URL (unset: password sign-in only). */
  OIDC_ISSUER_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  OIDC_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  OIDC_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  /** The provider's name on the sign-in button, e.g. "Compte de l'agglomération". */
  OIDC_PROVIDER_NAME: Type.String({ minLength: 1, maxLength: 80 }),
  /** Allows a provider reached over plain HTTP: for a test or development provider only. */
  OIDC_ALLOW_HTTP: Type.Union([Type.Literal('true'), Type.Literal('false')]),
  /**
   * The APNs topic of the MDM push certificate, for an installation (or a test) without an
   * uploaded push certificate; an uploaded certificate's topic wins.
   */
  APPLE_MDM_TOPIC: Type.Optional(Type.String({ pattern: '^com\\.apple\\.mgmt\\.[A-Za-z0-9._:-]+$' })),
  /** How long the SCEP challenge of a served iPad enrollment profile stays usable. */
  APPLE_SCEP_CHALLENGE_TTL_SEC: Type.Integer({ minimum: 60, maximum: 7 * 24 * 3600 }),
  /** The largest SCEP PKIOperation accepted; a PKCSReq is a few kilobytes. */
  APPLE_SCEP_MAX_BYTES: Type.Integer({ minimum: 4096, maximum: 1024 * 1024 }),
  /** The SMTP server geofence alerts are mailed through, e.g. `smtp://user:pass@mail.agglo.fr:587` (unset: no e-mail). */
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  /** The sender of those e-mails. */
  SMTP_FROM: Type.String({ minLength: 3 }),
  /** The map tiles of the console's location map, `{z}/{x}/{y}` in the URL; without tiles the map still shows markers and perimeters. */
  MAP_TILE_URL: Type.String({ pattern: '^https?://[^/]+/.*\\{z\\}.*\\{x\\}.*\\{y\\}' }),
  /** The tile server's attribution, shown on the map. */
  MAP_TILE_ATTRIBUTION: Type.String({ maxLength: 200 }),
});
export type RawConfig = Static<typeof ConfigSchema>;

export interface Config extends RawConfig {
  roles: ReadonlySet<Role>;
}

const DEFAULTS: Record<string, string> = {
  HOST: '127.0.0.1',
  PORT: '3000',
  OPS_HOST: '127.0.0.1',
  OPS_PORT: '9464',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/cartable',
  REDIS_URL: 'redis://127.0.0.1:6379/0',
  REDIS_PREFIX: 'cartable',
  CARTABLE_PUBLIC_URL: 'http://localhost:3000',
  CARTABLE_ROLES: 'api,gateway,worker',
  CARTABLE_SECRETS_DIR: join(homedir(), '.config', 'cartable'),
  APP_STORAGE_DIR: join(homedir(), '.local', 'share', 'cartable', 'apps'),
  APP_MAX_UPLOAD_BYTES: String(500 * 1024 * 1024),
  LOG_LEVEL: 'info',
  BODY_LIMIT_BYTES: String(1024 * 1024),
  MAX_EVENT_LOOP_DELAY_MS: '1000',
  SHUTDOWN_TIMEOUT_MS: '8000',
  AGENT_HEARTBEAT_SEC: '60',
  COMMAND_ACK_TIMEOUT_SEC: '30',
  DB_POOL_SIZE: '10',
  DB_CONNECT_TIMEOUT_MS: '5000',
  ENROLL_RATE_LIMIT_PER_MIN: '300',
  SIGN_IN_RATE_LIMIT_PER_15MIN: '50',
  OIDC_PROVIDER_NAME: 'OpenID Connect',
  OIDC_ALLOW_HTTP: 'false',
  TRUST_PROXY: 'false',
  AUDIT_ARCHIVE_DIR: join(homedir(), '.local', 'share', 'cartable', 'audit-archives'),
  RETENTION_CHUNK_ROWS: '1000',
  AUDIT_PURGE_MAX_EVENTS: '50000',
  WEBHOOK_FIRST_RETRY_MS: '10000',
  BULK_INLINE_MAX_DEVICES: '20000',
  FCM_API_URL: 'https://fcm.googleapis.com',
  AMAPI_ROOT_URL: 'https://androidmanagement.googleapis.com/',
  AMAPI_PUBSUB_ROOT_URL: 'https://pubsub.googleapis.com/',
  APPLE_SCEP_CHALLENGE_TTL_SEC: '3600',
  APPLE_SCEP_MAX_BYTES: String(64 * 1024),
  APPLE_APNS_URL: 'https://api.push.apple.com',
  APPLE_MDM_BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
  WINDOWS_MDM_SESSION_TTL_SEC: '300',
  WINDOWS_MDM_COMMANDS_PER_MESSAGE: '10',
  WINDOWS_MDM_POLL_INTERVAL_MIN: '120',
  SMTP_FROM: 'Cartable <cartable@localhost>',
  MAP_TILE_URL: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
  MAP_TILE_ATTRIBUTION: '© OpenStreetMap contributors',
};

export class ConfigError extends Error {}

const INTEGER_KEYS = new Set(
  Object.entries(ConfigSchema.properties)
    .filter(([, s]) => (s as { type?: string }).type === 'integer')
    .map(([k]) => k),
);

/** Reads and validates configuration; the first invalid variable is named in one line. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key] === undefined || env[key] === '' ? DEFAULTS[key] : env[key];
    if (value === undefined) continue;
    raw[key] = INTEGER_KEYS.has(key) && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  const error = Value.Errors(ConfigSchema, raw).First();
  if (error) {
    const key = error.path.replace(/^\//, '') || 'configuration';
    throw new ConfigError(`invalid configuration: ${key} ${error.message.toLowerCase()}${key in raw && !key.includes('SECRET') ? ` (got "${String(raw[key])}")` : ''}`);
  }
  const config = raw as RawConfig;
  if (config.OIDC_ISSUER_URL && (!config.OIDC_CLIENT_ID || !config.OIDC_CLIENT_SECRET)) {
    throw new ConfigError('invalid configuration: OIDC_ISSUER_URL is set, so OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too');
  }
  if (Boolean(config.FCM_PROJECT_ID) !== Boolean(config.FCM_SERVICE_ACCOUNT_FILE)) {
    throw new ConfigError('invalid configuration: FCM_PROJECT_ID and FCM_SERVICE_ACCOUNT_FILE go together (both set for push, neither without)');
  }
  if (config.OIDC_ISSUER_URL?.startsWith('http://') && config.OIDC_ALLOW_HTTP !== 'true') {
    throw new ConfigError('invalid configuration: OIDC_ISSUER_URL must use https:// (OIDC_ALLOW_HTTP=true allows http:// for a test provider)');
  }
  return { ...config, roles: new Set(config.CARTABLE_ROLES.split(',') as Role[]) };
}
