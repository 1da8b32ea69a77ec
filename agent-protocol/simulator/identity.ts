/** The device's identity: its key and certificate from enrollment, and how it proves them in hello (§8). */
import { createPrivateKey, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { createCsr } from '../../server/infra/pki/csr';
import { SUPPORTED_PROTOCOL, authSigningInput, reenrollSigningInput, type EnrollResponse, type Problem, type PushRegistration } from '../src';
import type { DeviceProfile } from './device-profile';
import { postJson } from './json-post';
import type { AgentState } from './state';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * The agents' private keys, parsed once: every hello and renewal signs with the key its state
 * holds as PEM, and parsing it again each time cost the simulator more than the signature.
 */
const parsedKeys = new Map<string, KeyObject>();

export function privateKeyOf(pem: string): KeyObject {
  let key = parsedKeys.get(pem);
  if (!key) parsedKeys.set(pem, (key = createPrivateKey(pem)));
  return key;
}

export class EnrollmentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * POST /agent/v1/enroll with a CSR for an EC P-256 key. The key is created once and kept in
 * `state`, so a retry of the same enrollment presents the same key.
 */
/** What the agent announces about itself besides its identity: capabilities and push registration. */
export interface Announcement {
  capabilities: string[];
  push?: PushRegistration;
}

/** The identity a re-enrolling agent still holds (§22). */
export interface PreviousIdentity {
  deviceId: string;
  certificate: string;
  privateKeyPem: string;
}

export async function requestEnrollment(serverUrl: string, token: string, state: AgentState, profile: DeviceProfile, announce: Announcement, previous?: PreviousIdentity): Promise<EnrollResponse> {
  if (!state.privateKeyPem) {
    const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    state.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    parsedKeys.set(state.privateKeyPem, privateKey);
  }
  const privateKey = privateKeyOf(state.privateKeyPem);
  const csr = createCsr({ keyPair: { privateKey, publicKey: createPublicKey(privateKey) }, commonName: 'fr.cartable.agent' });
  const proof = previous && {
    deviceId: previous.deviceId,
    certificate: previous.certificate,
    signature: sign('sha256', Buffer.from(reenrollSigningInput(previous.deviceId, csr), 'utf8'), privateKeyOf(previous.privateKeyPem)).toString('base64'),
  };
  const res = await postJson(`${serverUrl.replace(/\/+$/, '')}/agent/v1/enroll`, { token, csr, hardware: profile.hardware, agent: profile.agent, ...announce, ...(proof ? { previous: proof } : {}) });
  const body = res.body as EnrollResponse | Problem;
  if (res.status !== 201) {
    const problem = body as Problem;
    throw new EnrollmentError(res.status, problem.code, problem.detail ?? problem.title);
  }
  return body as EnrollResponse;
}

/** The signature of §8 over the nonce exactly as received. */
export function signNonce(state: AgentState, nonce: string): string {
  return sign('sha256', Buffer.from(authSigningInput(nonce, state.deviceId!), 'utf8'), privateKeyOf(state.privateKeyPem!)).toString('base64');
}

/** The hello of an enrolled agent, without its signature; `lastCommandIds` lets the server skip redeliveries. */
export function helloBody(state: AgentState, profile: DeviceProfile, announce: Announcement) {
  return {
    deviceId: state.deviceId!,
    certificate: state.certificate!,
    protocol: { ...SUPPORTED_PROTOCOL },
    capabilities: announce.capabilities,
    agent: { versionName: profile.agent.versionName, versionCode: profile.agent.versionCode },
    bootId: state.bootId,
    lastCommandIds: Object.keys(state.commands).slice(-100).reverse(),
    ...(state.policy ? { appliedStateVersion: state.policy.version } : {}),
    ...(announce.push ? { push: announce.push } : {}),
  };
}
