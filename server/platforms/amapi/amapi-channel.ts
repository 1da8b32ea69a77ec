import type { CommandQueuePort, DesiredStatePort, InventoryPort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import type { Metrics } from '../../infra/metrics';
import type { SecretBox } from '../../infra/secrets';
import { createAmapiBindingService } from '../../modules/amapi/amapi-binding.service';
import { createAmapiCommandsService } from '../../modules/amapi/amapi-commands.service';
import { createAmapiDevicesService } from '../../modules/amapi/amapi-devices.service';
import { createAmapiPoliciesService } from '../../modules/amapi/amapi-policies.service';
import type { PubsubMessage } from '../../modules/amapi/amapi.port';
import { amapiAction } from './amapi-commands';
import { decodeDevice } from './amapi-device';
import { createAmapiEdge } from './amapi-edge';
import { createAmapiPlatformAdapter } from './amapi-platform.adapter';
import { toAmapiPolicy } from './amapi-policy.compiler';
import { createGoogleClientFactory, type GoogleClientOptions } from './google-client';
import { createPushTokenVerifier } from './pubsub-push';

/** What tests and the demo replace: Google's credentials exchange, push signing certificates, the quota wait. */
export interface AmapiOverrides {
  authFor?: GoogleClientOptions['authFor'];
  sleep?: GoogleClientOptions['sleep'];
  pushCerts?: Record<string, string>;
}

export interface AmapiChannelDeps {
  db: Db;
  secrets: SecretBox;
  metrics: Metrics;
  rootUrl: string;
  pubsubRootUrl: string;
  publicUrl: string;
  queue: CommandQueuePort;
  inventory: InventoryPort;
  desiredState: DesiredStatePort;
  enqueueDispatch(deviceIds: string[]): Promise<void>;
  enqueueNotification(message: PubsubMessage): Promise<void>;
  overrides?: AmapiOverrides;
}

/** The Android Management channel: its services, its platform adapter and its push edge, wired once. */
export function createAmapiChannel(deps: AmapiChannelDeps) {
  const { db } = deps;
  const google = createGoogleClientFactory({ rootUrl: deps.rootUrl, pubsubRootUrl: deps.pubsubRootUrl, authFor: deps.overrides?.authFor, sleep: deps.overrides?.sleep });
  const count = (outcome: string) => deps.metrics.amapiNotifications.inc({ outcome });
  const binding = createAmapiBindingService({ db, secrets: deps.secrets, google, publicUrl: deps.publicUrl });
  const policies = createAmapiPoliciesService({ db, binding, desiredState: deps.desiredState, toPolicy: (policy) => toAmapiPolicy(policy) as Record<string, unknown> });
  // The devices service reports command outcomes through the commands service, built just after it.
  const devices = createAmapiDevicesService({
    db,
    binding,
    policies,
    inventory: deps.inventory,
    desiredState: deps.desiredState,
    decode: decodeDevice,
    operationUpdate: (operation) => commands.operationUpdate(operation),
    count,
  });
  const commands = createAmapiCommandsService({ db, binding, policies, queue: deps.queue, render: amapiAction, refresh: (organisationId, device) => devices.applyDevice(organisationId, device, new Date()) });
  const adapter = createAmapiPlatformAdapter({ dispatch: deps.enqueueDispatch, placeOf: (command) => commands.placeOf(command) });
  const edge = createAmapiEdge({ binding, devices, verify: createPushTokenVerifier({ certs: deps.overrides?.pushCerts }), enqueue: deps.enqueueNotification, count });
  return { binding, policies, devices, commands, adapter, edge };
}
export type AmapiChannel = ReturnType<typeof createAmapiChannel>;
