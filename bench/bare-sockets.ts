import WebSocket from 'ws';

/**
 * The client side of the bare baselines: opens `count` plain WebSockets, 100 at a time, and holds
 * them until SIGTERM. Prints a `connected` JSON line once each has opened or failed.
 * `configure` adds a baseline's own behaviour to each socket.
 */
export async function holdSockets(url: string, count: number, address: string | undefined, configure: (ws: WebSocket) => void = () => undefined): Promise<void> {
  const sockets: WebSocket[] = [];
  let open = 0;
  let next = 0;
  const openOne = () =>
    new Promise<void>((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: address });
      ws.on('open', () => {
        open++;
        resolve();
      });
      ws.on('error', () => resolve());
      configure(ws);
      sockets.push(ws);
    });
  await Promise.all(
    Array.from({ length: 100 }, async () => {
      while (next < count) {
        next++;
        await openOne();
      }
    }),
  );
  process.stdout.write(`${JSON.stringify({ event: 'connected', count: open })}\n`);
  process.on('SIGTERM', () => {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  });
}
