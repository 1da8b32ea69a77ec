/**
 * The fake push service behind an HTTP endpoint shaped like FCM's HTTP v1 API
 * (`POST /v1/projects/{projectId}/messages:send`), so that a server's real FCM sender, pointed at
 * this address, reaches simulated agents running in another process (benchmarks, the CLI).
 * It also answers the OAuth token request of a service account (`POST /token`, the `token_uri`
 * to put in a test service account file). Authorization is recorded, not checked: this only
 * ever listens on a test machine.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakePushService, PushMessage } from './push';

const SEND_PATH = /^\/v1\/projects\/([^/]+)\/messages:send$/;
const MAX_BODY = 64 * 1024;

interface FcmRequest {
  message?: { token?: unknown; data?: unknown; android?: { priority?: unknown; ttl?: unknown; collapse_key?: unknown } };
}

function fcmError(code: number, status: string, message: string, errorCode?: string) {
  const details = errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [];
  return { code, body: { error: { code, message, status, details } } };
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The message of an FCM v1 request, or why it is not one. */
function parse(text: string | undefined): PushMessage | string {
  let request: FcmRequest;
  try {
    request = JSON.parse(text ?? '') as FcmRequest;
  } catch {
    return 'body is not JSON';
  }
  const m = request.message;
  if (!m || typeof m.token !== 'string' || !m.token) return 'message.token is required';
  const data = m.data ?? {};
  if (typeof data !== 'object' || Object.values(data).some((v) => typeof v !== 'string')) return 'message.data values must be strings';
  const ttl = m.android?.ttl;
  if (ttl !== undefined && (typeof ttl !== 'string' || !/^\d+(\.\d+)?s$/.test(ttl))) return 'android.ttl must be a duration such as "600s"';
  return {
    token: m.token,
    data: data as Record<string, string>,
    priority: m.android?.priority === 'high' ? 'high' : 'normal',
    ttlSec: ttl ? Math.round(parseFloat(ttl)) : 28 * 24 * 3600,
    ...(typeof m.android?.collapse_key === 'string' ? { collapseKey: m.android.collapse_key } : {}),
  };
}

export class FakeFcmServer {
  private server: Server | undefined;
  private sent = 0;
  /** The Authorization header of every send, in order. */
  readonly authorizations: (string | undefined)[] = [];
  /** How many access tokens were handed out. */
  tokensIssued = 0;

  constructor(private readonly push: FakePushService) {}

  /** Listens on 127.0.0.1; returns the base URL to give the server's FCM sender. */
  async listen(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      void this.handle(req).then(({ code, body }) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  private async handle(req: IncomingMessage): Promise<{ code: number; body: unknown }> {
    if (req.method === 'POST' && req.url === '/token') {
      const form = new URLSearchParams((await readBody(req)) ?? '');
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || (form.get('assertion') ?? '').split('.').length !== 3) return { code: 400, body: { error: 'invalid_grant' } };
      return { code: 200, body: { access_token: `fake-access-${++this.tokensIssued}`, expires_in: 3600, token_type: 'Bearer' } };
    }
    const match = req.method === 'POST' ? SEND_PATH.exec(req.url ?? '') : null;
    if (!match) return fcmError(404, 'NOT_FOUND', 'Only POST /v1/projects/{projectId}/messages:send exists here.');
    this.authorizations.push(req.headers.authorization);
    if (decodeURIComponent(match[1]!) !== this.push.projectId) return fcmError(403, 'PERMISSION_DENIED', 'Unknown project.', 'SENDER_ID_MISMATCH');
    const message = parse(await readBody(req));
    if (typeof message === 'string') return fcmError(400, 'INVALID_ARGUMENT', message, 'INVALID_ARGUMENT');
    const outcome = await this.push.send(message);
    if (outcome.ok) return { code: 200, body: { name: `projects/${this.push.projectId}/messages/${++this.sent}` } };
    if (outcome.reason === 'token_invalid') return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
    return fcmError(503, 'UNAVAILABLE', 'The service is unavailable.', 'UNAVAILABLE');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
