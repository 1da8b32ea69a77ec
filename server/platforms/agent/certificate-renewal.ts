import { createPublicKey } from 'node:crypto';
import { createMessage, renewSigningInput, type CertificateRenew, type Envelope } from '../../../agent-protocol/src';
import type { DeviceIdentity } from '../../domain/devices';
import type { DeviceIdentityPort } from '../../domain/platform-ports';
import { verifyChallengeSignature } from '../../infra/pki';
import { protocolError } from './agent-replies';

/**
 * `certificate.renew` (§20.2): the current key, the one this connection authenticated with,
 * authorises the new key of the CSR. Answers `certificate.issued` or an `error`; the caller acks.
 */
export async function renewCertificate(identity: Pick<DeviceIdentityPort, 'renewCertificate'>, device: DeviceIdentity, id: string, body: CertificateRenew): Promise<Envelope> {
  const proven = device.publicKeySpki
    ? verifyChallengeSignature(createPublicKey({ key: Buffer.from(device.publicKeySpki, 'base64'), format: 'der', type: 'spki' }), Buffer.from(renewSigningInput(device.deviceId, body.csr), 'utf8'), body.signature)
    : false;
  const outcome = await identity.renewCertificate(device, body.csr, proven);
  if (!outcome.ok) return protocolError(outcome.code, outcome.message, id, outcome.retryAfterSec);
  return createMessage('certificate.issued', { certificate: outcome.certificatePem, chain: outcome.chainPem }, { ref: id });
}
