/** The agent's side of §20: when to renew, the signed request, and the switch to the new certificate. */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { createCsr } from '../../server/infra/pki/csr';
import { TIMERS, createMessage, renewSigningInput, type CertificateIssued, type Envelope } from '../src';
import type { AgentState } from './state';

const generateKeyPairAsync = promisify(generateKeyPair);

/** §20.2: due once `certificateRenewAtFraction` of the validity has elapsed, on the server clock. */
export function renewalDue(certificatePem: string, serverNowMs: number): boolean {
  const cert = new X509Certificate(certificatePem);
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return serverNowMs >= from + (to - from) * TIMERS.certificateRenewAtFraction;
}

/**
 * A new EC P-256 key, its CSR, and the `certificate.renew` message signed by the current key.
 * The key and CSR are kept in `state.renewal` until the server answers, so a re-send presents
 * the same CSR and gets the same certificate back.
 */
export async function startRenewal(state: AgentState): Promise<Envelope> {
  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const csr = createCsr({ keyPair: { privateKey, publicKey }, commonName: 'fr.cartable.agent' });
  const signature = sign('sha256', Buffer.from(renewSigningInput(state.deviceId!, csr), 'utf8'), createPrivateKey(state.privateKeyPem!)).toString('base64');
  const message = createMessage('certificate.renew', { csr, signature });
  state.renewal = { messageId: message.id, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), csr };
  return message;
}

/**
 * §20.3: checks the issued certificate (our new key, our deviceId, our CA, valid now) and makes
 * it the identity, keeping the previous one until the new one has authenticated once.
 * Returns the reason when the certificate is refused.
 */
export function acceptIssued(state: AgentState, issued: CertificateIssued, nowMs = Date.now()): string | undefined {
  const renewal = state.renewal;
  if (!renewal) return 'no renewal in progress';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(issued.certificate);
  } catch {
    return 'unparsable certificate';
  }
  const ownKey = createPublicKey(createPrivateKey(renewal.privateKeyPem)).export({ type: 'spki', format: 'der' });
  if (!cert.publicKey.export({ type: 'spki', format: 'der' }).equals(ownKey)) return 'not our new key';
  if (cert.subject !== `CN=${state.deviceId}`) return 'not our deviceId';
  const ourCa = state.chain?.at(-1);
  if (!ourCa || !cert.verify(new X509Certificate(ourCa).publicKey)) return 'not issued by our CA';
  if (nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) return 'not valid now';
  state.previousIdentity = { certificate: state.certificate!, chain: state.chain ?? [], privateKeyPem: state.privateKeyPem! };
  state.certificate = issued.certificate;
  state.chain = issued.chain;
  state.privateKeyPem = renewal.privateKeyPem;
  state.renewal = undefined;
  return undefined;
}

/** The server refused the renewal, or the agent refused its answer: the new key is dropped. */
export function abandonRenewal(state: AgentState): void {
  state.renewal = undefined;
}

/** The new identity authenticated: the old key can go. */
export function confirmIdentity(state: AgentState): void {
  state.previousIdentity = undefined;
}

/** The new identity was refused before it ever authenticated: go back to the previous one. */
export function revertIdentity(state: AgentState): boolean {
  const previous = state.previousIdentity;
  if (!previous) return false;
  Object.assign(state, previous);
  state.previousIdentity = undefined;
  return true;
}
