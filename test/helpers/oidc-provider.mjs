/**
 * A real OpenID Connect provider (oidc-provider, in development mode) for the browser tests:
 *
 *   node test/helpers/oidc-provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
 *
 * Its login page accepts any password, and the login typed becomes the account's e-mail
 * address (verified), so a test signs in "as" whichever address it needs. Prints one JSON line
 * {"event":"listening"} when it answers. ES module: oidc-provider ships as ES modules only.
 */
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, email: id, email_verified: true }; } };
  },
  cookies: { keys: ['test-provider-cookie-key'] },
  pkce: { required: () => true },
});

provider.listen(Number(port), '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ event: 'listening', issuer })}\n`));
process.on('SIGTERM', () => process.exit(0));
