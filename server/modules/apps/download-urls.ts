import { createHmac, timingSafeEqual } from 'node:crypto';
import { ForbiddenError } from '../../domain/errors';

/** Where devices fetch binaries, under the REST API's prefix. */
export const DOWNLOAD_PATH = '/api/v1/app-files';

/**
 * Time-limited download URLs for devices. The HMAC binds the file's SHA-256 and the expiry, under
 * a key derived from the server's master secret: a URL opens one file, until one instant, and
 * editing either part of it breaks the signature.
 */
export function createDownloadUrls(key: Buffer, publicUrl: string) {
  const mac = (sha256: string, expires: number) => createHmac('sha256', key).update(`cartable app file\n${sha256}\n${expires}`).digest();

  return {
    url(sha256: string, expiresAt: Date): string {
      const expires = Math.ceil(expiresAt.getTime() / 1000);
      return `${publicUrl.replace(/\/+$/, '')}${DOWNLOAD_PATH}/${sha256}?expires=${expires}&sig=${mac(sha256, expires).toString('base64url')}`;
    },

    /** Throws unless the URL was signed by this server for this file and is still valid. */
    check(sha256: string, expires: number, sig: string, now = new Date()): void {
      const given = Buffer.from(sig, 'base64url');
      const expected = mac(sha256, expires);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new ForbiddenError('This download link is not valid for this file', 'download_signature_invalid');
      if (expires * 1000 <= now.getTime()) throw new ForbiddenError('This download link has expired: the command that carried it has too', 'download_expired');
    },
  };
}
export type DownloadUrls = ReturnType<typeof createDownloadUrls>;
