import { readFileSync } from 'node:fs';
import type { CommandQueuePort, InventoryPort } from '../../domain/platform-ports';
import type { Infra } from '../../infra/infra';
import type { CmsSigner } from '../../infra/pki';
import type { AppleDevicesService } from '../../modules/apple-mdm/apple-devices.service';
import type { PushCertificateService } from '../../modules/apple-mdm/push-certificate.service';
import type { PkiStore } from '../../modules/pki-store/pki-store.service';
import { LastSeen } from '../last-seen';
import { createApplePlatformAdapter } from './apple-platform.adapter';
import { createMdmExchange } from './mdm/mdm-exchange';
import { ApnsClient } from './push/apns-client';
import { createApplePush } from './push/apple-push';

export interface ApplePorts {
  devices: AppleDevicesService;
  pushCertificate: PushCertificateService;
  queue: CommandQueuePort;
  inventory: InventoryPort;
  pki: Pick<PkiStore, 'caCertPem' | 'issueProfileSigner'>;
}

/** A profile signer lives this long before a fresh one is issued. */
const SIGNER_TTL_MS = 24 * 3600 * 1000;

/** Apple MDM for iPads: its platform adapter, its APNs pusher, and the check-in and command exchange. */
export function createAppleEdge(infra: Infra, ports: ApplePorts) {
  const { config } = infra;
  const apns = new ApnsClient({ url: config.APPLE_APNS_URL, ca: config.APPLE_APNS_CA_FILE ? readFileSync(config.APPLE_APNS_CA_FILE, 'utf8') : undefined });
  const push = createApplePush({ devices: ports.devices, certificates: ports.pushCertificate, apns, log: infra.log });
  let signer: { at: number; value: Promise<CmsSigner> } | null = null;
  const profileSigner = () => {
    if (!signer || Date.now() - signer.at > SIGNER_TTL_MS) signer = { at: Date.now(), value: ports.pki.issueProfileSigner() };
    return signer.value;
  };
  const adapter = createApplePlatformAdapter({ push, profileSigner });
  const lastSeen = new LastSeen(ports.inventory, infra.log);
  const exchange = createMdmExchange({
    identity: { caCertPem: () => ports.pki.caCertPem(), enrollmentOfCertificate: (fp) => ports.devices.enrollmentOfCertificate(fp), certHeader: config.APPLE_MDM_CERT_HEADER },
    devices: ports.devices,
    queue: ports.queue,
    inventory: ports.inventory,
    lastSeen,
    adapter,
    log: infra.log,
  });
  return { adapter, exchange, apns, lastSeen, bodyLimit: config.APPLE_MDM_BODY_LIMIT_BYTES };
}
export type AppleEdge = ReturnType<typeof createAppleEdge>;
