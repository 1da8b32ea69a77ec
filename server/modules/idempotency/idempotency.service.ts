import { ConflictError, UnprocessableError } from '../../domain/errors';
import type { Db } from '../../infra/db/client';
import type { SecretBox } from '../../infra/secrets';
import * as repo from './idempotency.repository';

/** How long a first answer is kept for retries. */
const TTL_SEC = 24 * 3600;
/** A request still unanswered after this long is taken to have died with its process. */
const STALE_SEC = 60;

export type Begin = { state: 'new' } | { state: 'replay'; statusCode: number; contentType: string | null; body: string };

/**
 * `Idempotency-Key` for requests that create something: the first request with a key does the
 * work and its answer is kept; a retry with the same key and the same request gets that answer
 * again; the same key for another request is refused.
 */
export function createIdempotencyService(deps: { db: Db; secrets: Pick<SecretBox, 'seal' | 'open'> }) {
  const { db, secrets } = deps;
  return {
    async begin(owner: string, key: string, requestHash: string): Promise<Begin> {
      if (await repo.claim(db, owner, key, requestHash, TTL_SEC)) return { state: 'new' };
      const row = await repo.find(db, owner, key);
      if (!row) return (await repo.claim(db, owner, key, requestHash, TTL_SEC)) ? { state: 'new' } : this.begin(owner, key, requestHash);
      if (row.requestHash !== requestHash) throw new UnprocessableError('This Idempotency-Key was already used for a different request', 'idempotency_key_reused');
      if (row.state === 'done') return { state: 'replay', statusCode: row.statusCode!, contentType: row.contentType, body: secrets.open(row.responseSealed!) };
      if (await repo.takeOverStale(db, owner, key, requestHash, STALE_SEC)) return { state: 'new' };
      throw new ConflictError('A request with this Idempotency-Key is still being processed; retry in a moment', 'idempotency_in_progress');
    },

    complete(owner: string, key: string, statusCode: number, contentType: string | null, body: string): Promise<void> {
      return repo.complete(db, owner, key, { statusCode, contentType, responseSealed: secrets.seal(body) });
    },

    /** The request failed on the server's side: a retry may do the work. */
    release(owner: string, key: string): Promise<void> {
      return repo.release(db, owner, key);
    },

    purgeExpired: () => repo.purgeExpired(db),
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;
