import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { link, mkdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError, TooLargeError } from '../domain/errors';

/** A file received into the store's temporary area, hashed on the way in, not yet published. */
export interface ReceivedFile {
  tempPath: string;
  sha256: string;
  sizeBytes: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Binaries addressed by their SHA-256 (`ab/abcdef…`), so the same file uploaded twice is stored
 * once. A file is streamed to a temporary name in the same directory tree, hashed as it is
 * written, and published by a link to its final name: a reader never sees half a file, and two
 * processes publishing the same content both succeed.
 */
export function createBlobStore(dir: string) {
  const tmp = join(dir, 'tmp');
  const pathOf = (sha256: string) => {
    if (!SHA256.test(sha256)) throw new InvalidInputError('Not a SHA-256', 'invalid_sha256');
    return join(dir, sha256.slice(0, 2), sha256);
  };

  return {
    pathOf,

    /** Streams `source` to disk; more than `maxBytes` is refused 413 and nothing is kept. */
    async receive(source: Readable, maxBytes: number): Promise<ReceivedFile> {
      await mkdir(tmp, { recursive: true, mode: 0o750 });
      const tempPath = join(tmp, `${randomUUID()}.part`);
      const hash = createHash('sha256');
      let sizeBytes = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          sizeBytes += chunk.length;
          if (sizeBytes > maxBytes) return done(new TooLargeError(`The file is larger than the ${maxBytes} bytes allowed (APP_MAX_UPLOAD_BYTES)`, 'upload_too_large'));
          hash.update(chunk);
          done(null, chunk);
        },
      });
      // The request is piped by hand rather than through pipeline(): a refusal must leave it
      // open, so the client gets its 413 instead of a reset connection; what it still sends is
      // read and dropped until the server closes the connection after answering.
      const written = pipeline(meter, createWriteStream(tempPath, { mode: 0o640 }));
      source.on('error', (e) => meter.destroy(e));
      source.on('close', () => {
        if (!source.readableEnded) meter.destroy(new Error('the client closed the connection'));
      });
      source.pipe(meter);
      try {
        await written;
      } catch (e) {
        source.unpipe(meter);
        source.resume();
        await unlink(tempPath).catch(() => undefined);
        if (e instanceof TooLargeError) throw e;
        throw new InvalidInputError(`The upload did not complete: ${(e as Error).message}`, 'upload_incomplete');
      }
      return { tempPath, sha256: hash.digest('hex'), sizeBytes };
    },

    /** Publishes a received file under its hash; an identical file already there is kept. */
    async publish(file: ReceivedFile): Promise<void> {
      const target = pathOf(file.sha256);
      await mkdir(join(dir, file.sha256.slice(0, 2)), { recursive: true, mode: 0o750 });
      try {
        await link(file.tempPath, target);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        await unlink(file.tempPath).catch(() => undefined);
      }
    },

    async discard(file: ReceivedFile): Promise<void> {
      await unlink(file.tempPath).catch(() => undefined);
    },

    /** The stored file and its size, or null when it is not (or no longer) there. */
    async open(sha256: string): Promise<{ stream: ReadStream; sizeBytes: number } | null> {
      const path = pathOf(sha256);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) return null;
      return { stream: createReadStream(path), sizeBytes: info.size };
    },
  };
}
export type BlobStore = ReturnType<typeof createBlobStore>;
