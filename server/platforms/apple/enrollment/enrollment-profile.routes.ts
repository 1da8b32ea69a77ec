import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ProfileServer } from './profile-server';

export interface EnrollmentProfileRoutesOptions {
  profiles: ProfileServer;
  rateLimitPerMin: number;
}

/**
 * The iPad's enrollment link: Safari downloads the signed profile, Settings offers to install
 * it. Problems (unknown link, inactive token, no push certificate) answer as problem documents.
 */
export function enrollmentProfileRoutes(options: EnrollmentProfileRoutesOptions): FastifyPluginAsyncTypebox {
  return async (app) => {
    const limit = app.addressLimit('enrollment', options.rateLimitPerMin, 60_000);
    app.get(
      '/enroll/:link',
      {
        config: { access: { device: 'enrollment_token' } },
        onRequest: limit,
        schema: { tags: ['apple'], params: Type.Object({ link: Type.String({ minLength: 1, maxLength: 100 }) }) },
      },
      async (request, reply) => {
        const body = await options.profiles.profile(request.params.link, request.ip);
        return reply
          .header('cache-control', 'no-store')
          .header('content-disposition', 'attachment; filename="cartable-enrollment.mobileconfig"')
          .type('application/x-apple-aspen-config')
          .send(body);
      },
    );
  };
}
