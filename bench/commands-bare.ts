/**
 * The baseline of `bench commands`: a bare @fastify/websocket server and plain sockets, no
 * protocol, no database. `server` mode: GET /send writes one frame to every socket and answers
 * once every socket has answered it. `clients URL N ADDRESS` mode: opens N sockets that answer
 * each frame with one frame.
 */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';
import { holdSockets } from './bare-sockets';

async function server(): Promise<void> {
  const app = Fastify();
  await app.register(websocket, { options: { perMessageDeflate: false } });
  let answered = 0;
  let onAnswer: (() => void) | undefined;
  app.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', () => {
      answered++;
      onAnswer?.();
    });
  });
  app.get('/send', async () => {
    const sockets = [...app.websocketServer.clients];
    answered = 0;
    const t0 = process.hrtime.bigint();
    const done = new Promise<void>((resolve) => {
      onAnswer = () => answered === sockets.length && resolve();
    });
    const frame = JSON.stringify({ type: 'command', body: { kind: 'lock' } });
    for (const s of sockets) s.send(frame);
    await done;
    return { sockets: sockets.length, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
  });
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  process.stdout.write(`${JSON.stringify({ event: 'listening', address })}\n`);
}

const [mode, url, count, address] = process.argv.slice(2);
if (mode === 'server') void server();
else void holdSockets(url!, Number(count), address, (ws) => ws.on('message', () => ws.send('{"type":"ack"}')));
