import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandResult, Endpoints, Envelope } from '../src';

/** What a real agent keeps in durable storage (§14.3): identity, outbox, seen commands. */
export interface AgentState {
  deviceId?: string;
  certificate?: string;
  chain?: string[];
  /** PKCS#8 PEM. A real agent keeps its key in the Android Keystore instead. */
  privateKeyPem?: string;
  endpoints?: Endpoints;
  bootId: string;
  /** Unacknowledged reports and results, oldest first. */
  outbox: Envelope[];
  /** Every commandId received, with its result once known (never executed twice). */
  commands: Record<string, { receivedAt: string; result?: CommandResult; cancelled?: boolean }>;
  /** Destructive command awaiting its reboot, with the boot id it was issued under. */
  pendingRestart?: { commandId: string; bootId: string };
  /** commandId of the lost_mode_on in force. */
  lostMode?: string;
  inventoryAckedAt?: string;
}

export interface AgentStateStore {
  load(): Promise<AgentState | undefined>;
  save(state: AgentState): Promise<void>;
}

export class MemoryStateStore implements AgentStateStore {
  private state: AgentState | undefined;
  async load() {
    return this.state && structuredClone(this.state);
  }
  async save(state: AgentState) {
    this.state = structuredClone(state);
  }
}

/** One JSON file per agent, replaced atomically. */
export class FileStateStore implements AgentStateStore {
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
    await mkdir(dirname(this.path), { recursive: true });
    const temp = `${this.path}.tmp`;
    await writeFile(temp, JSON.stringify(state), { mode: 0o600 });
    await rename(temp, this.path);
  }
}
