import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { TEMPLATE_ENV } from './databases';

const ROOT = join(__dirname, '..', '..');
const LOCK = join(ROOT, 'dist.build-lock');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr, interleaved as they arrived. */
  out: string;
  /** stdout byte for byte, for commands that print binary output. */
  stdoutBytes: Buffer;
}

function run(file: string, args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<CliResult> {
  const child = execFile(file, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' });
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
  const result = { code: -1, stdout: '', stderr: '', out: '' };
  const bytes: Buffer[] = [];
  // Decoders keep a character split across two chunks whole.
  const [outText, errText] = [new StringDecoder('utf8'), new StringDecoder('utf8')];
  child.stdout!.on('data', (d: Buffer) => {
    bytes.push(d);
    const text = outText.write(d);
    result.stdout += text;
    result.out += text;
  });
  child.stderr!.on('data', (d: Buffer) => {
    const text = errText.write(d);
    result.stderr += text;
    result.out += text;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ ...result, stdoutBytes: Buffer.concat(bytes), code: code ?? -1 })));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run build` once per test run, as an operator does before using `npx cartable`. Test files
 * running in parallel share one build: a lock directory serialises them, a marker names the run.
 */
export async function buildOnce(): Promise<void> {
  const marker = join(ROOT, 'dist', `.built-for-${process.env[TEMPLATE_ENV] ?? 'manual'}`);
  for (;;) {
    if (existsSync(marker)) return;
    try {
      mkdirSync(LOCK);
    } catch {
      // Another test file is building; a lock older than 5 minutes was left by a killed run.
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      if (lock && Date.now() - lock.mtimeMs > 300_000) rmdirSync(LOCK);
      await sleep(500);
      continue;
    }
    try {
      if (existsSync(marker)) return;
      const res = await run('npm', ['run', 'build']);
      if (res.code !== 0) throw new Error(`npm run build failed:\n${res.out}`);
      writeFileSync(marker, '');
      return;
    } finally {
      rmdirSync(LOCK);
    }
  }
}

/** `npx cartable …` from the repository root, the way the README tells operators to run it. */
export function npxCartable(args: string[], options: { env?: Record<string, string>; input?: string; noInstall?: boolean } = {}): Promise<CliResult> {
  return run('npx', [...(options.noInstall ? ['--no-install'] : []), 'cartable', ...args], options);
}
