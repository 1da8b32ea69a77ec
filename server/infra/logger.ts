import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.csr',
  '*.privateKey',
  '*.secret',
];

export function createLogger(level: string, name = 'cartable'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}
