import { ConflictError, NotFoundError, UnavailableError } from '../../domain/errors';
import type { DesiredStatePort, InventoryPort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import { SYSTEM_ACTOR } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { markDeviceWiped } from '../commands/command-queue.repository';
import type { AmapiBindingService } from './amapi-binding.service';
import type { AmapiPoliciesService } from './amapi-policies.service';
import { AmapiCallError, type DecodedDevice, type DeviceDecoder, type GoogleOperation, type Json, type PubsubMessage } from './amapi.port';
import { enterpriseOf, resourceOf } from './amapi-messages';
import * as repo from './amapi.repository';
import type { AmapiTokenView } from './amapi.schemas';

export type NotificationOutcome = 'applied' | 'duplicate' | 'stale' | 'unknown_enterprise' | 'unknown_token' | 'ignored' | 'malformed';

export interface AmapiDevicesDeps {
  db: Db;
  binding: AmapiBindingService;
  policies: AmapiPoliciesService;
  inventory: InventoryPort;
  desiredState: Pick<DesiredStatePort, 'applied'>;
  decode: DeviceDecoder;
  /** A `COMMAND` notification: the operation's outcome goes to its command. */
  operationUpdate(operation: GoogleOperation): Promise<void>;
  count(outcome: NotificationOutcome): void;
}

/** Version of what Cartable writes in a Google token's `additionalData`, echoed in the device's `enrollmentTokenData`. */
const TOKEN_DATA_VERSION = 1;
const PULL_BATCH = 100;

function tokenIdOf(data: string | null): string | null {
  if (!data) return null;
  try {
    const parsed = JSON.parse(data) as { cartable?: number; token?: unknown };
    return parsed.cartable === TOKEN_DATA_VERSION && typeof parsed.token === 'string' ? parsed.token : null;
  } catch {
    return null;
  }
}


/**
 * Tablets Google manages for Cartable: AMAPI enrollment tokens made from Cartable's, the
 * tablets that enroll with them, their reports (pushed, pulled or listed by the periodic
 * reconciliation) into the same inventory as every other tablet.
 */
export function createAmapiDevicesService(deps: AmapiDevicesDeps) {
  const { db } = deps;

  async function tokenView(tokenId: string, row: { googleName: string; qrCode: string; expiresAt: Date }): Promise<AmapiTokenView> {
    return { tokenId, googleName: row.googleName, qrCode: row.qrCode, expiresAt: row.expiresAt.toISOString() };
  }

  async function enroll(organisationId: string, decoded: DecodedDevice, publishTime: Date): Promise<NotificationOutcome> {
    const tokenId = tokenIdOf(decoded.enrollmentTokenData);
    const token = tokenId ? await repo.usableToken(db, organisationId, tokenId) : undefined;
    if (!token) return 'unknown_token';
    const inv = decoded.inventory;
    const deviceId = await db.transaction(async (tx) => {
      const id = await repo.insertEnrolledDevice(
        tx,
        {
          organisationId,
          schoolId: token.schoolId,
          groupId: token.groupId,
          platform: 'android',
          channel: 'amapi',
          name: [inv.manufacturer, inv.model, decoded.serial].filter(Boolean).join(' '),
          serial: decoded.serial,
          manufacturer: inv.manufacturer,
          model: inv.model,
          osVersion: inv.osVersion,
          managementMode: inv.managementMode,
          storageTotalBytes: inv.storageTotalBytes,
        },
        decoded.name,
        publishTime,
      );
      await repo.consumeTokenUse(tx, token.id);
      await recordAudit(tx, { organisationId, actor: SYSTEM_ACTOR, action: 'device.enroll', target: { type: 'device', id }, schoolId: token.schoolId, outcome: 'success', details: { channel: 'amapi', googleName: decoded.name, tokenId: token.id } });
      return id;
    });
    await report(deviceId, decoded);
    await deps.policies.assignCurrent(organisationId, deviceId);
    return 'applied';
  }

  async function report(deviceId: string, decoded: DecodedDevice): Promise<void> {
    await deps.inventory.updateInventory(deviceId, decoded.inventory);
    if (decoded.status) await deps.inventory.updateStatus(deviceId, decoded.status);
    if (decoded.apps) await deps.inventory.updateApps(deviceId, decoded.apps);
    await deps.inventory.touch([{ id: deviceId, at: new Date() }]);
  }

  /** One `Device` resource, from a notification or a listing, applied once and never older over newer. */
  async function applyDevice(organisationId: string, json: Json, publishTime: Date): Promise<NotificationOutcome> {
    const decoded = deps.decode(json);
    if (!decoded.name) return 'malformed';
    const known = await repo.findByGoogleNames(db, [decoded.name, ...decoded.previousNames]);
    if (!known) return decoded.state === 'DELETED' ? 'ignored' : enroll(organisationId, decoded, publishTime);
    if (known.organisationId !== organisationId || known.status !== 'active') return 'ignored';
    const deviceId = known.amapi.deviceId;
    if (!(await repo.claimPublishTime(db, deviceId, publishTime))) return 'stale';
    if (decoded.state === 'DELETED') {
      await db.transaction(async (tx) => {
        await markDeviceWiped(tx, deviceId);
        await recordAudit(tx, { organisationId, actor: SYSTEM_ACTOR, action: 'device.wiped', target: { type: 'device', id: deviceId }, schoolId: known.schoolId, outcome: 'success', details: { channel: 'amapi', source: 'google' } });
      });
      return 'applied';
    }
    await report(deviceId, decoded);
    await repo.updateAmapiDevice(db, deviceId, {
      googleName: decoded.name,
      policyCompliant: decoded.policyCompliant,
      appliedPolicyVersion: decoded.appliedPolicyVersion,
      nonCompliance: decoded.nonCompliance,
    });
    await deps.policies.recordCompliance(deviceId, decoded);
    return 'applied';
  }

  async function handle(message: PubsubMessage): Promise<NotificationOutcome> {
    const resource = resourceOf(message);
    if (!resource) return 'malformed';
    const type = message.attributes?.notificationType;
    const enterprise = enterpriseOf(resource.name);
    if (!enterprise) return type === 'ENTERPRISE_UPGRADE' || type === 'test' ? 'ignored' : 'malformed';
    const binding = await repo.findBindingByEnterprise(db, enterprise);
    if (!binding) return 'unknown_enterprise';
    if (!(await repo.claimMessage(db, message.messageId))) return 'duplicate';
    try {
      switch (type) {
        case 'ENROLLMENT':
        case 'STATUS_REPORT':
          return await applyDevice(binding.organisationId, resource, new Date(message.publishTime));
        case 'COMMAND':
          await deps.operationUpdate(resource as unknown as GoogleOperation);
          return 'applied';
        default:
          // USAGE_LOGS (lost-mode positions among them) are not read yet.
          return 'ignored';
      }
    } catch (error) {
      // Not applied: the message must be handled when Google delivers it again.
      await repo.forgetMessage(db, message.messageId);
      throw error;
    }
  }

  return {
    applyDevice,

    /** Message ids older than Pub/Sub's longest retention can never come again. */
    purgeMessages: () => repo.purgeMessages(db),

    /** One notification, pushed or pulled; counted by outcome. Throws when it must be delivered again. */
    async notification(message: PubsubMessage): Promise<NotificationOutcome> {
      const outcome = await handle(message);
      deps.count(outcome);
      return outcome;
    },

    /** Reads the pull subscription; a message is acknowledged once handled (or found not worth handling). */
    async pull(organisationId: string): Promise<{ received: number; acknowledged: number }> {
      const { binding, google } = await deps.binding.bound(organisationId);
      if (binding.notificationMode !== 'pull' || !binding.pubsubSubscription) return { received: 0, acknowledged: 0 };
      const messages = await google.pull(binding.pubsubSubscription, PULL_BATCH);
      const acks: string[] = [];
      for (const m of messages) {
        try {
          const outcome = await handle(m.message);
          deps.count(outcome);
          acks.push(m.ackId);
        } catch {
          // Left unacknowledged: Pub/Sub delivers it again after its ack deadline.
        }
      }
      await google.acknowledge(binding.pubsubSubscription, acks);
      return { received: messages.length, acknowledged: acks.length };
    },

    /**
     * Lists every device Google has: a missed notification loses nothing. A Cartable tablet
     * Google no longer lists was deleted there (a wipe): it leaves the active inventory.
     */
    async reconcile(organisationId: string): Promise<{ listed: number; gone: number; tokensDeleted: number }> {
      const { binding, google } = await deps.binding.bound(organisationId);
      const seen = new Set<string>();
      let pageToken: string | undefined;
      do {
        const page = await google.listDevices(binding.enterpriseName, pageToken);
        for (const device of page.devices) {
          const decoded = deps.decode(device);
          seen.add(decoded.name);
          const at = (device.lastStatusReportTime ?? device.enrollmentTime) as string | undefined;
          await applyDevice(organisationId, device, at ? new Date(at) : new Date(0));
        }
        pageToken = page.nextPageToken;
      } while (pageToken);
      let gone = 0;
      for (const d of await repo.activeAmapiDevices(db, organisationId)) {
        if (seen.has(d.googleName)) continue;
        await db.transaction(async (tx) => {
          await markDeviceWiped(tx, d.deviceId);
          await recordAudit(tx, { organisationId, actor: SYSTEM_ACTOR, action: 'device.wiped', target: { type: 'device', id: d.deviceId }, outcome: 'success', details: { channel: 'amapi', source: 'reconciliation' } });
        });
        gone++;
      }
      let tokensDeleted = 0;
      for (const t of await repo.retiredAmapiTokens(db, organisationId)) {
        await google.deleteEnrollmentToken(t.googleName);
        await repo.deleteAmapiToken(db, t.tokenId);
        tokensDeleted++;
      }
      return { listed: seen.size, gone, tokensDeleted };
    },

    /**
     * The AMAPI token of a Cartable enrollment token: same school (through `additionalData`),
     * same expiry, one-time when the token serves once; userless, fully managed tablets.
     */
    async createEnrollmentToken(caller: Caller, tokenId: string): Promise<AmapiTokenView> {
      const found = await repo.findTokenInScope(db, caller.scope, tokenId);
      if (!found) throw new NotFoundError('Enrollment token');
      if (found.amapi) return tokenView(tokenId, found.amapi);
      const { token } = found;
      if (token.revokedAt || token.expiresAt <= new Date() || (token.maxUses !== null && token.uses >= token.maxUses)) {
        throw new ConflictError('The enrollment token can enroll no more tablets', 'token_not_usable');
      }
      const organisationId = token.organisationId;
      await deps.binding.checkCapacity(organisationId);
      const { binding, google } = await deps.binding.bound(organisationId);
      const policyName = await deps.policies.ensureDefault(organisationId);
      const seconds = Math.max(60, Math.floor((token.expiresAt.getTime() - Date.now()) / 1000));
      const created = await google
        .createEnrollmentToken(binding.enterpriseName, {
          policyName,
          duration: `${seconds}s`,
          oneTimeOnly: token.maxUses === 1,
          allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED_USERLESS',
          additionalData: JSON.stringify({ cartable: TOKEN_DATA_VERSION, token: token.id }),
        })
        .catch((error: unknown) => {
          // Not repeated: a person asks again once Google answers.
          throw error instanceof AmapiCallError ? new UnavailableError(`Google refused: ${error.message}`, 'amapi_google_error') : error;
        });
      const row = { tokenId, googleName: created.name, qrCode: created.qrCode, expiresAt: new Date(created.expirationTimestamp) };
      await db.transaction(async (tx) => {
        await repo.insertAmapiToken(tx, row);
        await recordAudit(tx, { organisationId, actor: caller.actor, action: 'enrollment_token.amapi', target: { type: 'enrollment_token', id: tokenId }, schoolId: token.schoolId, outcome: 'success', details: { googleName: created.name } });
      });
      return tokenView(tokenId, row);
    },

    /** Google's QR code enrolls a tablet as Cartable's own does: every read of it is audited alike. */
    async enrollmentToken(caller: Caller, tokenId: string): Promise<AmapiTokenView> {
      const found = await repo.findTokenInScope(db, caller.scope, tokenId);
      if (!found?.amapi) throw new NotFoundError('AMAPI enrollment token');
      await recordAudit(db, { organisationId: found.token.organisationId, actor: caller.actor, action: 'enrollment_token.amapi_qr', target: { type: 'enrollment_token', id: tokenId }, schoolId: found.token.schoolId, outcome: 'success', details: { googleName: found.amapi.googleName } });
      return tokenView(tokenId, found.amapi);
    },
  };
}
export type AmapiDevicesService = ReturnType<typeof createAmapiDevicesService>;
