import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Templates and assets are read from the source tree, next to this file, whether the server runs
 * from TypeScript or from the compiled dist/ (which holds only JavaScript).
 */
function consoleDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the console templates: no package.json above ' + __dirname);
    dir = parent;
  }
  return join(dir, 'server', 'console');
}

export const CONSOLE_DIR = consoleDir();
export const VIEWS_DIR = join(CONSOLE_DIR, 'views');
export const ASSETS_DIR = join(CONSOLE_DIR, 'assets');
/** Leaflet's distribution files, from the installed package. */
export const LEAFLET_DIR = dirname(require.resolve('leaflet/dist/leaflet.js'));

/** `/console/assets/<file>?v=<content hash>`: assets are cached for a long time and renamed by content. */
export function assetUrls(prefix: string): (file: string) => string {
  const versions = new Map(readdirSync(ASSETS_DIR).map((file) => [file, createHash('sha256').update(readFileSync(join(ASSETS_DIR, file))).digest('hex').slice(0, 10)]));
  return (file) => {
    const version = versions.get(file);
    if (!version) throw new Error(`unknown console asset ${file}`);
    return `${prefix}/assets/${file}?v=${version}`;
  };
}
