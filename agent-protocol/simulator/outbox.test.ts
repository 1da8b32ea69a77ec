import { createMessage, parseEnvelope, type Envelope } from '../src';
import { deviceProfile } from './device-profile';
import { DEFAULT_OUTBOX_LIMITS, enqueue, type OutboxState } from './outbox';

const profile = deviceProfile(7);
const fresh = {
  apps: () => createMessage('report.apps', profile.apps()),
  inventory: () => createMessage('report.inventory', profile.inventory()),
};
const event = (kind = 'boot') => createMessage('report.events', { events: [{ kind, at: '2026-12-01T08:00:00Z' }] });
const status = () => createMessage('report.status', profile.status());
const location = () => createMessage('report.location', profile.location());
const result = (n: number) => createMessage('command.result', { commandId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, status: 'succeeded' });

describe('outbox (§14.3, §14.5)', () => {
  it('numbers every outbox message but report.status, from 1, consecutively, and keeps the number of a re-send', () => {
    const state: OutboxState = { outbox: [] };
    const first = event('enrollment_complete');
    enqueue(state, first, fresh);
    enqueue(state, status(), fresh);
    enqueue(state, fresh.apps(), fresh);
    enqueue(state, result(1), fresh);
    expect(state.outbox.map((m) => [m.type, m.seq])).toEqual([
      ['report.events', 1],
      ['report.status', undefined],
      ['report.apps', 2],
      ['command.result', 3],
    ]);
    enqueue(state, structuredClone(first), fresh);
    expect(state.outbox.at(-1)?.seq).toBe(1);
    expect(state.nextSeq).toBe(4);
    for (const m of state.outbox) expect(parseEnvelope(JSON.stringify(m))).toMatchObject({ ok: true, known: true });
  });

  it('replaces an unacknowledged report.status by the newer one', () => {
    const state: OutboxState = { outbox: [] };
    enqueue(state, status(), fresh);
    enqueue(state, event(), fresh);
    const newer = status();
    enqueue(state, newer, fresh);
    expect(state.outbox.map((m) => m.type)).toEqual(['report.events', 'report.status']);
    expect(state.outbox[1]).toBe(newer);
  });

  it('when full, drops old locations first, then folds apps and inventory into fresh full reports, then old events, never results', () => {
    const limits = { ...DEFAULT_OUTBOX_LIMITS, maxMessages: 12, maxLocations: 3 };
    const state: OutboxState = { outbox: [] };
    const results = [result(1), result(2)];
    const queued: Envelope[] = [results[0]!, event('e1'), fresh.apps(), location(), location(), location(), fresh.inventory(), location(), location(), results[1]!, event('e2'), fresh.apps()];
    for (const m of queued) expect(enqueue(state, m, fresh, limits)).toEqual([]);
    expect(state.outbox).toHaveLength(12);

    // One more location: of the 6, the 3 oldest go (only the newest 3 are kept), and everything else fits.
    let dropped = enqueue(state, location(), fresh, limits);
    expect(dropped.map((m) => m.type)).toEqual(['report.location', 'report.location', 'report.location']);
    expect(state.outbox.filter((m) => m.type === 'report.location')).toHaveLength(3);

    // Filling up with events: apps fold into one fresh full list at the end, then inventory, then old events go.
    for (let i = 0; i < 3; i++) dropped = [...dropped, ...enqueue(state, event(`x${i}`), fresh, limits)];
    const apps = state.outbox.filter((m) => m.type === 'report.apps');
    expect(apps).toHaveLength(1);
    expect(apps[0]!.body.full).toBe(true);
    expect(state.outbox.length).toBeLessThanOrEqual(12);
    expect(state.outbox.filter((m) => m.type === 'command.result')).toEqual(results);
    const seqs = state.outbox.map((m) => m.seq).filter((s): s is number => s !== undefined);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('never drops results, even past the bound', () => {
    const limits = { ...DEFAULT_OUTBOX_LIMITS, maxMessages: 5 };
    const state: OutboxState = { outbox: [] };
    for (let i = 0; i < 10; i++) enqueue(state, result(i), fresh, limits);
    expect(state.outbox).toHaveLength(10);
  });

  it('bounds by bytes too', () => {
    const limits = { ...DEFAULT_OUTBOX_LIMITS, maxBytes: 4000 };
    const state: OutboxState = { outbox: [] };
    for (let i = 0; i < 50; i++) enqueue(state, event(`event-${i}`), fresh, limits);
    expect(Buffer.byteLength(JSON.stringify(state.outbox))).toBeLessThanOrEqual(4000 + state.outbox.length);
    expect(state.outbox.at(-1)?.body).toMatchObject({ events: [{ kind: 'event-49' }] });
  });
});
