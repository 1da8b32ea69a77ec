/**
 * The seam between device protocols and the domain. Every platform edge (the Android agent
 * today, Apple MDM and Windows OMA-DM next) decodes its wire format into calls on these ports
 * and encodes the answers; the services behind them know no protocol.
 */
import type { KeyObject } from 'node:crypto';
import type { NeutralCommand } from './commands';
import type { DeviceChannel, DeviceIdentity, LocationFix, Platform } from './devices';
import type { ImplausibleFix } from './location';

// ── Commands ────────────────────────────────────────────────────────────────────────────

/** What a device said about a command, decoded from its protocol. */
export interface CommandOutcome {
  commandId: string;
  /**
   * `acknowledged`: received (an agent's `command.ack`, an Apple `Acknowledged` is a result);
   * `executing`: started, result to follow; `not_now`: offer it again at a later session.
   */
  status: 'acknowledged' | 'executing' | 'not_now' | 'succeeded' | 'failed' | 'expired';
  /** Kind-specific data the edge decoded and checked; null when there is none or it did not parse. */
  result?: Record<string, unknown> | null;
  /** A position carried by the result (locate), already checked by the edge. */
  location?: LocationFix | null;
  error?: { code: string; message: string } | null;
  /** The message exactly as received: always stored, even when nothing else could be read. */
  raw: unknown;
  /** The protocol message that carried it, so a re-send is told apart from a late second result. */
  messageId?: string;
  /** The command's kind, when the edge knows it without asking: what follows an outcome can skip work for other kinds. */
  kind?: string;
}

/** Commands handed to a device in one go, and cancellations it must hear of. */
export interface HandOut {
  commands: NeutralCommand[];
  /** Commands the device was given and that were cancelled since: tell it not to run them. */
  cancelled: string[];
  /**
   * Some of these commands were handed out before: the device may hold their results without
   * our acknowledgement (a result that could not be stored), so ask it to send them again.
   */
  redelivered: boolean;
}

export interface NextOptions {
  /**
   * True when the device starts a session (an agent's hello or first HTTPS exchange, Apple's
   * `Idle`, a Windows session's start): what it was given before without acknowledging, and
   * what it put off with `not_now`, is offered again. Within a session, a `not_now` command
   * waits for the next one.
   */
  newSession: boolean;
  /** At most this many commands (Apple hands out one at a time, Windows a few per session). */
  limit?: number;
}

/** The durable command queue, as every platform edge sees it. */
export interface CommandQueuePort {
  /** The device's pending commands, oldest first, marked as sent (attempts + 1). */
  next(deviceId: string, options: NextOptions): Promise<HandOut>;
  report(deviceId: string, outcome: CommandOutcome): Promise<void>;
  /** The device was told of these cancellations. */
  cancellationsDelivered(deviceId: string, commandIds: string[]): Promise<void>;
  /** The device starts a session holding these commands already: they need not go again. */
  alreadyReceived(deviceId: string, commandIds: string[]): Promise<void>;
}

/**
 * How commands reach one platform. The commands service checks and wakes through it; the edge
 * that serves the platform renders through it.
 */
export interface PlatformAdapter<Rendered = unknown> {
  readonly platform: Platform;
  /** Set when the adapter serves the platform's devices managed through another channel than its own protocol. */
  readonly channel?: DeviceChannel;
  /**
   * The capability a device must have announced to take the kind (null: none needed), or
   * undefined when the platform cannot carry the kind at all. Commands a device cannot take are
   * refused before anything is queued.
   */
  capabilityFor(kind: string): string | null | undefined;
  /** Why a device without `capability` cannot take `kind`, in the platform's words (a default sentence otherwise). */
  missingCapability?(kind: string, capability: string): string;
  /** Asks devices to come for their commands (socket nudge, APNs or WNS push); best effort. */
  wake(deviceIds: string[]): Promise<void>;
  /** The command in the platform's wire form, for the edge that hands it out. */
  render(command: NeutralCommand): Promise<Rendered>;
}

export interface CommandRefusal {
  code: 'platform_not_managed' | 'kind_not_supported_on_platform' | 'capability_not_announced' | 'app_platform_mismatch';
  message: string;
}

// ── Identity ────────────────────────────────────────────────────────────────────────────

