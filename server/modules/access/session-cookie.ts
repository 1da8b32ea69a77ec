import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'cartable_session';

/**
 * Only the session cookie is read or written, and its value is base64url, so a few lines do
 * what @fastify/cookie would; that plugin loads its parser through a dynamic ES import.
 */
export function readSessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      return /^[A-Za-z0-9_-]+$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

export function setSessionCookie(reply: FastifyReply, value: string, expiresAt: Date, secure: boolean): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; Expires=${expiresAt.toUTCString()}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
}
