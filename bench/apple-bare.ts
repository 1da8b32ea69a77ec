/**
 * The baseline of `bench apple-checkin`: a bare Fastify server that parses each report's plist
 * and answers an empty 200, with no signature check, database or queue.
 */
import Fastify from 'fastify';
import plist from 'plist';

async function server(): Promise<void> {
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.put('/apple/mdm', async (request, reply) => {
    const message = plist.parse((request.body as Buffer).toString('utf8')) as { Status?: string };
    if (message.Status !== 'Idle') return reply.code(400).send();
    return reply.code(200).send();
  });
  const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  process.stdout.write(`${JSON.stringify({ event: 'listening', address })}\n`);
}

void server();
