import type { FastifyReply } from 'fastify';
import { STATUS_CODES } from 'node:http';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: unknown[];
  [extra: string]: unknown;
}

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  return { type: `urn:cartable:problem:${code}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code, ...extra };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type('application/problem+json; charset=utf-8').send(body);
}
