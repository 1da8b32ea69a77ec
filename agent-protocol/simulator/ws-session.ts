import WebSocket from 'ws';
import { TIMERS, createMessage, parseEnvelope } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** What the agent's connection policy (state, backoff, fallback) needs to hear from a socket. */
export interface WsSessionEvents {
  welcomed(serverTime: string, heartbeatSec: number): void;
  /** The connection has lasted a full heartbeat since welcome. */
  stable(): void;
  closed(code: number, reason: string, beforeWelcome: boolean): void;
}

/**
 * One WebSocket connection of §9: the challenge is answered with a signed hello, and the promise
 * settles at welcome (or rejects if the socket fails or closes first). After welcome it pings at
 * each heartbeat and terminates the socket once the server has been silent for
 * `TIMERS.missedHeartbeats` heartbeats, since a dead peer may never deliver a close.
 */
export function openWsSession(agent: SimulatedAgent, events: WsSessionEvents): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(agent.state.endpoints!.ws, { perMessageDeflate: false, localAddress: agent.options.localAddress });
    agent.ws = ws;
    let welcomed = false;
    let lastReceivedAt = 0;
    ws.on('message', (data) => {
      lastReceivedAt = Date.now();
      const parsed = parseEnvelope(data as Buffer, undefined, { from: 'server' });
      if (!parsed.ok || !parsed.known) return;
      if (parsed.type === 'challenge') return void agent.sendRaw(createMessage('hello', { ...agent.helloBody(), signature: agent.signNonce(parsed.body.nonce) }));
      if (parsed.type === 'welcome') {
        welcomed = true;
        const { serverTime, heartbeatSec } = parsed.body;
        const welcomedAt = Date.now();
        agent.every(heartbeatSec * 1000, () => {
          if (Date.now() - welcomedAt >= heartbeatSec * 1000) events.stable();
          if (Date.now() - lastReceivedAt > heartbeatSec * TIMERS.missedHeartbeats * 1000) return void agent.ws?.terminate();
          agent.sendRaw(createMessage('ping', {}));
        });
        events.welcomed(serverTime, heartbeatSec);
        return resolve();
      }
      void agent.onMessage(parsed.envelope);
    });
    ws.on('error', (err) => {
      if (!welcomed) reject(err);
    });
    ws.on('close', (code, reason) => {
      events.closed(code, reason.toString(), !welcomed);
      if (!welcomed) reject(Object.assign(new Error(`closed ${code} ${reason.toString()}`), { code }));
    });
  });
}
