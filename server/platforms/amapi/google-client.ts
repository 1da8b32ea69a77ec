// The two generated APIs alone: the package's index loads every Google API (about 110 MB of
// resident memory in each process, against 18 MB for these two).
import { androidmanagement } from 'googleapis/build/src/apis/androidmanagement';
import { pubsub as pubsubApi } from 'googleapis/build/src/apis/pubsub';
import { GoogleAuth, type OAuth2Client } from 'google-auth-library';
import { AmapiCallError, type AmapiGoogle, type AmapiGoogleFactory, type GoogleOperation, type Json, type ServiceAccountKey } from '../../modules/amapi/amapi.port';

export const AMAPI_SCOPES = ['https://www.googleapis.com/auth/androidmanagement', 'https://www.googleapis.com/auth/pubsub'];

/** Google's quota window is a minute: a 429 waits that long, with jitter so that many callers do not return together. */
export const QUOTA_WAIT_MS = 60_000;
export const QUOTA_JITTER_MS = 15_000;

type AuthClient = OAuth2Client | GoogleAuth;

export interface GoogleClientOptions {
  /** `https://androidmanagement.googleapis.com/` in production; a local fake in tests. */
  rootUrl: string;
  pubsubRootUrl: string;
  /** How a key becomes credentials; tests give a client holding a fixed token (the token URL is Google's, hard-coded). */
  authFor?: (key: ServiceAccountKey) => AuthClient;
  /** Waits before a retry; tests make it instant. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultAuth = (key: ServiceAccountKey) => new GoogleAuth({ credentials: { client_email: key.client_email, private_key: key.private_key }, scopes: AMAPI_SCOPES });
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function statusOf(error: unknown): { status: number; message: string } {
  const e = error as { status?: number; code?: number | string; response?: { status?: number; data?: { error?: { message?: string } } }; message?: string };
  const status = e.response?.status ?? (typeof e.status === 'number' ? e.status : typeof e.code === 'number' ? e.code : 0);
  return { status, message: e.response?.data?.error?.message ?? e.message ?? 'unknown error' };
}

/**
 * The official client, with its own retries off: they never cover POST or PATCH and repeat a
 * 429 within seconds. Cartable's policy instead: a 429 waits about a minute (with jitter) and
 * is tried once more; creations are never repeated, since a creation that timed out may have
 * happened; other failures go back to the caller, whose job or command tries again later.
 */
export function createGoogleClientFactory(options: GoogleClientOptions): AmapiGoogleFactory {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const authFor = options.authFor ?? defaultAuth;

  return (key: ServiceAccountKey): AmapiGoogle => {
    const auth = authFor(key);
    // Node's own fetch: gaxios would otherwise load node-fetch through a dynamic import.
    const transport = { auth, retry: false, fetchImplementation: globalThis.fetch };
    const api = androidmanagement({ version: 'v1', rootUrl: options.rootUrl, ...transport });
    const pubsub = pubsubApi({ version: 'v1', rootUrl: options.pubsubRootUrl, ...transport });

    async function call<T>(operation: string, fn: () => Promise<{ data: T }>, mode: 'retry_quota' | 'once' = 'retry_quota'): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        try {
          return (await fn()).data;
        } catch (error) {
          const { status, message } = statusOf(error);
          if (status === 429 && mode === 'retry_quota' && attempt === 0) {
            await sleep(QUOTA_WAIT_MS + Math.floor(random() * QUOTA_JITTER_MS));
            continue;
          }
          throw new AmapiCallError(operation, status, message);
        }
      }
    }

    /** A 404 means "not there": for a read, nothing; for a deletion, already done. */
    async function orNull<T>(promise: Promise<T>): Promise<T | null> {
      try {
        return await promise;
      } catch (error) {
        if (error instanceof AmapiCallError && error.status === 404) return null;
        throw error;
      }
    }

    return {
      createSignupUrl: (projectId, callbackUrl, adminEmail) =>
        call('signupUrls.create', () => api.signupUrls.create({ projectId, callbackUrl, ...(adminEmail ? { adminEmail } : {}) }), 'once') as Promise<{ name: string; url: string }>,
      createEnterprise: (projectId, signupUrlName, enterpriseToken, body) =>
        call('enterprises.create', () => api.enterprises.create({ projectId, signupUrlName, enterpriseToken, requestBody: body }), 'once') as Promise<Json & { name: string }>,
      patchEnterprise: (name, body, updateMask) => call('enterprises.patch', () => api.enterprises.patch({ name, updateMask, requestBody: body })) as Promise<Json>,
      createEnrollmentToken: (parent, body) =>
        call('enrollmentTokens.create', () => api.enterprises.enrollmentTokens.create({ parent, requestBody: body }), 'once') as Promise<Json & { name: string; value: string; qrCode: string; expirationTimestamp: string }>,
      async deleteEnrollmentToken(name) {
        await orNull(call('enrollmentTokens.delete', () => api.enterprises.enrollmentTokens.delete({ name })));
      },
      patchPolicy: (name, policy, updateMask) => call('policies.patch', () => api.enterprises.policies.patch({ name, updateMask, requestBody: policy })) as Promise<Json>,
      getDevice: (name) => orNull(call('devices.get', () => api.enterprises.devices.get({ name })) as Promise<Json>),
      async listDevices(parent, pageToken) {
        const data = await call('devices.list', () => api.enterprises.devices.list({ parent, pageSize: 100, ...(pageToken ? { pageToken } : {}) }));
        return { devices: (data.devices ?? []) as Json[], ...(data.nextPageToken ? { nextPageToken: data.nextPageToken } : {}) };
      },
      patchDevice: (name, body, updateMask) => call('devices.patch', () => api.enterprises.devices.patch({ name, updateMask, requestBody: body })) as Promise<Json>,
      async deleteDevice(name, wipeDataFlags) {
        await orNull(call('devices.delete', () => api.enterprises.devices.delete({ name, ...(wipeDataFlags.length ? { wipeDataFlags } : {}) })));
      },
      // A 429 means Google did not take the command: trying it once more cannot run it twice.
      issueCommand: (name, command) => call('devices.issueCommand', () => api.enterprises.devices.issueCommand({ name, requestBody: command })) as Promise<GoogleOperation>,
      async listOperations(deviceName) {
        const operations: GoogleOperation[] = [];
        let pageToken: string | undefined;
        do {
          const data = await call('operations.list', () => api.enterprises.devices.operations.list({ name: `${deviceName}/operations`, pageSize: 100, ...(pageToken ? { pageToken } : {}) }));
          operations.push(...((data.operations ?? []) as GoogleOperation[]));
          pageToken = data.nextPageToken ?? undefined;
        } while (pageToken);
        return operations;
      },
      getOperation: (name) => orNull(call('operations.get', () => api.enterprises.devices.operations.get({ name })) as Promise<GoogleOperation>),
      async pull(subscription, maxMessages) {
        const data = await call('subscriptions.pull', () => pubsub.projects.subscriptions.pull({ subscription, requestBody: { maxMessages } }));
        return (data.receivedMessages ?? []).map((m) => ({ ackId: m.ackId ?? '', message: { messageId: m.message?.messageId ?? '', publishTime: m.message?.publishTime ?? '', data: m.message?.data ?? undefined, attributes: (m.message?.attributes ?? {}) as Record<string, string> } }));
      },
      async acknowledge(subscription, ackIds) {
        if (ackIds.length) await call('subscriptions.acknowledge', () => pubsub.projects.subscriptions.acknowledge({ subscription, requestBody: { ackIds } }));
      },
    };
  };
}
