import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { batched } from '../../infra/batched';
import type { Db, DbOrTx } from '../../infra/db/client';
import { sha256 } from '../access/credentials';
import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../../domain/errors';
import type { Platform } from '../../domain/devices';
import type { EnrolledDevice, EnrollmentRequest } from '../../domain/platform-ports';
import { CsrError, parseCsr, type IssuedCertificate, type ParsedCsr } from '../../infra/pki';
import type { SecretBox } from '../../infra/secrets';
import type { Actor, Scope } from '../access/principal';
import { recordAudit, type AuditEntry } from '../audit/audit.service';
import type { PkiStore } from '../pki-store/pki-store.service';
import * as repo from './enrollment.repository';
import { provePrevious, supersedePrevious } from './reenrollment';
import type { PreviousRecord } from './reenrollment.repository';
import type { AdmittedCertificate, AdmittedDevice, AgentPackage, TokenRow } from './enrollment.repository';
import type { ProvisioningExtras } from './provisioning-extras';

const DAY_MS = 24 * 3600 * 1000;
const DEFAULT_TOKEN_DAYS = 7;
const MAX_TOKEN_DAYS = 366;

export type { ProvisioningExtras, WifiExtras } from './provisioning-extras';

export interface ProvisioningInput {
  agentPackage: AgentPackage;
  token: string;
  extras: ProvisioningExtras;
}

export interface EnrollmentDeps {
  db: Db;
  secrets: Pick<SecretBox, 'seal' | 'open'>;
  pki: PkiStore;
  /** A device silent for this long may be replaced by a new enrollment of the same serial. */
  heartbeatSec: number;
  /** What an Android tablet's provisioning QR code carries (the agent platform builds it). */
  androidProvisioning(input: ProvisioningInput): Record<string, unknown>;
  /** The iPad enrollment link of a token (the Apple platform builds it); it enrolls like the token. */
  appleEnrollmentUrl(tokenId: string): string;
}

export interface TokenView {
  id: string;
  schoolId: string;
  groupId: string | null;
  label: string;
  expiresAt: string;
  maxUses: number | null;
  uses: number;
  revokedAt: string | null;
  createdAt: string;
  state: 'active' | 'expired' | 'revoked' | 'exhausted';
}

export interface CreateTokenInput {
  schoolId: string;
  groupId?: string | null;
  label: string;
  expiresAt?: string;
  maxUses?: number | null;
}

function stateOf(row: TokenRow, now = Date.now()): TokenView['state'] {
  if (row.revokedAt) return 'revoked';
  if (row.expiresAt.getTime() <= now) return 'expired';
  if (row.maxUses !== null && row.uses >= row.maxUses) return 'exhausted';
  return 'active';
}

function toView(row: TokenRow): TokenView {
  return {
    id: row.id,
    schoolId: row.schoolId,
    groupId: row.groupId,
    label: row.label,
    expiresAt: row.expiresAt.toISOString(),
    maxUses: row.maxUses,
    uses: row.uses,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    state: stateOf(row),
  };
}

/** Why a token cannot be used, in the agent protocol's words. */
function refusal(row: TokenRow | undefined): ForbiddenError {
  if (!row) return new ForbiddenError('The enrollment token is not recognised.', 'token_unknown');
  if (row.revokedAt) return new ForbiddenError('The enrollment token was revoked.', 'token_revoked');
  if (row.expiresAt.getTime() <= Date.now()) return new ForbiddenError(`The enrollment token expired on ${row.expiresAt.toISOString()}.`, 'token_expired');
  return new ForbiddenError('The enrollment token reached its maximum number of uses.', 'token_exhausted');
}

/** A re-enrollment without attestation of its own keeps the one of the enrollment it descends from. */
function inheritedAttestation(facts: Record<string, unknown>, previous: PreviousRecord | undefined): Record<string, unknown> {
  const own = facts.attestation as { result?: string } | undefined;
  return previous?.attestation && (!own || own.result === 'absent') ? { attestation: previous.attestation } : {};
}

