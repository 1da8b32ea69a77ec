import type { Infra } from './infra/infra';
import { createAuthService } from './modules/access/auth.service';
import { createUsersService } from './modules/access/users.service';
import { createApiTokensService } from './modules/access/tokens.service';
import { createOrganisationService } from './modules/organisation/organisation.service';
import { createCsvImportService } from './modules/organisation/csv-import.service';
import { createAuditTrailService } from './modules/audit/audit-trail.service';
import { createAuditChainService } from './modules/audit/audit-chain.service';
import { linkLegacyEvents } from './modules/audit/audit-legacy.service';
import { CA_ORGANISATION, createPkiStore } from './modules/pki-store/pki-store.service';
import { createEnrollmentService } from './modules/enrollment/enrollment.service';
import { createDeviceAgentService } from './modules/devices/device-agent.service';
import { createDevicesService } from './modules/devices/devices.service';
import { Presence } from './infra/presence';
import { createCommandServices } from './platforms/command-services';

/** The composition root of the domain: every service, built once from the process's infrastructure. */
export function createServices(infra: Infra) {
  const pki = createPkiStore({ db: infra.database.db, passphrase: infra.secrets.passphrase, organisationName: CA_ORGANISATION });
  const services = {
    pki,
    auth: createAuthService({ db: infra.database.db, redis: infra.redis, redisPrefix: infra.config.REDIS_PREFIX }),
    users: createUsersService({ db: infra.database.db }),
    apiTokens: createApiTokensService({ db: infra.database.db }),
    organisation: createOrganisationService({ db: infra.database.db }),
    csvImport: createCsvImportService({ db: infra.database.db }),
    auditTrail: createAuditTrailService({ db: infra.database.db }),
    auditChain: createAuditChainService({ db: infra.database.db, pki, auditKey: infra.secrets.auditKey }),
    enrollment: createEnrollmentService({ db: infra.database.db, secrets: infra.secrets, pki, publicUrl: infra.config.CARTABLE_PUBLIC_URL, heartbeatSec: infra.config.AGENT_HEARTBEAT_SEC }),
    deviceAgent: createDeviceAgentService({ db: infra.database.db, pki }),
    devices: createDevicesService({ db: infra.database.db, presence: new Presence(infra.redis, infra.config.REDIS_PREFIX, infra.config.AGENT_HEARTBEAT_SEC * 2), heartbeatSec: infra.config.AGENT_HEARTBEAT_SEC }),
    ...createCommandServices(infra),
    /** First-start work every role needs before serving (idempotent, safe in several processes). */
    async startup(): Promise<void> {
      await pki.load();
      const linked = await linkLegacyEvents(infra.database.db, infra.secrets.auditKey);
      if (linked) infra.log.info(linked, 'audit events of the unkeyed chain linked into the keyed chains');
    },
  };
  return services;
}
export type Services = ReturnType<typeof createServices>;
