import type { JobHandlers } from './infra/queues/registry';
import type { Services } from './services';
import { commandJobHandlers } from './modules/commands/commands.jobs';
import { auditJobHandlers } from './modules/audit/audit.jobs';
import { appleEnrollmentJobHandlers } from './modules/apple-enrollment/apple-enrollment.jobs';
import { campaignJobHandlers } from './modules/campaigns/campaigns.jobs';
import { privacyJobHandlers } from './modules/privacy/privacy.jobs';
import { webhookJobHandlers } from './modules/webhooks/webhooks.jobs';
import { amapiJobHandlers } from './modules/amapi/amapi.jobs';

/** Binds every job type of the registry to the service that does the work. */
export function jobHandlers(services: Services): JobHandlers {
  return {
    ...commandJobHandlers(services.commandBatches, services.reconciler),
    'profiles.rollout': async (data) => services.profileRollouts.run(data.rolloutId),
    ...auditJobHandlers(services.auditChain),
    ...appleEnrollmentJobHandlers(services.appleEnrollment),
    ...privacyJobHandlers(services.retention),
    ...campaignJobHandlers(services.campaignEngine),
    ...webhookJobHandlers(services.webhooks),
    'location.alert': async (data) => services.locationAlerts.notify(data.alertId),
    ...amapiJobHandlers(services.amapi),
  };
}
