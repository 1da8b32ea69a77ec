import { accessibilityTests } from './accessibility';
import { openConsoleWorld, type ConsoleWorld } from './console-world';
import { scenarioTests } from './scenario';

/**
 * The console in a real browser (Debian's Chromium through playwright-core) against a real
 * server, simulated tablets and a real OpenID Connect provider. One world for both parts: one
 * server, one provider and one browser keep the suite light on a shared machine.
 */
jest.setTimeout(180_000);

let w: ConsoleWorld;

beforeAll(async () => {
  w = await openConsoleWorld();
});
afterAll(async () => {
  await w?.close();
});
afterEach(() => {
  // A page that breaks the Content-Security-Policy (an inline script or style) fails its test.
  expect(w.cspViolations).toEqual([]);
});

describe('the scenario', () => scenarioTests(() => w));
describe('accessibility', () => accessibilityTests(() => w));
