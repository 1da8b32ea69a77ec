import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';
import { TokenParams } from '../enrollment/enrollment.schemas';

const WindowsPin = Type.Object({
  userName: Type.String({ description: 'What to type as the user name in Windows: the school code' }),
  pin: Type.String({ description: 'What to type as the password; it serves for one tablet' }),
  expiresAt: Type.String({ format: 'date-time' }),
});

/** One-time PINs with which a Windows tablet enrolls under an enrollment token ("Enroll only in device management"). */
export const windowsPinRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const access = { access: { permission: 'enrollment.manage' as const, audit: { action: 'enrollment_token.windows_pin', target: 'enrollment_token' } } };
  app.post('/enrollment-tokens/:id/windows-pin', { config: access, schema: { tags: ['enrollment'], params: TokenParams, response: { 201: WindowsPin } } }, async (request, reply) =>
    reply.code(201).send(await app.services.windowsDevices.createPin(request.scope, actorOf(request), request.params.id)),
  );
};
