import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A Redis of the test's own, so that stopping or flushing it disturbs nobody else. It can be
 * stopped and started again on the same port, as an operator restarting Redis would.
 */
export class PrivateRedis {
  private proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.resume();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async resume(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve());
      proc.on('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
  }

  /** Gone at once, as with a crash: nothing kept (no persistence). */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** Debian's server programs, of the newest major installed. */
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const major = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error('PostgreSQL server programs not found under /usr/lib/postgresql');
  return join(root, major, 'bin');
}

/**
 * A PostgreSQL cluster of the test's own, in a temporary directory, so that it can be restarted
 * in the middle of a test without disturbing other tests. initdb refuses to run as root: as
 * root the cluster belongs to the `postgres` system user.
 */
export class PrivatePostgres {
  private readonly bin = postgresBin();
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'cartable-pg-'));
    const pg = new PrivatePostgres(dir, await freePort());
    if (userInfo().uid === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
      chmodSync(dir, 0o700);
    }
    await pg.as(join(pg.bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C']);
    await pg.resume();
    const client = new Client({ host: '127.0.0.1', port: pg.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    await client.query('create database cartable');
    await client.end();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/cartable`;
  }

  private as(program: string, args: string[]) {
    return userInfo().uid === 0 ? run('runuser', ['-u', 'postgres', '--', program, ...args], { cwd: '/' }) : run(program, args);
  }

  private ctl(args: string[]) {
    return this.as(join(this.bin, 'pg_ctl'), ['-D', join(this.dir, 'data'), ...args]);
  }

  async resume(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    await this.ctl(['-o', options, '-l', join(this.dir, 'log'), '-w', 'start']);
  }

  /** Stops like a crash or a failover: connections cut, transactions in flight lost. */
  async halt(): Promise<void> {
    await this.ctl(['-m', 'immediate', '-w', 'stop']).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.halt();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }
}
