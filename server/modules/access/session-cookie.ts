import type { FastifyReply } from 'fastify';

export const SESSION_COOKIE = 'cartable_session';

/** The session cookie: opaque, HttpOnly, sent only to this site; the session itself is a PostgreSQL row. */
export function setSessionCookie(reply: FastifyReply, value: string, expiresAt: Date): void {
  reply.setCookie(SESSION_COOKIE, value, { path: '/', expires: expiresAt, httpOnly: true, sameSite: 'strict', secure: reply.server.secureCookies });
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: reply.server.secureCookies });
}
