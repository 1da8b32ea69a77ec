/**
 * The fault drill itself, for the command-line drill (drill.ts) and the local gateway-restart
 * bench alike: simulated tablets in client processes enroll through the gateways and hold, one
 * bulk command goes to the school, `fault()` runs when the given share of the frames is on the
 * wire, `recover()` after the pause, and the drill waits until every command is final.
 */
import { setPriority } from 'node:os';
import { run, sleep, stop, type Child } from '../../bench/harness';

export interface DrillOptions {
  server: string;
  apiToken: string;
  school: string;
  /** Where the tablets enroll and connect, in turn. */
  gateways: string[];
  agents: number;
  clients: number;
  kind: string;
  /** Share (0–1) of the frames on the wire when the fault strikes. */
  faultAt: number;
  /** How long each tablet holds a command before acknowledging it (ms). */
  holdMs: number;
  /** Scheduling priority of the client processes (`os.setPriority`): on a machine shared with the server, the tablets' own CPU is not the server's to lose. */
  clientPriority?: number;
  recoverAfterSec: number;
  deadlineSec: number;
  fault(): Promise<void>;
  recover(): Promise<void>;
  /** Every command is final (or the deadline passed); the tablets are then stopped, which is no part of the recovery. */
  settled?(): void;
  log(line: Record<string, unknown>): void;
}

export interface DrillResult {
  devices: number;
  /** Commands not succeeded when the drill ended: lost, or still waiting at the deadline. */
  notSucceeded: number;
  executedTwice: number;
  deliveredAfterDone: number;
  /** From the end of `recover()` until every command was final, or the deadline. */
  finalAfterRecoveryS: number;
}

export async function runDrill(o: DrillOptions): Promise<DrillResult> {
  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${o.server}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${o.apiToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const { token } = (await api('POST', '/enrollment-tokens', { schoolId: o.school, label: 'fault drill', maxUses: null })) as { token: string };
  const per = Math.ceil(o.agents / o.clients);
  const clients: Child[] = Array.from({ length: o.clients }, (_, i) =>
    run('scripts/fault-drill/drill-agents.ts', ['--gateways', o.gateways.join(','), '--token', token, '--count', String(Math.min(per, o.agents - i * per)), '--index-offset', String(i * per), '--local-address', `127.0.0.${i + 2}`, '--hold-ms', String(o.holdMs)]),
  );
  if (o.clientPriority !== undefined) for (const c of clients) setPriority(c.proc.pid!, o.clientPriority);
  const latest = new Map<Child, Record<string, number>>();
  const watch = (c: Child) =>
    c.proc.stdout!.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        try {
          const parsed = JSON.parse(line) as Record<string, number> & { event?: string };
          if (parsed.event === 'stats') latest.set(c, parsed);
        } catch {
          // not a milestone
        }
      }
    });
  try {
    const connected = await Promise.all(clients.map((c) => c.next('connected', 15 * 60_000)));
    clients.forEach(watch);
    o.log({ phase: 'connected', count: connected.reduce((n, c) => n + Number(c.count), 0), failed: connected.reduce((n, c) => n + Number(c.failed), 0), reasons: connected.map((c) => c.reasons) });
    const sum = (key: string) => [...latest.values()].reduce((n, s) => n + (s[key] ?? 0), 0);

    const bulk = (await api('POST', '/commands/bulk', { kind: o.kind, target: { schoolId: o.school }, ...(o.kind === 'lock' ? { params: { message: 'Exercice de reprise' } } : {}) })) as { batchId: string; created: number };
    o.log({ phase: 'bulk', ...bulk });
    while (sum('frames') < bulk.created * o.faultAt) await sleep(20);
    o.log({ phase: 'fault', frames: sum('frames') });
    await o.fault();
    await sleep(o.recoverAfterSec * 1000);
    await o.recover();
    const recoveredAt = Date.now();
    o.log({ phase: 'recovered' });

    const deadline = recoveredAt + o.deadlineSec * 1000;
    let progress: Record<string, unknown> = {};
    let reported = recoveredAt;
    while (Date.now() < deadline) {
      progress = await api('GET', `/commands?batchId=${bulk.batchId}`).catch(() => progress);
      const counts = (progress.counts ?? {}) as Record<string, number>;
      const final = ['succeeded', 'failed', 'expired', 'cancelled'].reduce((n, s) => n + (counts[s] ?? 0), 0);
      if (progress.state === 'done' && final === bulk.created) break;
      if (Date.now() - reported >= 5000) {
        reported = Date.now();
        o.log({ phase: 'waiting', afterRecoveryS: Math.round((reported - recoveredAt) / 1000), connected: sum('connected'), frames: sum('frames'), counts });
      }
      await sleep(250);
    }
    const finalAfterRecoveryS = (Date.now() - recoveredAt) / 1000;
    o.settled?.();
    await sleep(2000); // the last stats lines
    o.log({ phase: 'connections', disconnects: [...latest.values()].map((s) => s.disconnects), reconnections: [...latest.values()].map((s) => s.reconnections), reconnectionWaitsMs: [...latest.values()].map((s) => s.reconnectionWaitsMs) });
    const counts = (progress.counts ?? {}) as Record<string, number>;
    return { devices: bulk.created, notSucceeded: bulk.created - (counts.succeeded ?? 0), executedTwice: sum('executedTwice'), deliveredAfterDone: sum('framesAfterDone'), finalAfterRecoveryS };
  } finally {
    for (const c of clients) await stop(c);
  }
}

export const drillLine = (r: DrillResult) =>
  `devices=${r.devices} not_succeeded=${r.notSucceeded} executed_twice=${r.executedTwice} delivered_after_done=${r.deliveredAfterDone} final_after_recovery_s=${r.finalAfterRecoveryS.toFixed(1)}`;

export const drillPassed = (r: DrillResult) => r.notSucceeded === 0 && r.executedTwice === 0 && r.deliveredAfterDone === 0;
