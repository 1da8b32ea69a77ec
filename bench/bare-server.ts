/** The baseline: a bare @fastify/websocket server that only holds plain sockets and reports its RSS. */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';

async function start(): Promise<void> {
  const app = Fastify();
  await app.register(websocket, { options: { maxPayload: 256 * 1024, perMessageDeflate: false } });
  app.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', (data) => socket.send(data));
  });
  app.get('/rss', async () => ({ rss: process.memoryUsage().rss, sockets: app.websocketServer.clients.size }));
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  process.stdout.write(`${JSON.stringify({ event: 'listening', address })}\n`);
}
void start();
