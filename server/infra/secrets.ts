import { createCipheriv, createDecipheriv, createHash, createSecretKey, hkdfSync, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The installation's master secret: from CARTABLE_SECRET_KEY, or a key file generated at first
 * start in CARTABLE_SECRETS_DIR (outside the repository, mode 0600). It encrypts the CA key and
 * stored enrollment tokens at rest, and keys the audit trail's MACs.
 */
export interface SecretBox {
  /** Passphrase for PKCS#8-encrypted private keys. */
  readonly passphrase: string;
  /** Key of the audit trail's HMAC chain; dedicated, so it is never the key that encrypts. */
  readonly auditKey: Buffer;
  /** Key of the signed download URLs of app binaries; dedicated like the audit key. */
  readonly downloadKey: Buffer;
  seal(plaintext: string): string;
  open(sealed: string): string;
  /** Where the key came from, for `doctor`: never the key itself. */
  readonly source: string;
}

export function secretKeyPath(dir: string): string {
  return join(dir, 'secret.key');
}

export function loadOrCreateSecret(envKey: string | undefined, dir: string, create = true): { material: string; source: string } {
  if (envKey) return { material: envKey, source: 'CARTABLE_SECRET_KEY' };
  const path = secretKeyPath(dir);
  try {
    return { material: readFileSync(path, 'utf8').trim(), source: path };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (!create) throw new Error(`no master secret: CARTABLE_SECRET_KEY is not set and there is no key file at ${path} (run this where the server's secret is)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written aside then linked into place, so a concurrent reader never sees a half-written key.
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  try {
    linkSync(temp, path);
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(temp);
  }
  return { material: readFileSync(path, 'utf8').trim(), source: path };
}

/** `create: false` for tools that must use the server's existing secret, never a fresh one. */
export function createSecretBox(envKey: string | undefined, dir: string, options: { create?: boolean } = {}): SecretBox {
  const { material, source } = loadOrCreateSecret(envKey, dir, options.create ?? true);
  // A KeyObject made once: a raw key given to a cipher is made into a new one each time, most of an opening's cost.
  const key = createSecretKey(createHash('sha256').update(`cartable:seal:${material}`).digest());
  return {
    passphrase: createHash('sha256').update(`cartable:keys:${material}`).digest('base64url'),
    auditKey: deriveAuditKey(material),
    downloadKey: Buffer.from(hkdfSync('sha256', material, 'cartable', 'cartable app download URL v1', 32)),
    source,
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** HKDF-SHA256 with its own label: knowing the audit key reveals nothing of the master secret or the other keys. */
function deriveAuditKey(material: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'cartable', 'cartable audit trail HMAC v1', 32));
}
