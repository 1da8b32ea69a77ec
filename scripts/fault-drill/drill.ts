/**
 * The fault drill: checks, against a running deployment, that commands survive a fault you
 * inject, executed exactly once by every tablet. Simulated tablets enroll in a school you name
 * (use a school kept for drills: they stay in its inventory, retire them afterwards), connect to
 * the gateways, receive a bulk command; in the middle of the delivery the drill runs your fault
 * command (kill a gateway, restart PostgreSQL, flush Redis...), waits, runs your recovery command,
 * and measures.
 *
 *   npm run fault-drill -- --server https://mdm.example.org --api-token cart_... --school SCHOOL_ID \
 *     [--gateways URL,URL] [--agents 1000] [--clients 2] [--kind lock] \
 *     [--fault "systemctl kill -s KILL cartable-gateway@1"] [--recover "systemctl start cartable-gateway@1"] \
 *     [--fault-at 0.5] [--recover-after-sec 1] [--deadline-sec 120]
 *
 * The last line reads: devices=N lost=L executed_twice=T delivered_after_done=D final_after_recovery_s=S
 * and the drill exits non-zero when anything was lost or run twice.
 */
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { run, sleep, stop, type Child } from '../../bench/harness';

const { values } = parseArgs({
  options: {
    server: { type: 'string' },
    'api-token': { type: 'string' },
    school: { type: 'string' },
    gateways: { type: 'string' },
    agents: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '2' },
    kind: { type: 'string', default: 'lock' },
    fault: { type: 'string' },
    recover: { type: 'string' },
    'fault-at': { type: 'string', default: '0.5' },
    'recover-after-sec': { type: 'string', default: '1' },
    'deadline-sec': { type: 'string', default: '120' },
  },
});

const server = values.server?.replace(/\/+$/, '');
if (!server || !values['api-token'] || !values.school) {
  console.error('usage: npm run fault-drill -- --server URL --api-token TOKEN --school SCHOOL_ID [options] (see scripts/fault-drill/drill.ts)');
  process.exit(2);
}
const total = Number(values.agents);
const log = (line: Record<string, unknown>) => console.log(JSON.stringify({ at: new Date().toISOString(), ...line }));

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${server}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${values['api-token']}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function shell(what: string, command: string | undefined): void {
  if (!command) return;
  log({ phase: what, command });
  execSync(command, { stdio: 'inherit', shell: '/bin/bash' });
}

async function main(): Promise<void> {
  const { token } = (await api('POST', '/enrollment-tokens', { schoolId: values.school, label: 'fault drill', maxUses: null })) as { token: string };
  const gateways = values.gateways ?? server!;
  const clientCount = Number(values.clients);
  const per = Math.ceil(total / clientCount);
  const clients: Child[] = Array.from({ length: clientCount }, (_, i) =>
    run('scripts/fault-drill/drill-agents.ts', ['--gateways', gateways, '--token', token, '--count', String(Math.min(per, total - i * per)), '--index-offset', String(i * per), '--local-address', `127.0.0.${i + 2}`]),
  );
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
    log({ phase: 'connected', count: connected.reduce((n, c) => n + Number(c.count), 0) });
    const sum = (key: string) => [...latest.values()].reduce((n, s) => n + (s[key] ?? 0), 0);

    const bulk = (await api('POST', '/commands/bulk', { kind: values.kind, target: { schoolId: values.school }, ...(values.kind === 'lock' ? { params: { message: 'Exercice de reprise' } } : {}) })) as { batchId: string; created: number };
    log({ phase: 'bulk', ...bulk });
    while (sum('frames') < bulk.created * Number(values['fault-at'])) await sleep(20);
    shell('fault', values.fault);
    await sleep(Number(values['recover-after-sec']) * 1000);
    shell('recover', values.recover);
    const recoveredAt = Date.now();

    const deadline = recoveredAt + Number(values['deadline-sec']) * 1000;
    let progress: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      progress = await api('GET', `/commands?batchId=${bulk.batchId}`).catch(() => progress);
      const counts = (progress.counts ?? {}) as Record<string, number>;
      const final = ['succeeded', 'failed', 'expired', 'cancelled'].reduce((n, s) => n + (counts[s] ?? 0), 0);
      if (progress.state === 'done' && final === bulk.created) break;
      await sleep(250);
    }
    const finalS = (Date.now() - recoveredAt) / 1000;
    await sleep(2000); // the last stats lines
    const counts = (progress.counts ?? {}) as Record<string, number>;
    const lost = bulk.created - (counts.succeeded ?? 0);
    const line = `devices=${bulk.created} lost=${lost} executed_twice=${sum('executedTwice')} delivered_after_done=${sum('framesAfterDone')} final_after_recovery_s=${finalS.toFixed(1)}`;
    console.log(line);
    process.exitCode = lost === 0 && sum('executedTwice') === 0 && sum('framesAfterDone') === 0 ? 0 : 1;
  } finally {
    for (const c of clients) await stop(c);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
