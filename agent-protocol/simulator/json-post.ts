import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A JSON POST over kept-alive connections, with node:http rather than fetch: fetch took about
 * three times the CPU per request, and the simulators share their cores with the server they
 * load. Same request on the wire: method, content type and body.
 */
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

export function postJson(url: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const secure = url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        } catch (error) {
          reject(error as Error);
        }
      });
    };
    const options = { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': payload.length } };
    const req = secure ? httpsRequest(url, { ...options, agent: agents.https }, onResponse) : httpRequest(url, { ...options, agent: agents.http }, onResponse);
    req.on('error', reject);
    req.end(payload);
  });
}
