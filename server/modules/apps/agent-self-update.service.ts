import { randomUUID } from 'node:crypto';
import type { SessionFacts } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import { SYSTEM_ACTOR } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import { expiryOf } from '../commands/command-intent';
import { insertCommand } from '../commands/commands.repository';
import * as repo from './agent-self-update.repository';
import type { DownloadUrls } from './download-urls';

export interface AgentSelfUpdateDeps {
  db: Db;
  urls: DownloadUrls;
  minAgentVersionCode?: number;
}

/** Why an outdated agent is, or is not, updating itself, as the API shows it. */
export type SelfUpdateState =
  | { state: null }
  | { state: 'not_announced' | 'not_configured' | 'failed'; reason: string }
  /** `commandId` null: none is queued yet, one will be at the tablet's next connection. */
  | { state: 'pending'; commandId: string | null; versionCode: number };

/**
 * Agent protocol §24.1: an Android agent below the minimum that announces `install_app` is sent
 * its own update without anyone asking. The update is the newest APK of the agent's package in
 * the app catalog that reaches the minimum: the DSI uploads the agent there like any other app,
 * and the catalog already holds what a complete `install_app` carries (versionCode, file SHA-256,
 * signer) and serves it through signed URLs.
 */
export function createAgentSelfUpdate(deps: AgentSelfUpdateDeps) {
  const { db, urls } = deps;
  const min = deps.minAgentVersionCode;

  const outdated = (d: repo.SelfUpdateDevice) => min !== undefined && d.platform === 'android' && d.agent_version_code !== null && d.agent_version_code < min;

  return {
    /**
     * After a hello or an HTTPS session is recorded: queues the self-update when the agent needs one
     * and none is pending, so that the delivery that follows the welcome hands it out. Idempotent: a second
     * session finds the first one's command, under the device's row lock.
     */
    async afterSession(deviceId: string, announced: Pick<SessionFacts, 'agentVersionCode' | 'capabilities'>): Promise<void> {
      if (min === undefined) return;
      // What the session said settles nearly every case without a query: a whole fleet reconnecting
      // after a restart is up to date, or cannot install.
      if ((announced.agentVersionCode !== null && announced.agentVersionCode >= min) || (announced.capabilities && !announced.capabilities.includes('install_app'))) return;
      const seen = await repo.selfUpdateDevice(db, deviceId, false);
      // Checked without a lock first: nearly every session is of an up-to-date agent.
      if (!seen || seen.status !== 'active' || !outdated(seen) || !seen.capabilities?.includes('install_app') || !seen.agent_package) return;
      await db.transaction(async (tx) => {
        const device = await repo.selfUpdateDevice(tx, deviceId, true);
        if (!device || device.status !== 'active' || !outdated(device) || !device.agent_package) return;
        if (await repo.openSelfUpdate(tx, deviceId, device.agent_package)) return;
        const target = await repo.targetVersion(tx, device.organisation_id, device.agent_package, min);
        if (!target || (await repo.endedSelfUpdate(tx, deviceId, target.app_version_id))) return;
        const now = new Date();
        const expiresAt = expiryOf('install_app', undefined, now);
        const row = await insertCommand(tx, {
          id: randomUUID(),
          organisationId: device.organisation_id,
          deviceId,
          kind: 'install_app',
          params: {
            appVersionId: target.app_version_id,
            packageName: device.agent_package,
            versionCode: target.version_code,
            url: urls.url(target.sha256, expiresAt),
            sha256: target.sha256,
            sizeBytes: target.size_bytes,
            signingCertSha256: [target.signing_cert_sha256],
          },
          origin: 'system',
          expiresAt,
          createdAt: now,
        });
        await recordAudit(tx, {
          organisationId: device.organisation_id,
          actor: SYSTEM_ACTOR,
          action: 'command.create',
          target: { type: 'device', id: deviceId },
          schoolId: device.school_id,
          outcome: 'success',
          details: {
            commandId: row.id,
            kind: 'install_app',
            selfUpdate: true,
            appVersionId: target.app_version_id,
            fromVersionCode: device.agent_version_code,
            toVersionCode: target.version_code,
            minAgentVersionCode: min,
            expiresAt: expiresAt.toISOString(),
          },
        });
      });
    },

    /** What the API says of a device's self-update; null state unless its agent is below the minimum. */
    async stateOf(deviceId: string): Promise<SelfUpdateState> {
      if (min === undefined) return { state: null };
      const device = await repo.selfUpdateDevice(db, deviceId, false);
      if (!device || !outdated(device)) return { state: null };
      if (!device.capabilities?.includes('install_app')) {
        return { state: 'not_announced', reason: 'The agent does not announce install_app (a 1.0 agent): it cannot update itself; update it by hand or enroll the tablet again.' };
      }
      if (!device.agent_package) {
        return { state: 'not_configured', reason: 'The agent did not give its package name at enrollment: the server cannot tell which app is its update.' };
      }
      const open = await repo.openSelfUpdate(db, deviceId, device.agent_package);
      if (open) return { state: 'pending', commandId: open.id, versionCode: Number(open.version_code) };
      const target = await repo.targetVersion(db, device.organisation_id, device.agent_package, min);
      if (!target) {
        return {
          state: 'not_configured',
          reason: `No version of ${device.agent_package} in the app catalog has a versionCode of at least ${min}: upload the agent's APK to the catalog.`,
        };
      }
      const ended = await repo.endedSelfUpdate(db, deviceId, target.app_version_id);
      if (ended) {
        return { state: 'failed', reason: `The update to versionCode ${target.version_code} (command ${ended.id}) was ${ended.status}: it is not sent again on its own; upload a newer version or update the tablet by hand.` };
      }
      return { state: 'pending', commandId: null, versionCode: target.version_code };
    },
  };
}
export type AgentSelfUpdate = ReturnType<typeof createAgentSelfUpdate>;