/** At most this many enrollments share a transaction. */
const ENROLL_BATCH = 100;

/** An enrollment checked and its certificate signed, before any transaction. */
interface Prepared {
  request: EnrollmentRequest;
  csr: ParsedCsr;
  deviceId: string;
  spkiSha256: string;
  tokenHash: string;
  issued: IssuedCertificate;
  previous: PreviousRecord | undefined;
}

type Outcome = { ok: true; enrolled: EnrolledDevice } | { ok: false; error: unknown };
const actorOf = (p: Prepared): Actor => ({ type: 'device', id: p.deviceId, label: p.request.serial, role: null, ip: p.request.sourceIp });
const succeeded = (enrolled: EnrolledDevice): Outcome => ({ ok: true, enrolled });
const failed = (error: unknown): Outcome => ({ ok: false, error });

export function createEnrollmentService(deps: EnrollmentDeps) {
  const { db, secrets, pki } = deps;
  const admitDevices = repo.admitDevicesStatement(db);

  async function tokenInScope(scope: Scope, id: string): Promise<TokenRow> {
    const row = await repo.findToken(db, scope, id);
    if (!row) throw new NotFoundError('Enrollment token');
    return row;
  }

  async function prepare(request: EnrollmentRequest): Promise<Prepared> {
    let csr;
    try {
      // Windows' enrollment client signs its request with SHA-1 unless its policy asks otherwise.
      csr = parseCsr(request.csrPem, { allowSha1: request.platform === 'windows' });
    } catch (error) {
      if (error instanceof CsrError) throw new InvalidInputError(error.message, error.reason === 'bad_signature' ? 'csr_bad_signature' : 'csr_invalid');
      throw error;
    }
    const deviceId = randomUUID();
    return {
      request,
      csr,
      deviceId,
      spkiSha256: createHash('sha256').update(csr.publicKeyDer).digest('hex'),
      tokenHash: sha256(request.token),
      issued: await pki.issueDeviceCertificate(csr.publicKeyDer, deviceId, csr.keyType),
      previous: request.previous ? await provePrevious(db, pki, request.previous) : undefined,
    };
  }

  const enrolled = (id: string, certPem: string, previousDeviceId: string | null): EnrolledDevice => ({ deviceId: id, certificatePem: certPem, chainPem: [pki.caCertPem()], previousDeviceId });

  /** The silent records of these serials in the token's school, retired: their ids by serial. */
  async function retireSilent(tx: DbOrTx, token: TokenRow, platform: Platform, serials: string[]): Promise<Map<string, string[]>> {
    const retired = await repo.retireSilentBySerials(tx, { schoolId: token.schoolId, platform, serials, silentSec: deps.heartbeatSec * 2 });
    const bySerial = new Map<string, string[]>();
    for (const r of retired) bySerial.set(r.serial, [...(bySerial.get(r.serial) ?? []), r.id]);
    return bySerial;
  }

  /** The device's rows for an active token, and its events: the records it replaced, then its enrollment. */
  function admission(token: TokenRow, p: Prepared, linked: PreviousRecord | undefined, replaced: string[]) {
    const { request, deviceId, issued } = p;
    const { serial } = request;
    const actor = actorOf(p);
    const events: AuditEntry[] = replaced.map((old) => ({
      organisationId: token.organisationId,
      actor,
      action: 'device.replaced',
      target: { type: 'device', id: old },
      schoolId: token.schoolId,
      outcome: 'success',
      details: { by: deviceId, serial, tokenId: token.id },
    }));
    events.push({
      organisationId: token.organisationId,
      actor,
      action: 'device.enroll',
      target: { type: 'device', id: deviceId },
      schoolId: token.schoolId,
      outcome: 'success',
      details: { tokenId: token.id, platform: request.platform, model: request.model, serial, replaced },
    });
    const device: AdmittedDevice = {
      id: deviceId,
      organisationId: token.organisationId,
      schoolId: token.schoolId,
      groupId: token.groupId,
      platform: request.platform,
      name: [request.model, serial ?? deviceId.slice(0, 8)].join(' '),
      serial,
      imei: request.imei,
      udid: request.udid,
      manufacturer: request.manufacturer,
      model: request.model,
      osVersion: request.osVersion,
      agentVersion: request.agentVersion,
      managementMode: request.managementMode,
      storageTotalBytes: request.storageTotalBytes,
      capabilities: request.capabilities ?? null,
      previousDeviceId: linked?.id ?? null,
      facts: { ...request.facts, ...inheritedAttestation(request.facts, linked), enrollment: { tokenId: token.id, spkiSha256: p.spkiSha256, keyType: p.csr.keyType } },
    };
    const certificate: AdmittedCertificate = { deviceId, serialHex: issued.serialHex, fingerprintSha256: issued.fingerprintSha256, notBefore: issued.notBefore, notAfter: issued.notAfter };
    return { device, certificate, events };
  }

  /** One enrollment in its own transaction: a re-enrollment, a retry, or one that could not share. */
  async function enrollAlone(p: Prepared): Promise<EnrolledDevice> {
    return db.transaction(async (tx) => {
      const token = await repo.findTokenByHash(tx, p.tokenHash);
      if (!token || stateOf(token) !== 'active') {
        const retry = token && !token.revokedAt ? await repo.findRecentEnrollment(tx, token.id, p.spkiSha256) : undefined;
        if (!retry) throw refusal(token);
        // A retry whose answer was lost: the same device, the same key, a certificate naming it.
        const again = await pki.issueDeviceCertificate(p.csr.publicKeyDer, retry.id, p.csr.keyType);
        await repo.insertCertificate(tx, { deviceId: retry.id, serialHex: again.serialHex, fingerprintSha256: again.fingerprintSha256, notBefore: again.notBefore, notAfter: again.notAfter });
        return enrolled(retry.id, again.certPem, retry.previousDeviceId);
      }
      const linked = p.previous?.organisationId === token.organisationId ? p.previous : undefined;
      const { serial, platform } = p.request;
      if (linked) await supersedePrevious(tx, linked, { deviceId: p.deviceId, organisationId: token.organisationId, schoolId: token.schoolId, actor: actorOf(p), tokenId: token.id });
      const replaced = serial ? ((await retireSilent(tx, token, platform, [serial])).get(serial) ?? []) : [];
      const { device, certificate, events } = admission(token, p, linked, replaced);
      // False when another enrollment took the token's last use between the read and now.
      if (!(await admitDevices(tx, token.id, [device], [certificate]))) throw refusal(await repo.findTokenByHash(tx, p.tokenHash));
      for (const event of events) await recordAudit(tx, event);
      return enrolled(p.deviceId, p.issued.certPem, linked?.id ?? null);
    });
  }

  /**
   * Enrollments of one token together: one read of the token, its uses taken at once, the
   * devices and certificates in one statement, their events in one append. Anything that would
   * refuse some of them (a token too short of uses, a serial in use, an inactive token, the same
   * serial twice) sends each back alone, to get its own answer.
   */
  async function enrollGroup(group: Prepared[]): Promise<Outcome[]> {
    const serials = group.map((p) => p.request.serial).filter((s): s is string => s !== null);
    // One after the other, in arrival order: the answers are those the tablets would get enrolling in turn.
    const alone = async () => {
      const outcomes: Outcome[] = [];
      for (const p of group) outcomes.push(await enrollAlone(p).then(succeeded, failed));
      return outcomes;
    };
    if (group.length === 1 || new Set(serials).size < serials.length) return alone();
    try {
      return await db.transaction(async (tx) => {
        const token = await repo.findTokenByHash(tx, group[0]!.tokenHash);
        if (!token || stateOf(token) !== 'active') throw new Error('token not active');
        const replaced = await retireSilent(tx, token, group[0]!.request.platform, serials);
        const admitted = group.map((p) => admission(token, p, undefined, p.request.serial ? (replaced.get(p.request.serial) ?? []) : []));
        if (!(await admitDevices(tx, token.id, admitted.map((a) => a.device), admitted.map((a) => a.certificate)))) throw new Error('token short of uses');
        for (const event of admitted.flatMap((a) => a.events)) await recordAudit(tx, event);
        return group.map((p) => succeeded(enrolled(p.deviceId, p.issued.certPem, null)));
      });
    } catch {
      return alone();
    }
  }

  const enrollTogether = batched(
    async (items: Prepared[]): Promise<Outcome[]> => {
      const byToken = new Map<string, Prepared[]>();
      // A group shares a token, and a platform: the records its tablets may replace are of that platform.
      for (const p of items) {
        const key = `${p.tokenHash}:${p.request.platform}`;
        byToken.set(key, [...(byToken.get(key) ?? []), p]);
      }
      const outcomes = new Map<Prepared, Outcome>();
      await Promise.all(
        [...byToken.values()].map(async (group) => {
          const results = await enrollGroup(group);
          group.forEach((p, i) => outcomes.set(p, results[i]!));
        }),
      );
      return items.map((p) => outcomes.get(p)!);
    },
    { maxBatch: ENROLL_BATCH, oneAtATime: true },
  );

  return {
    async createToken(scope: Scope, actor: Actor, input: CreateTokenInput): Promise<{ token: string; view: TokenView; appleEnrollmentUrl: string }> {
      const expiresAt = input.expiresAt ? new Date(input.expiresAt) : new Date(Date.now() + DEFAULT_TOKEN_DAYS * DAY_MS);
      if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= Date.now() || expiresAt.getTime() > Date.now() + MAX_TOKEN_DAYS * DAY_MS) {
        throw new InvalidInputError(`expiresAt must be in the future and within ${MAX_TOKEN_DAYS} days`, 'invalid_expiry');
      }
      // A fixed prefix: recognisable by secret scanners, and never mistaken for a command-line option.
      const token = `cet_${randomBytes(24).toString('base64url')}`;
      return db.transaction(async (tx) => {
        const school = await repo.findSchoolInScope(tx, scope, input.schoolId, input.groupId);
        if (!school) throw new NotFoundError('School or group');
        const row = await repo.insertToken(tx, {
          organisationId: scope.organisationId,
          schoolId: input.schoolId,
          groupId: input.groupId ?? null,
          label: input.label,
          tokenHash: sha256(token),
          tokenCiphertext: secrets.seal(token),
          expiresAt,
          maxUses: input.maxUses ?? null,
          createdBy: actor.type === 'user' || actor.type === 'api_token' ? actor.id : null,
        });
        await recordAudit(tx, {
          organisationId: scope.organisationId,
          actor,
          action: 'enrollment_token.create',
          target: { type: 'enrollment_token', id: row.id },
          schoolId: row.schoolId,
          communeId: school.communeId,
          outcome: 'success',
          details: { label: row.label, expiresAt: row.expiresAt.toISOString(), maxUses: row.maxUses, groupId: row.groupId },
        });
        return { token, view: toView(row), appleEnrollmentUrl: deps.appleEnrollmentUrl(row.id) };
      });
    },

    async listTokens(scope: Scope, filter: { schoolId?: string; limit: number; offset: number }): Promise<TokenView[]> {
      return (await repo.listTokens(db, scope, filter)).map(toView);
    },

    async getToken(scope: Scope, id: string): Promise<TokenView> {
      return toView(await tokenInScope(scope, id));
    },

    async revokeToken(scope: Scope, actor: Actor, id: string): Promise<TokenView> {
      return db.transaction(async (tx) => {
        const row = await repo.revokeToken(tx, scope, id);
        if (!row) throw new NotFoundError('Enrollment token');
        await recordAudit(tx, { organisationId: scope.organisationId, actor, action: 'enrollment_token.revoke', target: { type: 'enrollment_token', id }, schoolId: row.schoolId, outcome: 'success' });
        return toView(row);
      });
    },

    /** What the provisioning QR code carries; reading it reveals the token, so it is audited like a sensitive read. */
    async provisioningPayload(scope: Scope, actor: Actor, id: string, format: 'png' | 'svg' | 'json', extras: ProvisioningExtras = {}): Promise<Record<string, unknown>> {
      return db.transaction(async (tx) => {
        const row = await repo.findToken(tx, scope, id);
        if (!row) throw new NotFoundError('Enrollment token');
        if (stateOf(row) !== 'active') throw new ConflictError(`The enrollment token is ${stateOf(row)}; create a new one.`, 'token_not_active');
        const agentPackage = await repo.getAgentPackage(tx, scope.organisationId);
        if (!agentPackage) throw new ConflictError('The organisation has no agent package settings yet (PATCH /api/v1/organisation/settings/agent-package).', 'agent_package_missing');
        const payload = deps.androidProvisioning({ agentPackage, token: secrets.open(row.tokenCiphertext), extras });
        await recordAudit(tx, { organisationId: scope.organisationId, actor, action: 'enrollment_token.qr', target: { type: 'enrollment_token', id }, schoolId: row.schoolId, outcome: 'success', details: { format, wifi: Boolean(extras.wifi), extras: Object.keys(extras).filter((k) => k !== 'wifi') } });
        return payload;
      });
    },

    /** The iPad enrollment link; it enrolls iPads like the token itself, so reading it is audited. */
    async appleEnrollmentLink(scope: Scope, actor: Actor, id: string, format: 'png' | 'svg' | 'json'): Promise<string> {
      return db.transaction(async (tx) => {
        const row = await repo.findToken(tx, scope, id);
        if (!row) throw new NotFoundError('Enrollment token');
        if (stateOf(row) !== 'active') throw new ConflictError(`The enrollment token is ${stateOf(row)}; create a new one.`, 'token_not_active');
        await recordAudit(tx, { organisationId: scope.organisationId, actor, action: 'enrollment_token.apple_link', target: { type: 'enrollment_token', id }, schoolId: row.schoolId, outcome: 'success', details: { format } });
        return deps.appleEnrollmentUrl(row.id);
      });
    },

    /** Where tablets fetch the agent at provisioning; undefined until an administrator sets it. */
    agentPackage(organisationId: string): Promise<AgentPackage | undefined> {
      return repo.getAgentPackage(db, organisationId);
    },

    async setAgentPackage(organisationId: string, actor: Actor, agentPackage: AgentPackage): Promise<AgentPackage> {
      return db.transaction(async (tx) => {
        if (!(await repo.setAgentPackage(tx, organisationId, agentPackage))) throw new NotFoundError('Organisation');
        await recordAudit(tx, { organisationId, actor, action: 'organisation.agent_package.update', target: { type: 'organisation', id: organisationId }, outcome: 'success', details: { ...agentPackage } });
        return agentPackage;
      });
    },

    /**
     * A device enrolls with a token: it is recorded in the token's school, and its key gets a
     * certificate, signed before any transaction. Tablets of a cart enrolling together share one
     * transaction (docs/performance.md): the token's row and the audit chain's head, which every
     * one of them needs, are then locked once for the lot instead of once per tablet.
     */
    async enroll(request: EnrollmentRequest): Promise<EnrolledDevice> {
      const prepared = await prepare(request);
      if (prepared.previous) return enrollAlone(prepared);
      const outcome = await enrollTogether(prepared);
      if (!outcome.ok) throw outcome.error;
      return outcome.enrolled;
    },
  };
}
export type EnrollmentService = ReturnType<typeof createEnrollmentService>;
