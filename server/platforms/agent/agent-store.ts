import { randomBytes } from 'node:crypto';
import { sha256 } from '../../modules/access/credentials';
import type { Redis } from 'ioredis';
import { TIMERS } from '../../../agent-protocol/src';
import type { AgentIdentity } from '../../modules/devices/device-agent.service';

/**
 * Short-lived agent protocol state kept in Redis: HTTPS nonces, HTTPS session tokens and the ids
 * of processed messages. Losing it costs a re-authentication or a re-processed report, nothing more.
 */
export class AgentStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async issueNonce(): Promise<string> {
    const nonce = randomBytes(32).toString('base64');
    await this.redis.set(`${this.prefix}:agent:nonce:${sha256(nonce)}`, '1', 'EX', TIMERS.challengeExpiresInSec);
    return nonce;
  }

  /** True once per issued nonce, within its lifetime. */
  async consumeNonce(nonce: string): Promise<boolean> {
    return (await this.redis.del(`${this.prefix}:agent:nonce:${sha256(nonce)}`)) === 1;
  }

  /** The token carries its own expiry so an expired one can be told from a forged one. */
  async openSession(identity: AgentIdentity, ttlSec: number): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000 + ttlSec) * 1000);
    const token = `${expiresAt.getTime() / 1000}.${randomBytes(24).toString('base64url')}`;
    await this.redis.set(`${this.prefix}:agent:session:${sha256(token)}`, JSON.stringify(identity), 'EX', ttlSec);
    return { token, expiresAt };
  }

  async session(token: string): Promise<AgentIdentity | 'expired' | undefined> {
    const raw = await this.redis.get(`${this.prefix}:agent:session:${sha256(token)}`);
    if (raw) return JSON.parse(raw) as AgentIdentity;
    const expiry = Number(token.split('.')[0]);
    return Number.isFinite(expiry) && expiry * 1000 <= Date.now() ? 'expired' : undefined;
  }

  /** Claims a message id for processing; false if it was already processed (a re-send). */
  async claimMessage(deviceId: string, messageId: string): Promise<boolean> {
    const ok = await this.redis.set(`${this.prefix}:agent:msg:${deviceId}:${messageId.toLowerCase()}`, '1', 'EX', TIMERS.dedupWindowSec, 'NX');
    return ok === 'OK';
  }

  /** Gives a claim back when processing failed, so the agent's re-send is processed. */
  async releaseMessage(deviceId: string, messageId: string): Promise<void> {
    await this.redis.del(`${this.prefix}:agent:msg:${deviceId}:${messageId.toLowerCase()}`);
  }
}
