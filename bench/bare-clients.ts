/** Opens N plain WebSockets to the baseline server and holds them; prints a JSON line once all are open. */
import { holdSockets } from './bare-sockets';

const [url, count, address] = process.argv.slice(2);
void holdSockets(url!, Number(count), address);
