import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { TIMERS } from '../../../agent-protocol/src';
import type { DeviceIdentity } from '../../domain/devices';
import { UnavailableError } from '../../domain/errors';
import { sha256 } from '../../modules/access/credentials';

interface StoredSession {
  identity: DeviceIdentity;
  /** No exchange happened in this session yet. */
  fresh: boolean;
}

/**
 * Short-lived state of the HTTPS fallback kept in Redis: challenge nonces and session tokens.
 * Losing it costs a re-authentication. With Redis unreachable the agent is told to come back
 * later (503), which it does with its backoff.
 */
export class AgentStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch {
      throw new UnavailableError('The server cannot keep HTTPS sessions right now; retry later or use the WebSocket.', 'server_busy');
    }
  }

  async issueNonce(): Promise<string> {
    const nonce = randomBytes(32).toString('base64');
    await this.call(() => this.redis.set(`${this.prefix}:agent:nonce:${sha256(nonce)}`, '1', 'EX', TIMERS.challengeExpiresInSec));
    return nonce;
  }

  /** True once per issued nonce, within its lifetime. */
  async consumeNonce(nonce: string): Promise<boolean> {
    return (await this.call(() => this.redis.del(`${this.prefix}:agent:nonce:${sha256(nonce)}`))) === 1;
  }

  /** The token carries its own expiry so an expired one can be told from a forged one. */
  async openSession(identity: DeviceIdentity, ttlSec: number): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000 + ttlSec) * 1000);
    const token = `${expiresAt.getTime() / 1000}.${randomBytes(24).toString('base64url')}`;
    const session: StoredSession = { identity, fresh: true };
    await this.call(() => this.redis.set(this.sessionKey(token), JSON.stringify(session), 'EX', ttlSec));
    return { token, expiresAt };
  }

  /** The session's device, and whether this is its first exchange (which is recorded). */
  async session(token: string): Promise<{ identity: DeviceIdentity; first: boolean } | 'expired' | undefined> {
    const key = this.sessionKey(token);
    const raw = await this.call(() => this.redis.get(key));
    if (raw) {
      const session = JSON.parse(raw) as StoredSession;
      if (session.fresh) await this.call(() => this.redis.set(key, JSON.stringify({ ...session, fresh: false }), 'KEEPTTL'));
      return { identity: session.identity, first: session.fresh };
    }
    const expiry = Number(token.split('.')[0]);
    return Number.isFinite(expiry) && expiry * 1000 <= Date.now() ? 'expired' : undefined;
  }

  private sessionKey(token: string): string {
    return `${this.prefix}:agent:session:${sha256(token)}`;
  }
}
