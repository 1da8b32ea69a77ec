import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SyncCommand } from '../windows-commands';

/** A command handed out in this session: its OMA-DM parts and what the device said of each. */
export interface InFlight {
  kind: string;
  parts: SyncCommand[];
  /** Status code per part index, as they arrive. */
  codes: Record<string, number>;
  /** Results of Gets: node → value. */
  results: Record<string, string>;
  /** A profile command: its id, and for an install what will undo it. */
  profile?: { id: string; removal?: Array<{ verb: 'Delete'; locUri: string }> };
}

/** What one OMA-DM session remembers between its messages. */
export interface SessionState {
  authenticated: boolean;
  inFlight: Record<string, InFlight>;
  /** Parts to send again as Replace after a 418 (the node already existed). */
  resend: Array<{ commandId: string; part: number; command: SyncCommand }>;
  devInfo: Record<string, string>;
  /** The last MsgID answered: a session only moves forward. */
  lastMsgId: number;
}

const empty = (): SessionState => ({ authenticated: false, inFlight: {}, resend: [], devInfo: {}, lastMsgId: 0 });

/**
 * Per-session state in Redis, expiring with the session: a session that stops midway leaves
 * nothing behind, and its unanswered commands are offered again at the next session.
 */
export function createSessionStore(redis: Redis, prefix: string, ttlSec: number) {
  const key = (deviceId: string, sessionId: string) => `${prefix}win:session:${deviceId}:${sessionId}`;
  const nonceKey = (deviceId: string) => `${prefix}win:nonce:${deviceId}`;
  return {
    async load(deviceId: string, sessionId: string): Promise<SessionState> {
      const raw = await redis.get(key(deviceId, sessionId));
      return raw ? (JSON.parse(raw) as SessionState) : empty();
    },
    async save(deviceId: string, sessionId: string, state: SessionState): Promise<void> {
      await redis.set(key(deviceId, sessionId), JSON.stringify(state), 'EX', ttlSec);
    },
    async end(deviceId: string, sessionId: string): Promise<void> {
      await redis.del(key(deviceId, sessionId));
    },
    /** A fresh nonce for the device's next digest, replacing the previous one (b64 on the wire). */
    async newNonce(deviceId: string): Promise<string> {
      const nonce = randomBytes(16).toString('base64');
      await redis.set(nonceKey(deviceId), nonce, 'EX', ttlSec);
      return nonce;
    },
    /** The nonce the device must hash with, taken: it serves once. */
    async takeNonce(deviceId: string): Promise<string | null> {
      return redis.getdel(nonceKey(deviceId));
    },
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;
