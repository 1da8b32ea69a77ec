import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Default metrics whose every reading walks all of the process's handles or file descriptors: on
 * a gateway holding 10,000 sockets, they held the event loop about 20 ms per scrape, for a count
 * that `cartable_connected_devices` already gives.
 */
const PER_HANDLE_METRICS = ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total', 'process_open_fds'];

/** One registry per app instance, so several instances in one process (tests) do not collide. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });
  for (const name of PER_HANDLE_METRICS) registry.removeSingleMetric(name);
  return {
    registry,
    httpDuration: new Histogram({
      name: 'cartable_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    connectedDevices: new Gauge({ name: 'cartable_connected_devices', help: 'Devices holding a socket to this process', registers: [registry] }),
    agentMessages: new Counter({ name: 'cartable_agent_messages_total', help: 'Agent protocol messages received, by type', labelNames: ['type'] as const, registers: [registry] }),
    queueJobs: new Gauge({ name: 'cartable_queue_jobs', help: 'BullMQ jobs by queue and state', labelNames: ['queue', 'state'] as const, registers: [registry] }),
    auditChainLock: new Histogram({
      name: 'cartable_audit_chain_lock_seconds',
      help: 'How long a writer held its audit chain lock, from acquired to committed',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    scepRequests: new Counter({ name: 'cartable_scep_requests_total', help: 'SCEP PKIOperations answered, by outcome (issued, reissued, refused, bad_message)', labelNames: ['outcome'] as const, registers: [registry] }),
    campaignDevices: new Gauge({ name: 'cartable_campaign_devices', help: 'Devices of each live campaign by state (pending, sent, succeeded, failed, skipped), as of its last advance', labelNames: ['campaign', 'status'] as const, registers: [registry] }),
    campaignCommands: new Counter({ name: 'cartable_campaign_commands_total', help: 'Command rows created by campaign fan-outs', registers: [registry] }),
    positionsRefused: new Counter({ name: 'cartable_positions_refused_total', help: 'Positions from devices not stored, by reason (not_allowed, coordinates, future_fix_time, invalid_body)', labelNames: ['reason'] as const, registers: [registry] }),
    commandsByStatus: new Counter({ name: 'cartable_command_transitions_total', help: 'Command status transitions', labelNames: ['status'] as const, registers: [registry] }),
    amapiNotifications: new Counter({
      name: 'cartable_amapi_notifications_total',
      help: 'Google Pub/Sub notifications, by outcome (applied, duplicate, stale, unknown_enterprise, unknown_token, ignored, bad_signature, wrong_audience, wrong_account, malformed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
