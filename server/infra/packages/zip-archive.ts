import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { refusePackage } from './package-facts';

/** Entries we read whole (manifests, signature blocks) are small; a larger one is a crafted archive. */
const MAX_SMALL_ENTRY_BYTES = 4 * 1024 * 1024;

/**
 * A zip on disk, read entry by entry with yauzl: the central directory is listed once, and only
 * the few small entries a reader asks for are inflated.
 */
export interface ZipArchive {
  names(): string[];
  has(name: string): boolean;
  read(name: string): Promise<Buffer>;
  close(): void;
}

export async function openZip(path: string): Promise<ZipArchive> {
  const zip = await new Promise<ZipFile>((resolve, reject) => yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: false }, (e, z) => (e ? reject(e) : resolve(z)))).catch((e: Error) =>
    refusePackage('package_corrupt', `The file is not a readable zip archive: ${e.message}`),
  );
  const entries = new Map<string, Entry>();
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: Entry) => {
        entries.set(entry.fileName, entry);
        zip.readEntry();
      });
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
  } catch (e) {
    zip.close();
    refusePackage('package_corrupt', `The zip archive is damaged: ${(e as Error).message}`);
  }
  return {
    names: () => [...entries.keys()],
    has: (name) => entries.has(name),
    async read(name) {
      const entry = entries.get(name);
      if (!entry) refusePackage('package_corrupt', `The archive has no ${name}`);
      if (entry.uncompressedSize > MAX_SMALL_ENTRY_BYTES) refusePackage('package_corrupt', `${name} is ${entry.uncompressedSize} bytes: far larger than any real one`);
      try {
        const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(entry, (e, s) => (e ? reject(e) : resolve(s))));
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      } catch (e) {
        return refusePackage('package_corrupt', `${name} cannot be read from the archive: ${(e as Error).message}`);
      }
    },
    close: () => zip.close(),
  };
}
