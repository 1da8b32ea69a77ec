import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AppInfo, CommandResult, Endpoints, Envelope } from '../src';

/** What a real agent keeps in device-protected storage (§14.3, §25): identity, outbox, seen commands. */
export interface AgentState {
  deviceId?: string;
  certificate?: string;
  chain?: string[];
  /** PKCS#8 PEM. A real agent keeps its key in the Android Keystore instead. */
  privateKeyPem?: string;
  endpoints?: Endpoints;
  bootId: string;
  /** Unacknowledged outbox messages, oldest first. */
  outbox: Envelope[];
  /** The `seq` of the next numbered outbox message (§14.5). */
  nextSeq?: number;
  /** Every commandId received or cancelled, with its result once known (never executed twice). */
  commands: Record<string, { receivedAt: string; result?: CommandResult; cancelled?: boolean }>;
  /** Destructive command awaiting its reboot, with the boot id it was issued under. */
  pendingRestart?: { commandId: string; bootId: string };
  /** A self-update committed (§24.3): reported once the new version has connected. */
  pendingUpdate?: { commandId: string; versionCode: number };
  /** commandId of the lost_mode_on in force. */
  lostMode?: string;
  inventoryAckedAt?: string;
  /** A certificate renewal in flight (§20.2): the new key, its CSR and the message carrying them. */
  renewal?: { messageId: string; privateKeyPem: string; csr: string };
  /** The identity replaced by a renewal, kept until the new one has authenticated once (§20.3). */
  previousIdentity?: { certificate: string; chain: string[]; privateKeyPem: string };
  /** The push registration token (§23.2). */
  pushToken?: string;
  /** The desired state applied, with its version (§27.1), announced in hello as appliedStateVersion. */
  policy?: { version: number; policy: Record<string, unknown> };
  /** Server time minus device time at the last welcome or session answer, in ms (§21). */
  clockOffsetMs?: number;
  /** Apps installed by install_app, and packages of the device's own set removed by remove_app (§24.2). */
  installedApps?: AppInfo[];
  removedApps?: string[];
}

export function freshState(): AgentState {
  return { bootId: randomUUID(), outbox: [], commands: {} };
}

export interface AgentStateStore {
  load(): Promise<AgentState | undefined>;
  save(state: AgentState): Promise<void>;
}

/**
 * Keeps the state as the JSON text a file would hold: a snapshot later changes cannot reach, and
 * cheaper than a structured clone for the thousands of agents one benchmark process runs.
 */
export class MemoryStateStore implements AgentStateStore {
  private text: string | undefined;
  async load() {
    return this.text === undefined ? undefined : (JSON.parse(this.text) as AgentState);
  }
  async save(state: AgentState) {
    this.text = JSON.stringify(state);
  }
}

/**
 * One JSON file per agent, replaced atomically. Saves are serialised and coalesced: a save
 * waits for the write in progress, then the newest state is written once for every caller
 * that asked meanwhile. Each write goes through its own temporary file, so even two stores on
 * the same path (two processes) never rename a file the other one is writing.
 */
export class FileStateStore implements AgentStateStore {
  private generation = 0;
  private written = 0;
  private pending: { generation: number; text: string } | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly path: string) {}

  async load(): Promise<AgentState | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as AgentState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(state: AgentState): Promise<void> {
    const generation = ++this.generation;
    // Serialised now: the caller may change the state again before the write happens.
    this.pending = { generation, text: JSON.stringify(state) };
    while (this.written < generation) {
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
      await this.flushing;
    }
  }

  private async flush(): Promise<void> {
    while (this.pending) {
      const { generation, text } = this.pending;
      this.pending = undefined;
      await this.write(text);
      this.written = generation;
    }
  }

  private async write(text: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, text, { mode: 0o600 });
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}
