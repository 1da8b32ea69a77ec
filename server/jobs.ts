import type { Infra } from './infra/infra';
import type { JobHandlers } from './infra/queues/registry';
import type { Services } from './services';
import { commandJobHandlers } from './modules/commands/commands.jobs';

/** Binds every job type of the registry to the service that does the work. */
export function jobHandlers(services: Services, infra: Infra): Partial<JobHandlers> {
  void services;
  void infra;
  return { ...commandJobHandlers(services.commands) };
}
