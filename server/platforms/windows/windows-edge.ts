import type { CommandQueuePort, InventoryPort } from '../../domain/platform-ports';
import type { Infra } from '../../infra/infra';
import type { OpenedSessions, WindowsDevicesService } from '../../modules/windows-mdm/windows-devices.service';
import type { PkiStore } from '../../modules/pki-store/pki-store.service';
import { LastSeen } from '../last-seen';
import { PeriodicWrites } from '../periodic-writes';
import { createWindowsEnrollment, PATHS } from './enrollment/enrollment-endpoints';
import { createManagementSession } from './management/management-session';
import { createSessionStore } from './management/session-state';
import { createWindowsPlatformAdapter } from './windows-platform.adapter';

export interface WindowsPorts {
  devices: WindowsDevicesService;
  queue: CommandQueuePort;
  inventory: InventoryPort;
  pki: Pick<PkiStore, 'caCertPem'>;
}

/** Windows MDM: MS-MDE2 enrollment, the OMA-DM management endpoint, and the platform adapter. */
export function createWindowsEdge(infra: Infra, ports: WindowsPorts) {
  const { config } = infra;
  const publicUrl = config.CARTABLE_PUBLIC_URL.replace(/\/$/, '');
  const adapter = createWindowsPlatformAdapter();
  const enrollment = createWindowsEnrollment({
    devices: ports.devices,
    caCertPem: () => ports.pki.caCertPem(),
    publicUrl,
    // Every 3 minutes for half an hour after enrollment, every 15 for two hours, then the configured interval.
    poll: { firstIntervalMin: 3, firstRetries: 10, secondIntervalMin: 15, secondRetries: 8, remainingIntervalMin: config.WINDOWS_MDM_POLL_INTERVAL_MIN },
    log: infra.log,
  });
  const lastSeen = new LastSeen(ports.inventory, infra.log);
  // Sessions are counted like last-seen times: in memory, written every few seconds.
  const sessionsOpened = new PeriodicWrites<Omit<OpenedSessions, 'deviceId'>>(
    (batch) => ports.devices.recordSessions(batch.map(({ id, value }) => ({ deviceId: id, ...value }))),
    (earlier, next) => ({ ...next, count: (earlier?.count ?? 0) + next.count }),
    infra.log,
    'Windows session count',
  );
  const management = createManagementSession({
    devices: ports.devices,
    queue: ports.queue,
    inventory: ports.inventory,
    lastSeen,
    sessionsOpened,
    adapter,
    sessions: createSessionStore(infra.redis, config.REDIS_PREFIX, config.WINDOWS_MDM_SESSION_TTL_SEC),
    serverUrl: `${publicUrl}${PATHS.management}`,
    thumbprintHeader: config.WINDOWS_MDM_CERT_THUMBPRINT_HEADER,
    commandsPerMessage: config.WINDOWS_MDM_COMMANDS_PER_MESSAGE,
    log: infra.log,
  });
  return { adapter, enrollment, management, lastSeen, sessionsOpened };
}
export type WindowsEdge = ReturnType<typeof createWindowsEdge>;
