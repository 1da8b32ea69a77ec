/** The optional push channel (README §23): registration tokens and the wake-up payload. */
import { Type, type Static } from '@sinclair/typebox';
import { NonEmptyString, Obj } from './common';

/** Agent → server, through the outbox, when the provider issues a new token (or the agent loses it). */
export const PushToken = Obj(
  {
    provider: NonEmptyString('Push provider, "fcm".'),
    token: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'The new registration token. Absent: stop pushing to this device.' }),
    ),
    projectId: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { title: 'push.token' },
);
export type PushToken = Static<typeof PushToken>;

/** The `data` of every push message the server sends: nothing but "connect now". */
export const PushData = Obj({ cartable: Type.Literal('wake') }, { title: 'PushData' });
export type PushData = Static<typeof PushData>;