export type AuthFailureCode = 'auth_failed' | 'certificate_invalid' | 'certificate_wrong_ca' | 'certificate_expired' | 'device_revoked';
export type AuthOutcome =
  | {
      ok: true;
      identity: DeviceIdentity;
      /** The certificate should be replaced now: it is longer-lived than the policy, or most of its validity has elapsed. */
      renewalDue: boolean;
    }
  | { ok: false; code: AuthFailureCode; message: string };

export type RenewalOutcome =
  | { ok: true; certificatePem: string; chainPem: string[] }
  | { ok: false; code: 'proof_invalid' | 'csr_invalid' | 'csr_bad_signature' | 'rate_limited'; message: string; retryAfterSec?: number };

export interface CertificateProof {
  certificatePem: string;
  /** The device id the caller claims; the certificate must name it. */
  claimedDeviceId: string;
  /** The protocol's proof of possession, checked with the certificate's key once the certificate is known. */
  verify(publicKey: KeyObject): boolean;
}

/** A device is who its certificate says, never what it claims in a path or a field. */
export interface DeviceIdentityPort {
  authenticate(proof: CertificateProof): Promise<AuthOutcome>;
  /** Whether the device may still talk (wiped, retired and revoked devices may not). */
  stillActive(identity: DeviceIdentity): Promise<boolean>;
  /**
   * A certificate for a new key of an authenticated device. `proven`: the edge checked the
   * request's proof with the key this session authenticated with. The certificate stays pending,
   * beside the current one, until the device first authenticates with it.
   */
  renewCertificate(identity: DeviceIdentity, csrPem: string, proven: boolean): Promise<RenewalOutcome>;
}

// ── Enrollment ──────────────────────────────────────────────────────────────────────────

export interface EnrollmentRequest {
  platform: Platform;
  /** The enrollment token's secret, as typed or scanned. */
  token: string;
  /** PKCS#10 certificate request (PEM) proving possession of the device's key. */
  csrPem: string;
  serial: string | null;
  imei: string | null;
  udid: string | null;
  manufacturer: string;
  model: string;
  osVersion: string;
  agentVersion: string | null;
  managementMode: string;
  storageTotalBytes: number | null;
  /** Platform facts the edge read from the request, limited to fields its protocol defines. */
  facts: Record<string, unknown>;
  sourceIp: string | null;
  /** What the device says it can do, known before its first session; null when it did not say. */
  capabilities?: string[] | null;
  /** Proof that the device holds the key of an earlier enrollment: it is the same device, enrolled again without a reset. */
  previous?: CertificateProof;
}

export interface EnrolledDevice {
  deviceId: string;
  certificatePem: string;
  chainPem: string[];
  /** The earlier record this enrollment replaced, when the device proved it held it. */
  previousDeviceId: string | null;
}

export interface EnrollmentPort {
  enroll(request: EnrollmentRequest): Promise<EnrolledDevice>;
}

// ── Inventory ───────────────────────────────────────────────────────────────────────────

/** A full inventory, in neutral columns plus per-section facts the edge kept from its protocol. */
export interface InventoryReport {
  serial: string | null;
  imei: string | null;
  manufacturer: string;
  model: string;
  osVersion: string;
  agentVersion: string | null;
  managementMode: string;
  storageTotalBytes: number | null;
  storageFreeBytes: number | null;
  /**
   * Sections shown on the device page. `network` (addresses, Wi-Fi name) is personal-ish data
   * shown to technicians only; there is never a position here.
   */
  facts: { hardware?: Record<string, unknown>; software?: Record<string, unknown>; management?: Record<string, unknown>; network?: Record<string, unknown>; security?: Record<string, unknown> };
}

export interface StatusReport {
  batteryLevel: number | null;
  charging: string | null;
  storageFreeBytes: number | null;
  facts: Record<string, unknown>;
  /** What the device sees of the network now (the Wi-Fi it is on): technicians only. */
  network: Record<string, unknown> | null;
}

export interface AppsReport {
  full: boolean;
  apps: { identifier: string; name: string | null; version: string | null; versionCode: number | null; installer: string | null; system: boolean }[];
  removed: string[];
}

export interface DeviceEvent {
  kind: string;
  at: Date;
  data: Record<string, unknown>;
  /** `at` comes from a device clock never compared with the server's. */
  timeUnverified: boolean;
}

export type LocationOutcome = { stored: true } | { stored: false; code: 'location_not_allowed' | 'location_implausible'; message: string };

export interface SessionFacts {
  transport: string;
  protocol: number;
  capabilities: string[] | null;
  agentVersion: string | null;
  agentVersionCode: number | null;
  facts: Record<string, unknown>;
}

