/**
 * What the AMAPI services need of Google, in Google's JSON shapes. The implementation
 * (`server/platforms/amapi/google-client.ts`) wraps the official client with Cartable's retry
 * policy; tests point it at a local fake.
 */

import type { AppsReport, InventoryReport, NonComplianceDetail, StatusReport } from '../../domain/platform-ports';

export type Json = Record<string, unknown>;

export interface GoogleOperation {
  name: string;
  done?: boolean;
  error?: { code?: number; message?: string } | null;
  metadata?: Json;
  response?: Json;
}

export interface PulledMessage {
  ackId: string;
  message: PubsubMessage;
}

export interface PubsubMessage {
  messageId: string;
  publishTime: string;
  data?: string;
  attributes?: Record<string, string>;
}

/** A service account key as Google's console downloads it (only the fields Cartable reads). */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  project_id?: string;
}

/** The Google calls of one binding, authenticated as its service account. */
export interface AmapiGoogle {
  createSignupUrl(projectId: string, callbackUrl: string, adminEmail?: string): Promise<{ name: string; url: string }>;
  /** Never repeated: a retried creation would orphan what the first one made. */
  createEnterprise(projectId: string, signupUrlName: string, enterpriseToken: string, body: Json): Promise<Json & { name: string }>;
  patchEnterprise(name: string, body: Json, updateMask: string): Promise<Json>;
  createEnrollmentToken(enterpriseName: string, body: Json): Promise<Json & { name: string; value: string; qrCode: string; expirationTimestamp: string }>;
  /** Already gone counts as done. */
  deleteEnrollmentToken(name: string): Promise<void>;
  patchPolicy(name: string, policy: Json, updateMask: string): Promise<Json & { version?: string | number }>;
  /** Null when Google no longer knows the device. */
  getDevice(name: string): Promise<Json | null>;
  listDevices(enterpriseName: string, pageToken?: string): Promise<{ devices: Json[]; nextPageToken?: string }>;
  patchDevice(name: string, body: Json, updateMask: string): Promise<Json>;
  /** Deleting a company-owned device wipes it; a device already gone counts as done. */
  deleteDevice(name: string, wipeDataFlags: string[]): Promise<void>;
  issueCommand(deviceName: string, command: Json): Promise<GoogleOperation>;
  /** The device's operations Google still knows, every page of them. */
  listOperations(deviceName: string): Promise<GoogleOperation[]>;
  /** Null when Google does not know the operation (it forgets finished ones). */
  getOperation(name: string): Promise<GoogleOperation | null>;
  pull(subscription: string, maxMessages: number): Promise<PulledMessage[]>;
  acknowledge(subscription: string, ackIds: string[]): Promise<void>;
}

export type AmapiGoogleFactory = (key: ServiceAccountKey) => AmapiGoogle;

/** A call Google refused or that could not reach it, after Cartable's retry policy. */
export class AmapiCallError extends Error {
  constructor(
    readonly operation: string,
    /** HTTP status; 0 when Google could not be reached. */
    readonly status: number,
    message: string,
  ) {
    super(`${operation}: ${status || 'unreachable'} ${message}`);
    this.name = 'AmapiCallError';
  }

  /** Worth trying again later (quota, Google unavailable, network): not the request's fault. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** What a neutral command becomes on an AMAPI tablet, decided by the platform adapter. */
export type AmapiAction =
  | { type: 'issue'; command: Json }
  | { type: 'delete'; wipeDataFlags: string[] }
  | { type: 'policy'; version: number; policy: Json }
  | { type: 'app'; packageName: string; install: Json | null }
  | { type: 'refresh' };

/** Verifies the signed token of a Pub/Sub push; resolves to the e-mail it was signed for, or throws. */
export type PushTokenVerifier = (token: string, audience: string) => Promise<{ email: string; emailVerified: boolean }>;

/** A Google `Device` resource read into Cartable's neutral reports, by the platform edge. */
export interface DecodedDevice {
  name: string;
  previousNames: string[];
  /** `ACTIVE`, `DISABLED`, `DELETED`, `PROVISIONING`, `LOST`… */
  state: string;
  serial: string | null;
  enrollmentTokenData: string | null;
  inventory: InventoryReport;
  status: StatusReport | null;
  apps: AppsReport | null;
  policyName: string | null;
  appliedPolicyName: string | null;
  appliedPolicyVersion: number | null;
  policyCompliant: boolean | null;
  nonCompliance: NonComplianceDetail[];
}
export type DeviceDecoder = (device: Json) => DecodedDevice;
