/**
 * The baseline of `bench windows-sessions`: a bare Fastify server that parses each OMA-DM
 * message and answers the SyncHdr status, with no identity, database, Redis or queue.
 */
import Fastify from 'fastify';
import { buildSyncML, parseSyncML } from '../server/platforms/windows/management/syncml-message';

async function server(): Promise<void> {
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/ManagementServer/MDM.svc', async (request, reply) => {
    const message = parseSyncML(String(request.body));
    const body = buildSyncML({ sessionId: message.sessionId, msgId: message.msgId, deviceId: message.source, serverUrl: 'bare' }, [{ cmdRef: '0', cmd: 'SyncHdr', code: 200 }, ...message.commands.map((c) => ({ cmdRef: c.cmdId, cmd: c.element, code: 200 }))], []);
    return reply.header('content-length', Buffer.byteLength(body)).type('application/vnd.syncml.dm+xml').send(body);
  });
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  process.stdout.write(`${JSON.stringify({ event: 'listening', address })}\n`);
}

void server();
