/** Opens N plain WebSockets to the baseline server and holds them; prints a JSON line once all are open. */
import WebSocket from 'ws';

const [url, countArg, address] = process.argv.slice(2);
const count = Number(countArg);
const sockets: WebSocket[] = [];
let open = 0;
let next = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url!, { perMessageDeflate: false, localAddress: address });
    ws.on('open', () => {
      open++;
      resolve();
    });
    ws.on('error', () => resolve());
    sockets.push(ws);
  });
}

async function main(): Promise<void> {
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
void main();
