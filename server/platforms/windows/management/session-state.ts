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

/** The device a session authenticated, as its first message found it enrolled. */
export interface SessionDevice {
  deviceId: string;
  organisationId: string;
  schoolId: string;
  /** The forwarded certificate thumbprint that authenticated it; null for a digest. */
  thumbprint: string | null;
}

/** What one OMA-DM session remembers between its messages. */
export interface SessionState {
  authenticated: boolean;
  /** Set once authenticated: the later messages of the session are not looked up again. */
  device?: SessionDevice;
  inFlight: Record<string, InFlight>;
  /** Parts to send again as Replace after a 418 (the node already existed). */
  resend: Array<{ commandId: string; part: number; command: SyncCommand }>;
  devInfo: Record<string, string>;
  /** The last MsgID answered: a session only moves forward. */
  lastMsgId: number;
}

export const emptySession = (): SessionState => ({ authenticated: false, inFlight: {}, resend: [], devInfo: {}, lastMsgId: 0 });

/** A message's start: the session's state, and the device's nonce when the message brings a digest to check. */
export interface OpenedSession {
  state: SessionState;
  /** The state was stored by an earlier message of the session. */
  stored: boolean;
  /** The nonce the digest must be hashed with, taken (it serves once); null when not asked for or none is left. */
  nonce: string | null;
}

/**
 * Reads the state and, when the session is not authenticated yet, takes the nonce: one round
 * trip, and the nonce is never taken for a session that needs none.
 */
const OPEN = `local state = redis.call('GET', KEYS[1])
local nonce = false
if not state or not cjson.decode(state).authenticated then nonce = redis.call('GETDEL', KEYS[2]) end
return {state, nonce}`;

/**
 * Per-session state in Redis, expiring with the session: a session that stops midway leaves
 * nothing behind, and its unanswered commands are offered again at the next session. A session
 * is named by the tablet's DeviceID (the SyncHdr Source) and SessionID, so that a message is
 * matched to its session before the device is looked up. A message costs two round trips, `open`
 * before it is handled and `close` before it is answered, which the connection shares with the
 * other messages of the same turn of the event loop.
 */
export function createSessionStore(redis: Redis, prefix: string, ttlSec: number) {
  // Both come from the message: the Source's length keeps two pairs from ever naming the same key.
  const key = (source: string, sessionId: string) => `${prefix}win:session:${source.length}:${source}:${sessionId}`;
  const nonceKey = (deviceId: string) => `${prefix}win:nonce:${deviceId}`;
  return {
    /** The session's state, and the nonce of `nonceOf` (a device id) when the session is not authenticated yet. */
    async open(source: string, sessionId: string, nonceOf: string | null): Promise<OpenedSession> {
      // Without a nonce to take, a plain GET: cheaper than a script on both sides.
      const [raw, nonce] = nonceOf ? ((await redis.eval(OPEN, 2, key(source, sessionId), nonceKey(nonceOf))) as [string | null, string | null]) : [await redis.get(key(source, sessionId)), null];
      return { state: raw ? (JSON.parse(raw) as SessionState) : emptySession(), stored: raw !== null, nonce: nonce ?? null };
    },
    /**
     * The message is done: the device's next nonce is kept when one was given, and the state saved,
     * or dropped when the session ends (`state` null).
     */
    async close(source: string, sessionId: string, outcome: { deviceId: string; state: SessionState | null; stored: boolean; nextNonce: string | null }): Promise<void> {
      // Sent together, and with the other messages' commands of the same turn (the connection pipelines them).
      const writes: Promise<unknown>[] = [];
      if (outcome.nextNonce) writes.push(redis.set(nonceKey(outcome.deviceId), outcome.nextNonce, 'EX', ttlSec));
      if (outcome.state) writes.push(redis.set(key(source, sessionId), JSON.stringify(outcome.state), 'EX', ttlSec));
      else if (outcome.stored) writes.push(redis.del(key(source, sessionId)));
      await Promise.all(writes);
    },
    /** A fresh nonce for the device's next digest (b64 on the wire), not stored yet: `close` or `replaceNonce` keeps it. */
    nonce: () => randomBytes(16).toString('base64'),
    /** Keeps a fresh nonce at once, replacing the previous one: for answers that refuse the message. */
    async replaceNonce(deviceId: string): Promise<string> {
      const nonce = randomBytes(16).toString('base64');
      await redis.set(nonceKey(deviceId), nonce, 'EX', ttlSec);
      return nonce;
    },
  };
}
export type SessionStore = ReturnType<typeof createSessionStore>;
