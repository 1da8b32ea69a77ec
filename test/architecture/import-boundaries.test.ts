import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The import boundary is enforced by ESLint, by directory and deny by default. Each probe is
 * linted as if it sat at the given path (nothing is written), so a rule that a file's name could
 * bypass fails here. The real ESLint runs in a child process, with the project's configuration.
 */
const ROOT = join(__dirname, '..', '..');

const FASTIFY = "import Fastify from 'fastify';\nexport const app = Fastify;\n";
const DRIZZLE = "import { sql } from 'drizzle-orm';\nexport const q = sql`select 1`;\n";
const PLATFORM = "import { createAgentEdge } from '../../platforms/agent/agent-edge';\nexport const edge = createAgentEdge;\n";
const WIRE = "import { createMessage } from '../../../agent-protocol/src';\nexport const m = createMessage;\n";
const REDIS = "import { Redis } from 'ioredis';\nexport const r = Redis;\n";
const MODULE_FROM_DOMAIN = "import { inScope } from '../modules/access/principal';\nexport const f = inScope;\n";

/** [what, path, code, refused] */
const PROBES: [string, string, string, boolean][] = [
  ['Fastify in a helper named like nothing in particular', 'server/modules/commands/batched.ts', FASTIFY, true],
  ['Fastify in a service', 'server/modules/commands/commands.service.ts', FASTIFY, true],
  ['Fastify in a jobs file', 'server/modules/commands/commands.jobs.ts', FASTIFY, true],
  ['Fastify in a repository', 'server/modules/commands/commands.repository.ts', FASTIFY, true],
  ['Fastify in a route file', 'server/modules/commands/commands.routes.ts', FASTIFY, false],
  ['drizzle in a helper', 'server/modules/commands/batched.ts', DRIZZLE, true],
  ['drizzle in a service', 'server/modules/devices/devices.service.ts', DRIZZLE, true],
  ['drizzle in a route file', 'server/modules/devices/devices.routes.ts', DRIZZLE, true],
  ['drizzle in a device protocol adapter', 'server/platforms/agent/gateway.ts', DRIZZLE, true],
  ['drizzle in the domain', 'server/domain/platform-ports.ts', DRIZZLE, true],
  ['drizzle in a repository', 'server/modules/devices/devices.repository.ts', DRIZZLE, false],
  ['a platform folder in a helper', 'server/modules/commands/batched.ts', PLATFORM, true],
  ['a platform folder in a service', 'server/modules/commands/commands.service.ts', PLATFORM, true],
  ['a platform folder in a route file', 'server/modules/commands/commands.routes.ts', PLATFORM, true],
  ['a platform folder in a repository', 'server/modules/commands/commands.repository.ts', PLATFORM, true],
  ['a wire format in a helper', 'server/modules/commands/batched.ts', WIRE, true],
  ['a wire format in a service', 'server/modules/enrollment/enrollment.service.ts', WIRE, true],
  ['a wire format in a route file', 'server/modules/enrollment/enrollment.routes.ts', WIRE, true],
  ['a wire format in its platform adapter', 'server/platforms/agent/agent-messages.ts', WIRE, false],
  ['Redis in a service', 'server/modules/access/auth.service.ts', REDIS, true],
  ['a module in the domain', 'server/domain/errors.ts', MODULE_FROM_DOMAIN, true],
];

let results: string[][];

beforeAll(() => {
  const input = JSON.stringify(PROBES.map(([, filePath, code]) => ({ filePath, code })));
  results = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'lint-probe.ts'), ROOT], { input, encoding: 'utf8' })) as string[][];
}, 60_000);

describe('import boundaries', () => {
  it.each(PROBES.map((p, i) => [p[0], p[3], i] as const))('%s: refused=%s', (_what, refused, index) => {
    expect(results[index]!.length > 0).toBe(refused);
  });
});
