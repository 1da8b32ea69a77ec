import { createHash } from 'node:crypto';
import type { Infra } from './infra/infra';
import { LoginThrottle } from './infra/login-throttle';
import { createAuthService, LOCK_SECONDS } from './modules/access/auth.service';
import { createUsersService } from './modules/access/users.service';
import { createApiTokensService } from './modules/access/tokens.service';
import { createOrganisationService } from './modules/organisation/organisation.service';
import { createCsvImportService } from './modules/organisation/csv-import.service';
import { createAuditTrailService } from './modules/audit/audit-trail.service';
import { createAuditChainService } from './modules/audit/audit-chain.service';
import { linkLegacyEvents } from './modules/audit/audit-legacy.service';
import { CA_ORGANISATION, createPkiStore } from './modules/pki-store/pki-store.service';
import { createEnrollmentService } from './modules/enrollment/enrollment.service';
import { createDeviceIdentityService } from './modules/devices/device-identity.service';
import { createDevicePushService } from './modules/devices/device-push.service';
import { createDeviceReportsService } from './modules/devices/device-reports.service';
import { createDevicesService } from './modules/devices/devices.service';
import { createCommandBatchesService } from './modules/commands/command-batches.service';
import { createCommandQueue } from './modules/commands/command-queue.service';
import { createCommandReconciler } from './modules/commands/command-reconciler.service';
import { createCommandsService } from './modules/commands/commands.service';
import { createAgentVersionGate } from './modules/commands/agent-version-gate';
import { createPlatformRegistry, type PlatformRegistry } from './modules/commands/platform-registry';
import { createConfirmations } from './modules/commands/wipe-confirmation';
import { createIdempotencyService } from './modules/idempotency/idempotency.service';
import { createAgentEdge } from './platforms/agent/agent-edge';
import { createBlobStore } from './infra/blob-store';
import { createAppAssignmentsService } from './modules/apps/app-assignments.service';
import { createAppsService } from './modules/apps/apps.service';
import { createAgentSelfUpdate } from './modules/apps/agent-self-update.service';
import { createDownloadUrls } from './modules/apps/download-urls';
import type { ParamsResolver } from './modules/commands/command-intent';
import { createAppleEdge } from './platforms/apple/apple-edge';
import { createAppleDevicesService } from './modules/apple-mdm/apple-devices.service';
import { createPushCertificateService } from './modules/apple-mdm/push-certificate.service';
import { createAuditArchiveService } from './modules/audit/audit-archive.service';
import { createRetentionService } from './modules/privacy/retention.service';
import { createDeviceExportService } from './modules/privacy/device-export.service';
import { createRegisterService } from './modules/privacy/register.service';
import { createWindowsEdge } from './platforms/windows/windows-edge';
import { createWindowsDevicesService } from './modules/windows-mdm/windows-devices.service';
import { provisioningPayload } from './platforms/agent/provisioning-qr';
import { createAppleEnrollmentService } from './modules/apple-enrollment/apple-enrollment.service';
import { pushTopicLookup } from './modules/apple-enrollment/push-topic';
import { createProfileServer } from './platforms/apple/enrollment/profile-server';
import { createScepResponder } from './platforms/apple/scep/scep-responder';
import { createProfileCompilers } from './platforms/profile-compilers';
import { createDesiredStateService } from './modules/profiles/desired-state.service';
import { createPolicyCache } from './modules/profiles/profile-policies';
import { createProfileRollouts } from './modules/profiles/profile-rollouts.service';
import { createProfilesService } from './modules/profiles/profiles.service';
import { createCampaignsService } from './modules/campaigns/campaigns.service';
import { createCampaignEngine } from './modules/campaigns/campaign-engine.service';
import { createCampaignProgressService } from './modules/campaigns/campaign-progress.service';
import { DELIVERY_ATTEMPTS, createWebhooksService } from './modules/webhooks/webhooks.service';
import { createMailer } from './infra/mailer';
import { createLocationAlertsService } from './modules/location/location-alerts.service';
import { createPositionIntake } from './modules/location/position-intake.service';
import { createLocationPoliciesService } from './modules/location/location-policies.service';
import { createGeofencesService } from './modules/location/geofences.service';
import { createAmapiChannel, type AmapiOverrides } from './platforms/amapi/amapi-channel';
import { convergingAfter, withProfileOutcomes } from './modules/profiles/profile-delivery';

/**
 * The composition root: every service, every platform edge and the ports that join them, built
 * once from the process's infrastructure. Nothing else wires anything.
 */
