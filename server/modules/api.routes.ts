import type { FastifyPluginAsync } from 'fastify';
import { authRoutes } from './access/auth.routes';
import { applePushCertificateRoutes } from './apple-mdm/push-certificate.routes';
import { usersRoutes } from './access/users.routes';
import { organisationRoutes } from './organisation/organisation.routes';
import { importRoutes } from './organisation/import.routes';
import { auditRoutes } from './audit/audit.routes';
import { enrollmentRoutes } from './enrollment/enrollment.routes';
import { devicesRoutes } from './devices/devices.routes';
import { commandsRoutes } from './commands/commands.routes';
import { profilesRoutes } from './profiles/profiles.routes';
import { appsRoutes } from './apps/apps.routes';
import { privacyRoutes } from './privacy/privacy.routes';
import { windowsPinRoutes } from './windows-mdm/windows-pin.routes';
import { amapiRoutes } from './amapi/amapi.routes';
import { registerIdempotency } from './idempotency/idempotency.routes';

/** The REST API for people and scripts, mounted under /api/v1 after the auth plugin. Each capability adds its routes here. */
export const apiRoutes: FastifyPluginAsync = async (app) => {
  registerIdempotency(app);
  await app.register(authRoutes);
  await app.register(usersRoutes);
  await app.register(organisationRoutes);
  await app.register(importRoutes);
  await app.register(auditRoutes);
  await app.register(enrollmentRoutes);
  await app.register(devicesRoutes);
  await app.register(commandsRoutes);
  await app.register(appsRoutes);
  await app.register(privacyRoutes);
  await app.register(applePushCertificateRoutes);
  await app.register(profilesRoutes);
  await app.register(windowsPinRoutes);
  await app.register(amapiRoutes);
};
