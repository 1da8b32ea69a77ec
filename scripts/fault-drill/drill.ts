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
 *     [--fault-at 0.5] [--hold-ms 0] [--recover-after-sec 1] [--deadline-sec 120]
 *
 * `--hold-ms` makes each tablet wait before acknowledging a command, so that the fault finds
 * commands sent and not yet acknowledged.
 *
 * The last line reads: devices=N not_succeeded=L executed_twice=T delivered_after_done=D final_after_recovery_s=S
 * and the drill exits non-zero when a command had not succeeded by the deadline, ran twice, or
 * was delivered again after its result was stored.
 */
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { drillLine, drillPassed, runDrill } from './drill-run';

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
    'hold-ms': { type: 'string', default: '0' },
    'recover-after-sec': { type: 'string', default: '1' },
    'deadline-sec': { type: 'string', default: '120' },
  },
});

const server = values.server?.replace(/\/+$/, '');
if (!server || !values['api-token'] || !values.school) {
  console.error('usage: npm run fault-drill -- --server URL --api-token TOKEN --school SCHOOL_ID [options] (see scripts/fault-drill/drill.ts)');
  process.exit(2);
}
const log = (line: Record<string, unknown>) => console.log(JSON.stringify({ at: new Date().toISOString(), ...line }));

/** Runs an operator's command (the fault or the recovery), if one was given. */
const shell = (what: string, command: string | undefined) => async () => {
  if (!command) return;
  log({ phase: what, command });
  execSync(command, { stdio: 'inherit', shell: '/bin/bash' });
};

runDrill({
  server,
  apiToken: values['api-token'],
  school: values.school,
  gateways: (values.gateways ?? server).split(',').filter(Boolean),
  agents: Number(values.agents),
  clients: Number(values.clients),
  kind: values.kind!,
  faultAt: Number(values['fault-at']),
  holdMs: Number(values['hold-ms']),
  recoverAfterSec: Number(values['recover-after-sec']),
  deadlineSec: Number(values['deadline-sec']),
  fault: shell('fault', values.fault),
  recover: shell('recover', values.recover),
  log,
})
  .then((result) => {
    console.log(drillLine(result));
    process.exitCode = drillPassed(result) ? 0 : 1;
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
