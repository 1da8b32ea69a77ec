import type { JobHandlers } from '../../infra/queues/registry';
import type { AmapiBindingService } from './amapi-binding.service';
import type { AmapiCommandsService } from './amapi-commands.service';
import type { AmapiDevicesService } from './amapi-devices.service';

type AmapiJobs = Pick<JobHandlers, 'amapi.dispatch' | 'amapi.notification' | 'amapi.sync' | 'amapi.reconcile'>;

/**
 * The AMAPI channel's background work. Each organisation is done on its own: one enterprise's
 * failure (a revoked key, Google's quota) is logged as the job's error and leaves the others.
 */
export function amapiJobHandlers(amapi: { binding: AmapiBindingService; devices: AmapiDevicesService; commands: AmapiCommandsService }): AmapiJobs {
  async function eachBound(work: (organisationId: string) => Promise<unknown>) {
    const failures: string[] = [];
    const results: Record<string, unknown> = {};
    for (const organisationId of await amapi.binding.boundOrganisations()) {
      try {
        results[organisationId] = await work(organisationId);
      } catch (error) {
        failures.push(`${organisationId}: ${(error as Error).message}`);
      }
    }
    if (failures.length) throw new Error(`AMAPI work failed for ${failures.length} organisation(s): ${failures.join('; ')}`);
    return results;
  }

  return {
    'amapi.dispatch': (data) => amapi.commands.dispatch(data.deviceIds),
    'amapi.notification': (data) => amapi.devices.notification(data),
    'amapi.sync': () =>
      eachBound(async (organisationId) => ({ pulled: await amapi.devices.pull(organisationId), operations: await amapi.commands.poll(organisationId) })),
    'amapi.reconcile': async () => {
      const purged = await amapi.devices.purgeMessages();
      return { purged, organisations: await eachBound((organisationId) => amapi.devices.reconcile(organisationId)) };
    },
  };
}
