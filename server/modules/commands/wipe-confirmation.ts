import { createHmac, timingSafeEqual } from 'node:crypto';

const VALIDITY_MS = 5 * 60 * 1000;

/**
 * Signed, short-lived tokens that confirm a destructive action: the first call without
 * confirmation returns one, the second call repeats the request with it. Bound to the user and
 * the exact target, so a token cannot confirm a different wipe.
 */
export function createConfirmations(secret: string) {
  const sign = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');
  return {
    validitySec: VALIDITY_MS / 1000,
    issue(userId: string, target: string, now = Date.now()): string {
      const expires = (now + VALIDITY_MS).toString(36);
      return `${expires}.${sign(`${userId}\n${target}\n${expires}`)}`;
    },
    verify(token: string, userId: string, target: string, now = Date.now()): boolean {
      const [expires, mac] = token.split('.');
      if (!expires || !mac || parseInt(expires, 36) < now) return false;
      const expected = Buffer.from(sign(`${userId}\n${target}\n${expires}`));
      const given = Buffer.from(mac);
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
export type Confirmations = ReturnType<typeof createConfirmations>;