export interface ServiceOptions {
  /** The campaigns' clock (windows, deadlines, retries); tests move it by hand. */
  now?: () => Date;
  /** What tests replace of Google's side of the Android Management API. */
  amapi?: AmapiOverrides;
}

export function createServices(infra: Infra, options: ServiceOptions = {}) {
  const { config } = infra;
  const now = options.now ?? (() => new Date());
  const { db } = infra.database;
  const pki = createPkiStore({ db, passphrase: infra.secrets.passphrase, organisationName: CA_ORGANISATION });
  const confirmations = createConfirmations(createHash('sha256').update(`cartable:confirm:${infra.secrets.passphrase}`).digest('base64url'));
  // The queue wakes devices through the registry, which holds the edges' adapters, which are built with the queue.
  const wake: PlatformRegistry['wake'] = (devices) => platforms.wake(devices);

  const applePushCertificate = createPushCertificateService({ db, passphrase: infra.secrets.passphrase });
  const appleEnrollment = createAppleEnrollmentService({
    db,
    pki,
    linkKey: createHash('sha256').update(`cartable:apple-enroll:${infra.secrets.passphrase}`).digest(),
    topic: pushTopicLookup(async (organisationId) => (await applePushCertificate.get(organisationId)).topic, config.APPLE_MDM_TOPIC),
    challengeTtlSec: config.APPLE_SCEP_CHALLENGE_TTL_SEC,
  });
  const appleProfiles = createProfileServer({ enrollment: appleEnrollment, pki, publicUrl: config.CARTABLE_PUBLIC_URL });
  const enrollment = createEnrollmentService({
    db,
    secrets: infra.secrets,
    pki,
    heartbeatSec: config.AGENT_HEARTBEAT_SEC,
    androidProvisioning: (input) => provisioningPayload(config.CARTABLE_PUBLIC_URL, input),
    appleEnrollmentUrl: (tokenId) => appleProfiles.enrollmentUrl(tokenId),
  });
  const agentVersion = createAgentVersionGate(config.AGENT_MIN_VERSION_CODE);
  const downloadUrls = createDownloadUrls(infra.secrets.downloadKey, config.CARTABLE_PUBLIC_URL);
  const agentSelfUpdate = createAgentSelfUpdate({ db, urls: downloadUrls, minAgentVersionCode: config.AGENT_MIN_VERSION_CODE });
  const queue = createCommandQueue({ db, ackTimeoutSec: config.COMMAND_ACK_TIMEOUT_SEC, wake, minAgentVersionCode: agentVersion.minAgentVersionCode });
  const mailer = createMailer(config);
  const locationAlerts = createLocationAlertsService({ db, mailer, consoleUrl: `${config.CARTABLE_PUBLIC_URL}/console` });
  const positions = createPositionIntake({
    db,
    clock: () => infra.clock(),
    refused: (reason) => infra.metrics.positionsRefused.inc({ reason }),
    // The event is stored with the alert; `webhooks` is built below, and called only once a position comes in.
    alertEvent: (tx, organisationId, alert) =>
      webhooks.emit(tx, organisationId, {
        type: alert.kind === 'exit' ? 'location.geofence_exit' : 'location.geofence_return',
        id: alert.id,
        data: { alertId: alert.id, kind: alert.kind, deviceId: alert.deviceId, schoolId: alert.schoolId, at: alert.at.toISOString() },
      }),
    // Mailed by a worker, retried; the alert itself is already stored.
    alertRaised: (alertId) => infra.queues.add('location.alert', { alertId }, { jobId: `alert.${alertId}`, attempts: 5, backoff: { type: 'exponential', delay: 2000 } }).then(() => undefined, (err: unknown) => infra.log.warn({ err, alertId }, 'geofence alert not queued for e-mail')),
  });
  const inventory = createDeviceReportsService({ db, positions });
  const compilers = createProfileCompilers();
  const policiesOf = createPolicyCache(compilers);
  const desiredState = createDesiredStateService({ db, policiesOf, policyPlatforms: () => platforms.eligibility('apply_policy').map((r) => r.platform) });
  // iPads and Windows tablets take profiles one by one: their outcomes are their applied state, and an enrollment converges at once.
  const profileQueue = withProfileOutcomes(queue, desiredState.port);
  const converge = (deviceId: string) => rollouts.converge(deviceId);
  const convergeFailed = (err: unknown, deviceId: string) => infra.log.warn({ err, deviceId }, 'profiles of an enrolled device not queued');
  const agent = createAgentEdge(infra, {
    identity: createDeviceIdentityService({ db, pki }),
    inventory,
    queue,
    // An agent takes its policy in its session, and its assigned apps as commands queued at enrollment.
    enrollment: { ...enrollment, enroll: convergingAfter(enrollment.enroll, (r) => r.deviceId, (deviceId) => rollouts.convergeApps(deviceId), convergeFailed) },
    pushRegistrations: createDevicePushService({ db }),
    desiredState: desiredState.port,
    selfUpdate: agentSelfUpdate,
  });
  const appleDevices = createAppleDevicesService({ db, secrets: infra.secrets, scep: appleEnrollment });
  const apple = createAppleEdge(infra, {
    devices: { ...appleDevices, tokenUpdate: convergingAfter(appleDevices.tokenUpdate, (r, device) => (r.enrolled ? device.deviceId : null), converge, convergeFailed) },
    pushCertificate: applePushCertificate,
    queue: profileQueue,
    inventory,
    pki,
  });
  const windowsDevices = createWindowsDevicesService({ db, secrets: infra.secrets, enrollment });
  const windows = createWindowsEdge(infra, { devices: { ...windowsDevices, enroll: convergingAfter(windowsDevices.enroll, (r) => r.deviceId, converge, convergeFailed) }, queue: profileQueue, inventory, pki });
  const amapi = createAmapiChannel({
    db,
    secrets: infra.secrets,
    metrics: infra.metrics,
    rootUrl: config.AMAPI_ROOT_URL,
    pubsubRootUrl: config.AMAPI_PUBSUB_ROOT_URL,
    publicUrl: config.CARTABLE_PUBLIC_URL,
    queue,
    inventory,
    desiredState: desiredState.port,
    async enqueueDispatch(deviceIds) {
      // Idempotent: a dispatch finds the commands Google already has by their stored operation.
      await infra.queues.add('amapi.dispatch', { deviceIds }, { removeOnComplete: true, removeOnFail: 100, attempts: 3, backoff: { type: 'exponential', delay: 5000 } });
    },
    async enqueueNotification(message) {
      await infra.queues.add('amapi.notification', message, { jobId: `amapi.msg.${createHash('sha256').update(message.messageId).digest('hex')}`, removeOnComplete: 1000, attempts: 5, backoff: { type: 'exponential', delay: 2000 } });
    },
    overrides: options.amapi,
  });
  const platforms = createPlatformRegistry([agent.adapter, apple.adapter, windows.adapter, amapi.adapter]);
  const apps = createAppsService({
    db,
    blobs: createBlobStore(config.APP_STORAGE_DIR),
    urls: downloadUrls,
    maxUploadBytes: config.APP_MAX_UPLOAD_BYTES,
    onVersionAdded: (caller, appId, versionId) => campaigns.autoUpdate(caller, appId, versionId),
  });
  const resolveParams: ParamsResolver = async (kind, params, organisationId, expiresAt) => {
    if (kind === 'install_app') return apps.installParams(organisationId, String(params.appVersionId), expiresAt);
    if (kind === 'remove_app' && typeof params.appId === 'string') return apps.removeParams(organisationId, params.appId);
    return params;
  };

  const batches = createCommandBatchesService({
    db,
    platforms,
    confirmations,
    resolveParams,
    agentVersion,
    inlineLimit: config.BULK_INLINE_MAX_DEVICES,
    async enqueueBatch(batchId) {
      await infra.queues.add('commands.batch', { batchId }, { jobId: `batch.${batchId}`, attempts: 5, backoff: { type: 'exponential', delay: 1000 } });
    },
  });

  const rollouts = createProfileRollouts({
    db,
    platforms,
    policiesOf,
    appParams: { install: (organisationId, appVersionId, expiresAt) => apps.installParams(organisationId, appVersionId, expiresAt), remove: (organisationId, appId) => apps.removeParams(organisationId, appId) },
    inlineLimit: config.BULK_INLINE_MAX_DEVICES,
    async enqueueRollout(rolloutId) {
      await infra.queues.add('profiles.rollout', { rolloutId }, { jobId: `rollout.${rolloutId}`, attempts: 5, backoff: { type: 'exponential', delay: 1000 } });
    },
  });
  const locationPolicies = createLocationPoliciesService({ db, rollouts });
  // The reconciler resumes bulk batches and profile rollouts alike: both are outboxes of commands.
  const outboxes = { resumePending: async () => (await batches.resumePending()) + (await rollouts.resumePending()) };

  const webhooks = createWebhooksService({
    db,
    secrets: infra.secrets,
    async enqueue(deliveryId) {
      await infra.queues.add('webhooks.deliver', { deliveryId }, { jobId: `webhook.${deliveryId}`, attempts: DELIVERY_ATTEMPTS, backoff: { type: 'exponential', delay: config.WEBHOOK_FIRST_RETRY_MS } });
    },
  });

  // Immediate advances are bucketed by the second: a burst of calls enqueues one job, and a
  // completed job kept for inspection never swallows a later one.
  const advanceCampaign = async (campaignId: string, at: Date) => {
    const delay = Math.max(0, at.getTime() - Date.now());
    await infra.queues.add('campaigns.advance', { campaignId }, { jobId: `campaign.${campaignId}.${Math.floor((Date.now() + delay) / 1000)}`, delay });
  };
  const campaignEngine = createCampaignEngine({
    db,
    platforms,
    installParams: (organisationId, appVersionId, expiresAt) => apps.installParams(organisationId, appVersionId, expiresAt),
    now,
    schedule: advanceCampaign,
    emit: (tx, organisationId, event) => webhooks.emit(tx, organisationId, event),
    observe(campaignId, counts, created) {
      for (const [status, n] of Object.entries(counts)) infra.metrics.campaignDevices.set({ campaign: campaignId, status }, n);
      infra.metrics.campaignCommands.inc(created);
    },
  });

  const campaigns = createCampaignsService({ db, platforms, now, wake: (campaignId, at) => advanceCampaign(campaignId, at ?? new Date()) });

  return {
    pki,
    campaigns,
    campaignProgress: createCampaignProgressService({ db, now }),
    campaignEngine,
    webhooks,
    auth: createAuthService({ db, throttle: new LoginThrottle(infra.redis, config.REDIS_PREFIX, LOCK_SECONDS) }),
    users: createUsersService({ db }),
    apiTokens: createApiTokensService({ db }),
    organisation: createOrganisationService({ db }),
    csvImport: createCsvImportService({ db }),
    auditTrail: createAuditTrailService({ db }),
    auditChain: createAuditChainService({ db, pki, auditKey: infra.secrets.auditKey }),
    retention: createRetentionService({
      db,
      chunkRows: config.RETENTION_CHUNK_ROWS,
      archive: createAuditArchiveService({ db, pki, archiveDir: config.AUDIT_ARCHIVE_DIR, maxEventsPerPurge: config.AUDIT_PURGE_MAX_EVENTS }),
    }),
    deviceExport: createDeviceExportService({ db }),
    processingRegister: createRegisterService({ db, fcm: Boolean(config.FCM_PROJECT_ID), oidc: Boolean(config.OIDC_ISSUER_URL) }),
    idempotency: createIdempotencyService({ db, secrets: infra.secrets }),
    enrollment,
    appleEnrollment,
    devices: createDevicesService({ db, presence: agent.presence, heartbeatSec: config.AGENT_HEARTBEAT_SEC, minAgentVersionCode: config.AGENT_MIN_VERSION_CODE, selfUpdate: agentSelfUpdate }),
    commands: createCommandsService({ db, platforms, confirmations, agentVersion, resolveParams }),
    apps,
    appAssignments: createAppAssignmentsService({ db, rollouts, installParams: (organisationId, appVersionId, expiresAt) => apps.installParams(organisationId, appVersionId, expiresAt) }),
    commandBatches: batches,
    commandQueue: queue,
    reconciler: createCommandReconciler({ db, platforms, batches: outboxes, ackTimeoutSec: config.COMMAND_ACK_TIMEOUT_SEC, minAgentVersionCode: agentVersion.minAgentVersionCode }),
    profiles: createProfilesService({ db, compilers, rollouts }),
    profileRollouts: rollouts,
    desiredState,
    locationPolicies,
    geofences: createGeofencesService({ db }),
    locationAlerts,
    mailer,
    /** Device protocol edges, mounted by the app in the gateway role. */
    windowsDevices,
    edges: { agent, apple, windows, appleEnrollment: { profiles: appleProfiles, scep: createScepResponder({ enrollment: appleEnrollment, pki, log: infra.log }) } },
    applePushCertificate,
    amapi,
    /** First-start work every role needs before serving (idempotent, safe in several processes). */
    async startup(): Promise<void> {
      await pki.load();
      const linked = await linkLegacyEvents(db, infra.secrets.auditKey);
      if (linked) infra.log.info(linked, 'audit events of the unkeyed chain linked into the keyed chains');
    },
  };
}
export type Services = ReturnType<typeof createServices>;
