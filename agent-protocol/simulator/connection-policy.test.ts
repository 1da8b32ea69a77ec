import { TIMERS, WS_CLOSE } from '../src';
import { ConnectionPolicy, type Decision } from './connection-policy';

/** A seeded generator, so that every run draws the same delays. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const go = (d: Decision) => {
  if (d.stop) throw new Error('unexpected stop');
  return d;
};

describe('ConnectionPolicy (§9.5, §15.3)', () => {
  it('tries HTTPS at once from the third WebSocket failure on, and the WebSocket first after each backoff', () => {
    const p = new ConnectionPolicy({ random: () => 0.5 });
    expect(go(p.wsFailed())).toEqual({ stop: false, transport: 'ws', delayMs: 500 });
    expect(go(p.wsFailed())).toEqual({ stop: false, transport: 'ws', delayMs: 1000 });
    expect(go(p.wsFailed())).toEqual({ stop: false, transport: 'https', delayMs: 0 });
    // HTTPS fails too: the backoff, then a WebSocket again (the pair counted as one attempt).
    expect(go(p.httpsFailed())).toEqual({ stop: false, transport: 'ws', delayMs: 2000 });
    expect(go(p.wsFailed())).toEqual({ stop: false, transport: 'https', delayMs: 0 });
    expect(go(p.httpsFailed())).toEqual({ stop: false, transport: 'ws', delayMs: 4000 });
  });

  it('stays on the WebSocket without fallback, and caps the backoff at 5 minutes', () => {
    const p = new ConnectionPolicy({ fallback: false, random: () => 0.999 });
    let last: Decision = { stop: true };
    for (let i = 0; i < 20; i++) last = go(p.wsFailed());
    expect(go(last).transport).toBe('ws');
    expect(go(last).delayMs).toBeLessThan(TIMERS.backoffMaxSec * 1000);
    expect(go(last).delayMs).toBeGreaterThan(TIMERS.backoffMaxSec * 990);
  });

  it('does not count server refusals (44xx) towards the fallback, waits the longest after 4400/4401/4409, and stops on 4403', () => {
    const p = new ConnectionPolicy({ random: () => 0.5 });
    for (let i = 0; i < 5; i++) expect(go(p.wsFailed(WS_CLOSE.AUTH_FAILED))).toMatchObject({ transport: 'ws', delayMs: 150_000 });
    expect(go(p.wsFailed(WS_CLOSE.HELLO_TIMEOUT))).toMatchObject({ transport: 'ws', delayMs: 500 });
    expect(p.wsFailed(WS_CLOSE.DEVICE_REVOKED)).toEqual({ stop: true });
    expect(p.wsClosed(WS_CLOSE.DEVICE_REVOKED)).toEqual({ stop: true });
    expect(p.httpsFailed(403)).toEqual({ stop: true });
  });

  it('resets the backoff once a WebSocket is stable or an exchange succeeded', () => {
    const p = new ConnectionPolicy({ random: () => 0.5 });
    for (let i = 0; i < 6; i++) p.wsFailed(1006);
    p.wsWelcomed();
    p.wsStable();
    expect(go(p.wsClosed(1006))).toEqual({ stop: false, transport: 'ws', delayMs: 500 });
    for (let i = 0; i < 3; i++) p.wsFailed(1006);
    p.httpsSucceeded();
    expect(p.onFallback).toBe(true);
    expect(go(p.httpsFailed())).toEqual({ stop: false, transport: 'ws', delayMs: 500 });
    expect(p.onFallback).toBe(false);
  });

  it('probes the WebSocket 30 s after falling back, doubling up to 15 minutes, and resets after a welcome', () => {
    const upper = new ConnectionPolicy({ random: () => 1 });
    const lower = new ConnectionPolicy({ random: () => 0 });
    const upperDelays: number[] = [];
    const lowerDelays: number[] = [];
    for (let i = 0; i < 8; i++) {
      upperDelays.push(upper.nextProbeDelayMs());
      lowerDelays.push(lower.nextProbeDelayMs());
      upper.probeFailed();
      lower.probeFailed();
    }
    expect(upperDelays).toEqual([30, 60, 120, 240, 480, 900, 900, 900].map((s) => s * 1000));
    expect(lowerDelays).toEqual([15, 30, 60, 120, 240, 450, 450, 450].map((s) => s * 1000));
    upper.wsWelcomed();
    expect(upper.nextProbeDelayMs()).toBe(30_000);
  });

  it('never uses the WebSocket when HTTPS only', () => {
    const p = new ConnectionPolicy({ httpsOnly: true, random: () => 0.5 });
    expect(p.next).toBe('https');
    expect(go(p.httpsFailed())).toMatchObject({ transport: 'https' });
  });

  /**
   * A fleet of agents connected on the WebSocket when the whole server goes away for 12 s:
   * each agent follows its own policy, with its own random draws, against the same outage.
   */
  function outage(agents: number, outageMs: number, fallback = true) {
    const back: number[] = [];
    for (let seed = 1; seed <= agents; seed++) {
      const p = new ConnectionPolicy({ random: seeded(seed), fallback });
      p.wsWelcomed();
      const up = (t: number) => t >= outageMs;
      let t = 0;
      let d = go(p.wsClosed(1006));
      for (let steps = 0; ; steps++) {
        if (steps > 1000) throw new Error(`agent ${seed} never came back`);
        t += d.delayMs;
        if (d.transport === 'ws') {
          if (up(t)) {
            p.wsWelcomed();
            break;
          }
          d = go(p.wsFailed(1006));
        } else if (up(t)) {
          p.httpsSucceeded();
          for (t += p.nextProbeDelayMs(); !up(t); t += p.nextProbeDelayMs()) p.probeFailed();
          p.wsWelcomed();
          break;
        } else {
          d = go(p.httpsFailed());
        }
      }
      back.push(t);
    }
    return back;
  }
  const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

  it('brings 20 of 20 agents back on the WebSocket after a 12 s outage, most within 45 s', () => {
    const back = outage(20, 12_000);
    expect(back).toHaveLength(20);
    expect(back.filter((t) => t < 45_000).length).toBeGreaterThanOrEqual(18);
  });

  it('costs nothing after an outage: each agent is back exactly when it would be without the fallback', () => {
    expect(outage(2000, 12_000)).toEqual(outage(2000, 12_000, false));
  });

  it('over 2,000 agents, half are back on the WebSocket within 20 s of the outage start and 95 % within 40 s, none stranded', () => {
    const back = sorted(outage(2000, 12_000));
    expect(back[999]).toBeLessThan(20_000);
    expect(back[1899]).toBeLessThan(40_000);
    // The slowest waited out a long backoff draw: never more than the 5-minute cap past the outage.
    expect(back.at(-1)).toBeLessThan(12_000 + TIMERS.backoffMaxSec * 1000);
  });
});
