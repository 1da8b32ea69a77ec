/** `npm run bench -- <scenario> [options]`: runs one benchmark scenario from bench/. */
const SCENARIOS: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  agents: () => import('./agents'),
  assign: () => import('./assign'),
  audit: () => import('./audit'),
  commands: () => import('./commands'),
  console: () => import('./console'),
  fanout: () => import('./fanout'),
  'gateway-restart': () => import('./gateway-restart'),
  metrics: () => import('./metrics'),
  'apple-checkin': () => import('./apple-checkin'),
  'windows-sessions': () => import('./windows-sessions'),
};

const [name, ...args] = process.argv.slice(2);
const load = name ? SCENARIOS[name] : undefined;
if (!load) {
  console.error(`usage: npm run bench -- <${Object.keys(SCENARIOS).join('|')}> [options]`);
  process.exit(2);
}
load()
  .then((scenario) => scenario.main(args))
  .then(() => process.exit())
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
