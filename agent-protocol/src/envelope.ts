/** The envelope wrapping every message, on the WebSocket and in HTTPS exchanges. */
import { Type, type Static } from '@sinclair/typebox';
import { FreeObject, Obj, Uuid } from './common';

export const MESSAGE_TYPE_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$';

export const Envelope = Obj(
  {
    type: Type.String({
      pattern: MESSAGE_TYPE_PATTERN,
      maxLength: 64,
      description: 'Message type, e.g. "hello" or "report.status". Unknown types are ignored.',
    }),
    id: Uuid('Sender-generated UUID, unique per message. Re-sending a message reuses its id.'),
    ref: Type.Optional(Uuid('Id of the message this one answers (ack, pong, command.ack, certificate.issued, error).')),
    seq: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Agent outbox messages except report.status: consecutive number per device identity, from 1 (see README §14.5).',
      }),
    ),
    body: FreeObject('Type-specific payload; always an object, possibly empty.'),
  },
  { title: 'Envelope', description: 'Cartable agent protocol message envelope.' },
);
export type Envelope = Static<typeof Envelope>;

/** Message types whose envelope MUST carry `ref`. */
export const REF_REQUIRED_TYPES: ReadonlySet<string> = new Set(['ack', 'command.ack', 'certificate.issued']);
