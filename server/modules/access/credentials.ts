import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt with N=2^15, r=8, p=1 needs 32 MiB per hash: memory-hard, built into Node, no native
 * addon to compile. It runs on libuv's thread pool, so a login never blocks the event loop.
 */
const SCRYPT = { log2N: 15, r: 8, p: 1, keyLength: 32, maxmem: 64 * 1024 * 1024 };

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Encodes the parameters with the hash so they can be raised later without invalidating old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.keyLength, { N: 2 ** SCRYPT.log2N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT.maxmem });
  return `scrypt$${SCRYPT.log2N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, log2N, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length, { N: 2 ** Number(log2N), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;
/** A hash of a throwaway password, verified when the account is unknown so both paths take as long. */
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

const TOKEN_RE = /^cart_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;

/** API tokens read `cart_<prefix>_<secret>`: the prefix identifies a token in lists and logs, the whole is stored hashed. */
export function newApiToken(): { token: string; prefix: string; hash: string } {
  const prefix = randomBytes(5).toString('hex').slice(0, 8);
  const token = `cart_${prefix}_${randomSecret(32)}`;
  return { token, prefix, hash: sha256(token) };
}

export function isApiTokenShape(token: string): boolean {
  return TOKEN_RE.test(token);
}

export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
