import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PushMessage, PushOutcome, PushSender } from './push-sender';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const REQUEST_TIMEOUT_MS = 10_000;
/** Access tokens are renewed this long before they expire. */
const TOKEN_MARGIN_MS = 60_000;

export interface FcmConfig {
  projectId: string;
  /** The Google service account's JSON key file: `client_email`, `private_key`, `token_uri`. */
  serviceAccountFile: string;
  /** https://fcm.googleapis.com, or a stand-in in tests. */
  apiUrl: string;
}

interface ServiceAccount {
  clientEmail: string;
  key: KeyObject;
  tokenUri: string;
}

function readServiceAccount(file: string): ServiceAccount {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { client_email?: unknown; private_key?: unknown; token_uri?: unknown };
  if (typeof json.client_email !== 'string' || typeof json.private_key !== 'string' || typeof json.token_uri !== 'string') {
    throw new Error(`${file} is not a service account key (client_email, private_key and token_uri are required)`);
  }
  return { clientEmail: json.client_email, key: createPrivateKey(json.private_key), tokenUri: json.token_uri };
}

const b64url = (value: object | Buffer) => (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** FCM's error detail, e.g. `UNREGISTERED`, when there is one. */
function fcmErrorCode(body: unknown): string | undefined {
  const details = (body as { error?: { details?: { errorCode?: unknown }[] } } | null)?.error?.details;
  return details?.map((d) => d.errorCode).find((c): c is string => typeof c === 'string');
}

/**
 * Sends through Firebase Cloud Messaging's HTTP v1 API, authenticated as a service account
 * (OAuth 2.0 JWT bearer grant, RFC 7523). The access token is cached until shortly before it
 * expires.
 */
export class FcmSender implements PushSender {
  readonly provider = 'fcm';
  readonly projectId: string;
  private readonly account: ServiceAccount;
  private access: { token: string; expiresAt: number } | undefined;

  constructor(private readonly config: FcmConfig) {
    this.projectId = config.projectId;
    this.account = readServiceAccount(config.serviceAccountFile);
  }

  private async accessToken(): Promise<string> {
    if (this.access && this.access.expiresAt - TOKEN_MARGIN_MS > Date.now()) return this.access.token;
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64url({ alg: 'RS256', typ: 'JWT' })}.${b64url({ iss: this.account.clientEmail, scope: SCOPE, aud: this.account.tokenUri, iat: now, exp: now + 3600 })}`;
    const assertion = `${unsigned}.${b64url(sign('sha256', Buffer.from(unsigned), this.account.key))}`;
    const res = await fetch(this.account.tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
    if (!res.ok || typeof body.access_token !== 'string') throw new Error(`the OAuth token endpoint answered ${res.status}`);
    this.access = { token: body.access_token, expiresAt: Date.now() + (typeof body.expires_in === 'number' ? body.expires_in : 3600) * 1000 };
    return this.access.token;
  }

  async send(message: PushMessage): Promise<PushOutcome> {
    let res: Response;
    try {
      res = await fetch(`${this.config.apiUrl.replace(/\/+$/, '')}/v1/projects/${encodeURIComponent(this.projectId)}/messages:send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.accessToken()}` },
        body: JSON.stringify({
          message: {
            token: message.token,
            data: message.data,
            android: { priority: message.priority, ttl: `${message.ttlSec}s`, ...(message.collapseKey ? { collapse_key: message.collapseKey } : {}) },
          },
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch {
      return { ok: false, reason: 'retry' };
    }
    if (res.ok) return { ok: true };
    const code = fcmErrorCode(await res.json().catch(() => null));
    if (res.status === 401) this.access = undefined;
    // The token is dead (app uninstalled, token rotated) or not a token at all: forget it.
    if (res.status === 404 || code === 'UNREGISTERED' || (res.status === 400 && code === 'INVALID_ARGUMENT')) return { ok: false, reason: 'token_invalid' };
    return { ok: false, reason: 'retry' };
  }
}
