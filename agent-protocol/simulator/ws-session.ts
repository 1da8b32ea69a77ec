import WebSocket from 'ws';
import { TIMERS, createMessage, parseEnvelope, type Welcome } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** What the agent's connection policy (state, backoff, fallback) needs to hear from a socket. */
export interface WsSessionEvents {
  welcomed(welcome: Welcome): void;
  /** The connection has lasted a full heartbeat since welcome. */
  stable(): void;
  closed(code: number, reason: string, beforeWelcome: boolean): void;
}

/**
 * One WebSocket connection of §9: the challenge is answered with a signed hello, and the promise
 * settles at welcome (or rejects if the socket fails, closes or times out first). After welcome
 * it pings at each heartbeat and terminates the socket once the server has been silent for
 * `TIMERS.missedHeartbeats` heartbeats, since a dead peer may never deliver a close.
 */
export function openWsSession(agent: SimulatedAgent, events: WsSessionEvents, attemptTimeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(agent.state.endpoints!.ws, { perMessageDeflate: false, localAddress: agent.options.localAddress });
    agent.ws = ws;
    let welcomed = false;
    let lastReceivedAt = 0;
    // Where an attempt waits: for the connection and its upgrade, or for the welcome after the hello.
    const startedAt = Date.now();
    let helloAt = 0;
    const deadline = setTimeout(() => ws.terminate(), attemptTimeoutMs);
    ws.on('message', (data) => {
      lastReceivedAt = Date.now();
      const parsed = parseEnvelope(data as Buffer, undefined, { from: 'server' });
      if (!parsed.ok || !parsed.known) return;
      // Straight on this socket: while a probe runs (§15.3), the agent's messages still go over HTTPS.
      if (parsed.type === 'challenge') {
        helloAt = Date.now();
        return void ws.send(JSON.stringify(createMessage('hello', { ...agent.helloBody(), signature: agent.signNonce(parsed.body.nonce) })));
      }
      if (parsed.type === 'welcome') {
        welcomed = true;
        agent.emit('handshake', { challengeMs: helloAt - startedAt, welcomeMs: Date.now() - helloAt });
        clearTimeout(deadline);
        const { heartbeatSec } = parsed.body;
        const welcomedAt = Date.now();
        agent.every(heartbeatSec * 1000, () => {
          if (Date.now() - welcomedAt >= heartbeatSec * 1000) events.stable();
          if (Date.now() - lastReceivedAt > heartbeatSec * TIMERS.missedHeartbeats * 1000) return void ws.terminate();
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(createMessage('ping', {})));
        });
        events.welcomed(parsed.body);
        return resolve();
      }
      void agent.onMessage(parsed.envelope);
    });
    ws.on('error', (err) => {
      if (!welcomed) reject(err);
    });
    ws.on('close', (code, reason) => {
      clearTimeout(deadline);
      events.closed(code, reason.toString(), !welcomed);
      if (!welcomed) reject(Object.assign(new Error(`closed ${code} ${reason.toString()}`), { code }));
    });
  });
}
