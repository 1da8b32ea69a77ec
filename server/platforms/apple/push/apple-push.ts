import type { Logger } from 'pino';
import type { AppleDevicesService } from '../../../modules/apple-mdm/apple-devices.service';
import type { PushCertificateService } from '../../../modules/apple-mdm/push-certificate.service';
import type { ApnsClient, MdmPush } from './apns-client';

/**
 * Wakes iPads: one APNs push per enrolled device, with its organisation's push certificate.
 * A token APNs refuses is marked, and not pushed to again until the device sends a new one.
 */
export function createApplePush(deps: { devices: AppleDevicesService; certificates: Pick<PushCertificateService, 'credentials'>; apns: ApnsClient; log: Logger }) {
  return async function push(deviceIds: string[]): Promise<void> {
    const targets = await deps.devices.pushTargets(deviceIds);
    const byOrganisation = new Map<string, MdmPush[]>();
    for (const t of targets) {
      const list = byOrganisation.get(t.organisationId) ?? [];
      list.push({ deviceId: t.deviceId, tokenHex: t.tokenHex, pushMagic: t.pushMagic, topic: t.topic });
      byOrganisation.set(t.organisationId, list);
    }
    for (const [organisationId, pushes] of byOrganisation) {
      const credentials = await deps.certificates.credentials(organisationId);
      if (!credentials) {
        deps.log.warn({ organisationId, devices: pushes.length }, 'no MDM push certificate: iPads are not woken');
        continue;
      }
      // A device enrolled under another topic cannot be reached with this certificate.
      const reachable = pushes.filter((p) => p.topic === credentials.topic);
      const results = await deps.apns.send(credentials, reachable);
      await deps.devices.markPushed(results.filter((r) => r.outcome === 'sent').map((r) => r.deviceId));
      for (const r of results) {
        if (r.outcome === 'invalid_token') await deps.devices.markTokenInvalid(r.deviceId, r.tokenHex);
        if (r.outcome !== 'sent') deps.log.warn({ deviceId: r.deviceId, outcome: r.outcome, reason: r.reason }, 'APNs push not delivered');
      }
    }
  };
}
