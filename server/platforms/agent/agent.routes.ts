import { TypeBoxValidatorCompiler, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import {
  ChallengeResponse,
  ERROR_CODE_INFO,
  EnrollRequest,
  EnrollResponse,
  ExchangeRequest,
  ExchangeResponse,
  SessionRequest,
  SessionResponse,
  reenrollSigningInput,
  stripUnknown,
  type PreviousEnrollment,
} from '../../../agent-protocol/src';
import { DomainError, RateLimitedError } from '../../domain/errors';
import { problemOf } from '../../infra/http/error-handler';
import { problem, sendProblem } from '../../infra/http/problem';
import type { AgentEdge } from './agent-edge';
import type { CertificateProof } from '../../domain/platform-ports';
import { parseCsr, verifyChallengeSignature } from '../../infra/pki';
import { hardwareFacts } from './agent-messages';
import { verifyKeyAttestation, type AttestationRecord } from './key-attestation';

/**
 * The agent's problem documents (§16): a protocol code keeps its protocol status, and a body over
 * the size limit is `message_too_big`, as the protocol names it.
 */
function agentProblem(error: FastifyError | DomainError) {
  if (error instanceof DomainError) {
    const info = (ERROR_CODE_INFO as Record<string, { http?: number }>)[error.code];
    const base = problemOf(error);
    return info?.http ? { ...base, status: info.http } : base;
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return problem(413, 'message_too_big', error.message);
  return problemOf(error);
}

/** The key attestation of an enrollment; an unreadable CSR is left for the enrollment itself to refuse. */
function attestationOf(edge: AgentEdge, input: { token: string; csr: string; serial: string; chain: string[] | undefined }): AttestationRecord | undefined {
  if (!input.chain) return { result: 'absent' };
  let csrPublicKeyDer: Buffer;
  try {
    csrPublicKeyDer = parseCsr(input.csr).publicKeyDer;
  } catch {
    return undefined;
  }
  return verifyKeyAttestation({ ...input, csrPublicKeyDer, trustedRoots: edge.attestationRoots });
}

/** §22: the previous key signed the new CSR, exactly as sent. */
function previousProof(previous: PreviousEnrollment, csr: string): CertificateProof {
  const deviceId = previous.deviceId.toLowerCase();
  return {
    certificatePem: previous.certificate,
    claimedDeviceId: deviceId,
    verify: (publicKey) => verifyChallengeSignature(publicKey, Buffer.from(reenrollSigningInput(deviceId, csr), 'utf8'), previous.signature),
  };
}

/** The device agent's endpoints (enrollment, WebSocket, HTTPS fallback), mounted under /agent/v1. */
export function agentRoutes(edge: AgentEdge): FastifyPluginAsyncTypebox {
  return async (app) => {
    const { infra } = app;
    const { config } = infra;
    const { gateway, fallback } = edge;
    // The protocol's own schemas decide, strictly and the same way on every path: no coercion of "34" into 34.
    app.setValidatorCompiler(TypeBoxValidatorCompiler);
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const body = agentProblem(error);
      if (body.status === 503) {
        request.log.warn({ code: body.code }, 'agent request refused');
        reply.header('retry-after', '5');
      } else if (body.status >= 500) request.log.error({ err: error }, 'agent request failed');
      if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSec));
      return sendProblem(reply, { ...body, instance: request.url.split('?')[0] });
    });

    // Only tablets call these routes: the security headers of pages are left off, as for iPads.
    const forDevices = { securityHeaders: false as const };
    // Counted before validation, so a flood of malformed attempts is limited too.
    const enrollLimit = app.addressLimit('enrollment', config.ENROLL_RATE_LIMIT_PER_MIN, 60_000);

    app.post('/enroll', { config: { access: { device: 'enrollment_token' }, ...forDevices }, onRequest: enrollLimit, schema: { tags: ['agent'], body: EnrollRequest, response: { 201: EnrollResponse } } }, async (request, reply) => {
      const { token, csr, hardware, agent, attestation, capabilities, previous, push } = stripUnknown(EnrollRequest, request.body);
      const serial = hardware.serial && hardware.serial !== 'unknown' ? hardware.serial : null;
      const attested = attestationOf(edge, { token, csr, serial: hardware.serial, chain: attestation?.certificateChain });
      const enrolled = await edge.enrollment.enroll({
        platform: 'android',
        token,
        csrPem: csr,
        serial,
        imei: hardware.imei ?? null,
        udid: null,
        manufacturer: hardware.manufacturer,
        model: hardware.model,
        osVersion: hardware.androidVersion,
        agentVersion: agent.versionName,
        managementMode: 'device_owner',
        storageTotalBytes: hardware.totalStorageBytes ?? null,
        facts: { hardware: hardwareFacts(hardware), agent, attestation: attested, ...(hardware.wifiMac ? { network: { wifiMac: hardware.wifiMac } } : {}) },
        sourceIp: request.ip,
        capabilities: capabilities ?? null,
        ...(previous ? { previous: previousProof(previous, csr) } : {}),
      });
      if (push) await edge.push.register(enrolled.deviceId, push);
      return reply.code(201).send({
        deviceId: enrolled.deviceId,
        certificate: enrolled.certificatePem,
        chain: enrolled.chainPem,
        endpoints: edge.endpoints,
        heartbeatSec: config.AGENT_HEARTBEAT_SEC,
        // A tablet that enrolls takes its school's profiles at once.
        desiredState: await edge.desiredState.current(enrolled.deviceId),
        ...(enrolled.previousDeviceId ? { previousDeviceId: enrolled.previousDeviceId } : {}),
        serverTime: new Date().toISOString(),
        ...(config.AGENT_MIN_VERSION_CODE !== undefined ? { minAgentVersionCode: config.AGENT_MIN_VERSION_CODE } : {}),
      });
    });

    app.get('/ws', { websocket: true, config: { access: { device: 'signed_challenge' }, ...forDevices }, schema: { hide: true } }, (socket) => gateway.accept(socket));

    app.get('/challenge', { config: { access: { public: 'a fresh nonce for a device to sign' }, ...forDevices }, schema: { tags: ['agent'], response: { 200: ChallengeResponse } } }, () => fallback.challenge());

    app.post('/session', { config: { access: { device: 'signed_challenge' }, ...forDevices }, schema: { tags: ['agent'], body: SessionRequest, response: { 200: SessionResponse } } }, (request) => fallback.session(request.body));

    app.post('/exchange', { config: { access: { device: 'device_session' }, ...forDevices }, schema: { tags: ['agent'], body: ExchangeRequest, response: { 200: ExchangeResponse } } }, async (request) =>
      fallback.exchange(await fallback.identify(request.headers.authorization), request.body.messages),
    );
  };
}