/** A request to a device for fresh reports, waiting for its acknowledgement. */
export interface ReportRequest {
  id: string;
  kinds: string[];
  reason: string;
}

/** What a device tells about itself. Each call is idempotent for a given `messageId`. */
export interface InventoryPort {
  recordSession(deviceId: string, session: SessionFacts): Promise<void>;
  updateInventory(deviceId: string, report: InventoryReport): Promise<void>;
  updateStatus(deviceId: string, report: StatusReport): Promise<void>;
  updateApps(deviceId: string, report: AppsReport): Promise<void>;
  recordEvents(deviceId: string, messageId: string, events: DeviceEvent[]): Promise<void>;
  /** Kept only while lost mode, an in-flight locate or the school's location policy allows it, and only when plausible. */
  recordLocation(deviceId: string, messageId: string, fix: LocationFix, commandId: string | null): Promise<LocationOutcome>;
  /** Why a position a device sent cannot be true (it is then counted as refused), or null. */
  checkFix(fix: LocationFix): ImplausibleFix | null;
  /** A position refused before it could be read (its body broke the protocol's schema): counted. */
  countRefusedPosition(reason: 'invalid_body'): void;
  /** Last-seen times of many devices at once. */
  touch(seen: { id: string; at: Date }[]): Promise<void>;
  /**
   * A numbered message arrived. When `oldestUnsent` (the first numbered message of a connection,
   * the oldest the device still holds) skips numbers, those messages are lost: the gap is
   * recorded and returned.
   */
  recordSequence(deviceId: string, seq: number, oldestUnsent: boolean): Promise<{ from: number; to: number } | null>;
  /** Asks the device for fresh reports, if it understands such a request (null otherwise). */
  requestReports(deviceId: string, kinds: string[], reason: string): Promise<ReportRequest | null>;
  pendingReportRequest(deviceId: string): Promise<ReportRequest | null>;
  reportRequestAcked(deviceId: string, id: string): Promise<void>;
}

// ── Desired state ───────────────────────────────────────────────────────────────────────

/** A device's desired state as platforms carry it: a version that only grows and the platform's policy. */
export interface DesiredState {
  version: number;
  policy: Record<string, unknown>;
}

export interface NonComplianceDetail {
  fieldPath: string;
  reason: string;
}

/** Agent protocol §24.1: what the server does for an outdated agent once its session is recorded. */
export interface AgentSelfUpdatePort {
  /** Queues the agent's own update when it needs one, can install it, and none is pending. `announced` is what the session said. */
  afterSession(deviceId: string, announced: Pick<SessionFacts, 'agentVersionCode' | 'capabilities'>): Promise<void>;
}

/** What a device must hold, and what it says it did with it. */
export interface DesiredStatePort {
  /** Its desired state now (its effective set, brought up to date at once); version 0 when no profile applies. */
  current(deviceId: string): Promise<DesiredState>;
  /** The version the device says it holds at the start of a session. */
  announced(deviceId: string, version: number): Promise<void>;
  applied(deviceId: string, version: number, nonCompliance: NonComplianceDetail[]): Promise<void>;
  rejected(deviceId: string, version: number, errors: unknown[]): Promise<void>;
  /**
   * A command's outcome on a device that takes profiles one by one: an install or removal
   * answered, or the list of profiles it holds (`result.profiles[].profileId`).
   */
  commandOutcome(deviceId: string, outcome: CommandOutcome): Promise<void>;
}

// ── Push ────────────────────────────────────────────────────────────────────────────────

/** Where a push service can reach a device (a Firebase registration token, say). */
export interface PushRegistration {
  provider: string;
  token: string;
  projectId?: string | null;
}

/** A wake-up to send: where, and when the earliest pending command expires (null: only a cancellation waits). */
export interface WakeUp {
  deviceId: string;
  provider: string;
  token: string;
  projectId: string | null;
  earliestExpiry: Date | null;
}

export interface PushRegistrationsPort {
  /** The device's latest registration replaces the previous one. */
  register(deviceId: string, registration: PushRegistration): Promise<void>;
  /** The device has no registration any more; with a token, only if it is still the one registered. */
  forget(deviceId: string, token?: string): Promise<void>;
  /** The wake-ups due among these devices, marked as sent (at most one per device per interval). */
  claimWakeUps(deviceIds: string[], minIntervalSec: number): Promise<WakeUp[]>;
}
