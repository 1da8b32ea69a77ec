import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateStore, freshState, type AgentState } from './state';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cartable-agent-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const numbered = (n: number): AgentState => ({ ...freshState(), inventoryAckedAt: `n${n}` });

describe('FileStateStore', () => {
  it('survives 500 concurrent saves of one agent and keeps the last state, with no temporary file left', async () => {
    const path = join(dir, 'agent-1.json');
    const store = new FileStateStore(path);
    const states = Array.from({ length: 500 }, (_, i) => numbered(i));
    await Promise.all(states.map((s) => store.save(s)));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(states[499]);
    expect(await readdir(dir)).toEqual(['agent-1.json']);
    expect(await store.load()).toEqual(states[499]);
  });

  it('writes the state as it was when save() was called, not as it became later', async () => {
    const store = new FileStateStore(join(dir, 'a.json'));
    const state = numbered(1);
    const saved = store.save(state);
    state.inventoryAckedAt = 'changed after the call';
    await saved;
    expect((await store.load())?.inventoryAckedAt).toBe('n1');
  });

  it('lets two stores (two processes) save the same path concurrently without failing', async () => {
    const path = join(dir, 'shared.json');
    const a = new FileStateStore(path);
    const b = new FileStateStore(path);
    const writes = Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).save(numbered(i)));
    await expect(Promise.all(writes)).resolves.toHaveLength(200);
    const last = JSON.parse(await readFile(path, 'utf8')) as AgentState;
    expect(last.inventoryAckedAt).toMatch(/^n\d+$/);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('saves one state per agent across a fleet saving at once', async () => {
    const stores = Array.from({ length: 100 }, (_, i) => new FileStateStore(join(dir, `agent-${i}.json`)));
    await Promise.all(stores.flatMap((store, i) => Array.from({ length: 20 }, (_, k) => store.save(numbered(i * 100 + k)))));
    const loaded = await Promise.all(stores.map((s) => s.load()));
    expect(loaded.map((s) => s?.inventoryAckedAt)).toEqual(stores.map((_, i) => `n${i * 100 + 19}`));
  });

  it('reports a failed write to its caller and recovers for the next save', async () => {
    const store = new FileStateStore(join(dir, 'missing', '\0bad', 'a.json'));
    await expect(store.save(numbered(1))).rejects.toThrow();
    const good = new FileStateStore(join(dir, 'nested', 'a.json'));
    await good.save(numbered(2));
    expect((await good.load())?.inventoryAckedAt).toBe('n2');
  });
});
