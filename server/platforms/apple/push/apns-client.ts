import { connect, constants, type ClientHttp2Session } from 'node:http2';

/** One MDM push: the device's token (hex), its PushMagic, and the topic of the certificate. */
export interface MdmPush {
  deviceId: string;
  tokenHex: string;
  pushMagic: string;
  topic: string;
}

export type PushResult = { deviceId: string; tokenHex: string; outcome: 'sent' } | { deviceId: string; tokenHex: string; outcome: 'invalid_token' | 'failed'; reason: string };

export interface ApnsCredentials {
  certPem: string;
  keyPem: string;
}

export interface ApnsOptions {
  /** https://api.push.apple.com in production; a local HTTP/2 server in tests. */
  url: string;
  /** Extra CA certificates to trust for the APNs server (a test server); unset: the system's. */
  ca?: string;
  /** Pushes in flight on one connection. */
  concurrency?: number;
  attempts?: number;
  timeoutMs?: number;
}

const INVALID_TOKEN_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);
const RETRY_STATUSES = new Set([429, 500, 503]);

/**
 * APNs over HTTP/2 with the MDM push certificate as the TLS client certificate (Apple's MDM
 * pushes take no JWT). One session per certificate, opened again when APNs closes it (GOAWAY,
 * idle); pushes go in batches of `concurrency` streams, and transient failures are retried.
 */
export class ApnsClient {
  /** One session per push certificate (one per organisation). */
  private readonly sessions = new Map<string, ClientHttp2Session>();

  constructor(private readonly options: ApnsOptions) {}

  private sessionFor(credentials: ApnsCredentials): ClientHttp2Session {
    const key = credentials.certPem;
    const current = this.sessions.get(key);
    if (current && !current.closed && !current.destroyed) return current;
    const session = connect(this.options.url, { cert: credentials.certPem, key: credentials.keyPem, ...(this.options.ca ? { ca: this.options.ca } : {}) });
    session.on('error', () => session.destroy());
    session.on('goaway', () => session.close());
    // An idle connection must not keep the process alive.
    session.unref();
    this.sessions.set(key, session);
    return session;
  }

  private sendOnce(credentials: ApnsCredentials, push: MdmPush): Promise<{ status: number; reason: string }> {
    return new Promise((resolve) => {
      let session: ClientHttp2Session;
      try {
        session = this.sessionFor(credentials);
      } catch (error) {
        resolve({ status: 0, reason: (error as Error).message });
        return;
      }
      const request = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: `/3/device/${push.tokenHex}`,
        'content-type': 'application/json',
        'apns-topic': push.topic,
        'apns-push-type': 'mdm',
        'apns-expiration': String(Math.floor(Date.now() / 1000) + 24 * 3600),
      });
      request.setTimeout(this.options.timeoutMs ?? 10_000, () => request.close(constants.NGHTTP2_CANCEL));
      let status = 0;
      let body = '';
      request.on('response', (headers) => (status = Number(headers[constants.HTTP2_HEADER_STATUS])));
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
      request.on('error', (error) => resolve({ status: 0, reason: error.message }));
      request.on('close', () => {
        let reason = '';
        try {
          reason = body ? String((JSON.parse(body) as { reason?: unknown }).reason ?? '') : '';
        } catch {
          reason = body.slice(0, 200);
        }
        resolve({ status, reason: reason || (status === 0 ? 'no answer' : `HTTP ${status}`) });
      });
      request.end(JSON.stringify({ mdm: push.pushMagic }));
    });
  }

  private async sendOne(credentials: ApnsCredentials, push: MdmPush): Promise<PushResult> {
    const attempts = this.options.attempts ?? 3;
    let last = { status: 0, reason: 'not sent' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      last = await this.sendOnce(credentials, push);
      if (last.status === 200) return { deviceId: push.deviceId, tokenHex: push.tokenHex, outcome: 'sent' };
      if (last.status === 410 || INVALID_TOKEN_REASONS.has(last.reason)) return { deviceId: push.deviceId, tokenHex: push.tokenHex, outcome: 'invalid_token', reason: last.reason };
      if (last.status !== 0 && !RETRY_STATUSES.has(last.status)) break;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
    return { deviceId: push.deviceId, tokenHex: push.tokenHex, outcome: 'failed', reason: last.reason };
  }

  async send(credentials: ApnsCredentials, pushes: MdmPush[]): Promise<PushResult[]> {
    const size = this.options.concurrency ?? 100;
    const results: PushResult[] = [];
    for (let i = 0; i < pushes.length; i += size) {
      results.push(...(await Promise.all(pushes.slice(i, i + size).map((p) => this.sendOne(credentials, p)))));
    }
    return results;
  }

  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
