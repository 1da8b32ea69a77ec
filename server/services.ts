import type { Infra } from './infra/infra';

/** The composition root of the domain: every service, built once from the process's infrastructure. */
export function createServices(infra: Infra) {
  const services = {
    /** First-start work every role needs before serving (idempotent, safe in several processes). */
    async startup(): Promise<void> {},
    async shutdown(): Promise<void> {},
  };
  void infra;
  return services;
}
export type Services = ReturnType<typeof createServices>;
