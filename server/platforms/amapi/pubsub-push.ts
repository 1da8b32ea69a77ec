import { OAuth2Client } from 'google-auth-library';
import type { PushTokenVerifier } from '../../modules/amapi/amapi.port';

const ISSUERS = ['accounts.google.com', 'https://accounts.google.com'];

/**
 * Checks the OpenID Connect token Pub/Sub signs for each push: Google's signature (its
 * published certificates, or `certs` given, offline), issuer, audience, lifetime.
 */
export function createPushTokenVerifier(options: { certs?: Record<string, string> } = {}): PushTokenVerifier {
  const client = new OAuth2Client();
  return async (token, audience) => {
    const ticket = options.certs
      ? await client.verifySignedJwtWithCertsAsync(token, options.certs, audience, ISSUERS)
      : await client.verifyIdToken({ idToken: token, audience });
    const payload = ticket.getPayload();
    if (!payload || !ISSUERS.includes(payload.iss)) throw new Error('not issued by Google');
    return { email: payload.email ?? '', emailVerified: payload.email_verified === true };
  };
}
