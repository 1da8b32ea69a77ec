import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

/**
 * A browser-like client of the console through `inject`: it keeps the cookies it is given and
 * sends forms with the CSRF token of the page they come from.
 */
export class ConsoleClient {
  readonly cookies: Record<string, string> = {};

  constructor(
    private readonly app: FastifyInstance,
    private readonly ip = '127.0.0.1',
    private readonly headers: Record<string, string> = { 'accept-language': 'fr-FR,fr;q=0.9' },
  ) {}

  private keep(res: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of res.cookies as Array<{ name: string; value: string; expires?: Date; maxAge?: number }>) {
      if (c.value === '' || (c.expires && c.expires.getTime() < Date.now()) || c.maxAge === 0) delete this.cookies[c.name];
      else this.cookies[c.name] = c.value;
    }
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.keep(await this.app.inject({ url, cookies: this.cookies, remoteAddress: this.ip, headers: { ...this.headers, ...headers } }));
  }

  /** Posts a form as a browser would after opening `from` (whose CSRF token it sends). */
  async post(url: string, fields: Record<string, string>, from = url): Promise<LightMyRequestResponse> {
    const page = await this.get(from);
    const csrf = csrfOf(page.body);
    return this.postRaw(url, { ...(csrf ? { _csrf: csrf } : {}), ...fields });
  }

  async postRaw(url: string, fields: Record<string, string>): Promise<LightMyRequestResponse> {
    return this.keep(
      await this.app.inject({
        method: 'POST',
        url,
        cookies: this.cookies,
        remoteAddress: this.ip,
        headers: { ...this.headers, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(fields).toString(),
      }),
    );
  }

  async signIn(email: string, password: string): Promise<LightMyRequestResponse> {
    return this.post('/console/login', { email, password });
  }
}

export function csrfOf(html: string): string | undefined {
  return /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
}

/** The page's text without markup or repeated spaces, for plain assertions. */
export function textOf(html: string): string {
  return html
    .replace(/<script[\s\S]*?<\/script>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&nbsp;|\u202f|\u00a0/g, ' ')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
