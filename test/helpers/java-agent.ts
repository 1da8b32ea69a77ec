import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The Android agent's protocol core (agent-protocol/android/core), compiled and run on the
 * desktop JVM through its test harness: the same classes the APK ships, with a fake platform
 * that prints what it does as JSON lines.
 */
const ANDROID = join(__dirname, '../../agent-protocol/android');
const JSON_JAR = process.env.ANDROID_JSON_JAR ?? '/usr/share/java/com.android.json.jar';

function javaSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? javaSources(path) : name.endsWith('.java') ? [path] : [];
  });
}

/** Compiles the core and the harness into a temporary folder; returns the classpath. */
export function compileAgentCore(): string {
  if (!existsSync(JSON_JAR)) {
    throw new Error(`${JSON_JAR} is missing: install Debian's openjdk-17-jdk-headless and libandroid-json-java (bash scripts/setup.sh does)`);
  }
  const out = mkdtempSync(join(tmpdir(), 'cartable-agent-classes-'));
  const sources = [...javaSources(join(ANDROID, 'core/src')), ...javaSources(join(ANDROID, 'test/src'))];
  // Java 8 bytecode, as the APK's: what dx can read.
  execFileSync('javac', ['-nowarn', '-Xlint:-options', '-source', '8', '-target', '8', '-encoding', 'UTF-8', '-cp', JSON_JAR, '-d', out, ...sources], { stdio: 'pipe' });
  return `${out}:${JSON_JAR}`;
}

export interface AgentLine {
  event: string;
  [key: string]: unknown;
}

export class JavaAgent {
  readonly lines: AgentLine[] = [];
  private readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(classpath: string, args: Record<string, string>) {
    const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, v]);
    this.proc = spawn('java', ['-XX:TieredStopAtLevel=1', '-Xshare:auto', '-cp', classpath, 'fr.cartable.agent.desktop.DesktopAgent', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffer = '';
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as AgentLine);
        } catch {
          this.lines.push({ event: 'stdout', text: line });
        }
      }
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => this.lines.push({ event: 'stderr', text: chunk.toString('utf8') }));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** Lines seen so far that match. */
  find(predicate: (line: AgentLine) => boolean): AgentLine[] {
    return this.lines.filter(predicate);
  }

  /** The agent's log, for a failing test's message. */
  transcript(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }

  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
  }
}
