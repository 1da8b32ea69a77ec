import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';

type Json = Record<string, unknown>;

/** Enum values of the policy fields the fake checks, from Google's discovery document: one unknown value refuses the whole patch. */
const INSTALL_TYPES = ['INSTALL_TYPE_UNSPECIFIED', 'PREINSTALLED', 'FORCE_INSTALLED', 'BLOCKED', 'AVAILABLE', 'REQUIRED_FOR_SETUP', 'KIOSK', 'CUSTOM'];
const CAMERA_ACCESS = ['CAMERA_ACCESS_UNSPECIFIED', 'CAMERA_ACCESS_USER_CHOICE', 'CAMERA_ACCESS_DISABLED', 'CAMERA_ACCESS_ENFORCED'];

interface Failure {
  match: RegExp;
  status: number;
  times: number;
}

/** A call Google carried out whose answer is kept back: the caller waits as if its process had died mid-call. */
interface Hold {
  match: RegExp;
  received: () => void;
  answer?: ServerResponse;
}

/**
 * A local stand-in for Google's Android Management API and Pub/Sub (`/v1/…` at its root URL),
 * following the discovery document's resources: it accepts any bearer token, keeps state in
 * memory, can refuse calls on demand (429, 500…) and simulates tablets that enroll, report and
 * run commands, publishing notifications to one pull subscription. With `signupPage`, the signup
 * URL is its own page, which sends the browser straight back to the callback with an enterprise
 * token, as Google's does once the administrator has signed up.
 */
export async function startFakeAmapi(options: { signupPage?: boolean } = {}) {
  const enterprises = new Map<string, Json>();
  const signups = new Map<string, { projectId: string; used: boolean }>();
  const tokens = new Map<string, Json>();
  const policies = new Map<string, Json & { version: number }>();
  const devices = new Map<string, Json>();
  const operations = new Map<string, Json>();
  const queue: { ackId: string; message: Json }[] = [];
  const failures: Failure[] = [];
  const holds: Hold[] = [];
  const calls: { method: string; path: string; body: unknown }[] = [];
  let seq = 0;
  let rootUrl = '';
  const id = (prefix: string) => `${prefix}${++seq}`;

  function publish(notificationType: string, resource: Json, overrides: Partial<{ messageId: string; publishTime: string }> = {}): Json {
    const message = { messageId: overrides.messageId ?? id('m'), publishTime: overrides.publishTime ?? new Date(Date.now() + seq).toISOString(), attributes: { notificationType }, data: Buffer.from(JSON.stringify(resource)).toString('base64') };
    queue.push({ ackId: id('ack'), message });
    return message;
  }

  function validatePolicy(policy: Json): string | null {
    for (const [i, app] of ((policy.applications as Json[] | undefined) ?? []).entries()) {
      if (app.installType !== undefined && !INSTALL_TYPES.includes(String(app.installType))) return `Invalid value at 'policy.applications[${i}].install_type' (${String(app.installType)})`;
    }
    if (policy.cameraAccess !== undefined && !CAMERA_ACCESS.includes(String(policy.cameraAccess))) return `Invalid value at 'policy.camera_access'`;
    return null;
  }

  function route(method: string, path: string, query: URLSearchParams, body: Json): [number, unknown] {
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/v1/signupUrls') {
      const name = id('signupUrls/C');
      signups.set(name, { projectId: query.get('projectId') ?? '', used: false });
      const page = options.signupPage ? `${rootUrl}signup` : 'https://enterprise.google.com/signup/android/email';
      return [200, { name, url: `${page}?callbackUrl=${encodeURIComponent(query.get('callbackUrl') ?? '')}&token=${name}` }];
    }
    if (method === 'POST' && path === '/v1/enterprises') {
      const signup = signups.get(query.get('signupUrlName') ?? '');
      if (!signup || !query.get('enterpriseToken')) return [400, { error: { code: 400, message: 'Invalid signup URL or enterprise token' } }];
      if (signup.used) return [304, {}];
      signup.used = true;
      const enterprise = { ...body, name: id('enterprises/LC'), enterpriseDisplayName: 'Agglo' };
      enterprises.set(enterprise.name, enterprise);
      return [200, enterprise];
    }
    if ((m = /^\/v1\/(enterprises\/[^/]+)$/.exec(path))) {
      const e = enterprises.get(m[1]!);
      if (!e) return [404, { error: { code: 404, message: 'not found' } }];
      if (method === 'PATCH') Object.assign(e, body);
      return [200, e];
    }
    if (method === 'POST' && (m = /^\/v1\/(enterprises\/[^/]+)\/enrollmentTokens$/.exec(path))) {
      const seconds = Number(String(body.duration ?? '3600s').replace('s', ''));
      const name = `${m[1]}/enrollmentTokens/${id('t')}`;
      const value = id('VALUE');
      const token = { ...body, name, value, expirationTimestamp: new Date(Date.now() + seconds * 1000).toISOString(), qrCode: JSON.stringify({ 'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN': value } }) };
      tokens.set(name, token);
      return [200, token];
    }
    if (method === 'DELETE' && (m = /^\/v1\/(enterprises\/[^/]+\/enrollmentTokens\/[^/]+)$/.exec(path))) {
      return tokens.delete(m[1]!) ? [200, {}] : [404, { error: { code: 404, message: 'not found' } }];
    }
    if (method === 'PATCH' && (m = /^\/v1\/(enterprises\/[^/]+\/policies\/[^/]+)$/.exec(path))) {
      const invalid = validatePolicy(body);
      if (invalid) return [400, { error: { code: 400, message: invalid } }];
      const previous = policies.get(m[1]!);
      const mask = query.get('updateMask')?.split(',') ?? null;
      const next: Json = mask && previous ? { ...previous } : {};
      for (const key of mask ?? Object.keys(body)) if (key in body) next[key] = body[key];
      else delete next[key];
      const policy = { ...next, name: m[1]!, version: (previous?.version ?? 0) + 1 };
      policies.set(m[1]!, policy);
      return [200, policy];
    }
    if (method === 'GET' && (m = /^\/v1\/(enterprises\/[^/]+)\/devices$/.exec(path))) {
      const all = [...devices.values()].filter((d) => String(d.name).startsWith(`${m![1]}/`));
      const start = Number(query.get('pageToken') ?? 0);
      const size = Number(query.get('pageSize') ?? 100);
      const page = all.slice(start, start + size);
      return [200, { devices: page, ...(start + size < all.length ? { nextPageToken: String(start + size) } : {}) }];
    }
    if ((m = /^\/v1\/(enterprises\/[^/]+\/devices\/[^/:]+)(:issueCommand)?$/.exec(path))) {
      const device = devices.get(m[1]!);
      if (!device) return [404, { error: { code: 404, message: 'Device not found' } }];
      if (m[2] && method === 'POST') {
        const name = `${m[1]}/operations/${id('op')}`;
        const operation = { name, done: false, metadata: { ...body, createTime: new Date().toISOString(), '@type': 'type.googleapis.com/google.android.devicemanagement.v1.Command' } };
        operations.set(name, operation);
        return [200, operation];
      }
      if (method === 'GET') return [200, device];
      if (method === 'PATCH') {
        for (const key of query.get('updateMask')?.split(',') ?? Object.keys(body)) device[key] = body[key];
        return [200, device];
      }
      if (method === 'DELETE') {
        devices.delete(m[1]!);
        calls[calls.length - 1]!.body = { wipeDataFlags: query.getAll('wipeDataFlags') };
        return [200, {}];
      }
    }
    if (method === 'GET' && (m = /^\/v1\/(enterprises\/[^/]+\/devices\/[^/]+)\/operations$/.exec(path))) {
      const mine = [...operations.values()].filter((o) => String(o.name).startsWith(`${m![1]}/operations/`));
      const start = Number(query.get('pageToken') ?? 0);
      const size = Number(query.get('pageSize') ?? 100);
      return [200, { operations: mine.slice(start, start + size), ...(start + size < mine.length ? { nextPageToken: String(start + size) } : {}) }];
    }
    if (method === 'GET' && (m = /^\/v1\/(enterprises\/[^/]+\/devices\/[^/]+\/operations\/[^/]+)$/.exec(path))) {
      const operation = operations.get(m[1]!);
      return operation ? [200, operation] : [404, { error: { code: 404, message: 'Operation not found' } }];
    }
    if (method === 'POST' && /^\/v1\/projects\/[^/]+\/subscriptions\/[^/]+:pull$/.test(path)) {
      const max = Number(body.maxMessages ?? 100);
      return [200, { receivedMessages: queue.slice(0, max) }];
    }
    if (method === 'POST' && /^\/v1\/projects\/[^/]+\/subscriptions\/[^/]+:acknowledge$/.test(path)) {
      const acked = new Set(body.ackIds as string[]);
      for (let i = queue.length - 1; i >= 0; i--) if (acked.has(queue[i]!.ackId)) queue.splice(i, 1);
      return [200, {}];
    }
    return [404, { error: { code: 404, message: `no route ${method} ${path}` } }];
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = decodeURIComponent(url.pathname);
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Json) : {};
      if (options.signupPage && req.method === 'GET' && path === '/signup') {
        calls.push({ method: 'GET', path, body: Object.fromEntries(url.searchParams) });
        res.writeHead(302, { location: `${url.searchParams.get('callbackUrl')}?enterpriseToken=${id('EAJ')}` }).end();
        return;
      }
      calls.push({ method: req.method ?? 'GET', path, body });
      const failure = failures.find((f) => f.times > 0 && f.match.test(`${req.method} ${path}`));
      let status: number;
      let answer: unknown;
      if (!/^Bearer .+/.test(req.headers.authorization ?? '')) [status, answer] = [401, { error: { code: 401, message: 'no credentials' } }];
      else if (failure) {
        failure.times--;
        [status, answer] = [failure.status, { error: { code: failure.status, message: failure.status === 429 ? 'Quota exceeded for quota metric Requests per minute' : 'Backend error' } }];
      } else [status, answer] = route(req.method ?? 'GET', path, url.searchParams, body);
      const hold = holds.find((h) => !h.answer && h.match.test(`${req.method} ${path}`));
      if (hold) {
        hold.answer = res;
        hold.received();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 304 ? undefined : JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rootUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const fake = {
    rootUrl,
    enterprises,
    tokens,
    policies,
    devices,
    operations,
    queue,
    calls,
    publish,
    /** The next `times` calls matching `METHOD /path` get this status. */
    fail(match: RegExp, status: number, times = 1) {
      failures.push({ match, status, times });
    },
    /**
     * The next call matching `METHOD /path` is carried out, but its answer never leaves: the
     * caller hangs as a process that died mid-call would. `drop` closes the connection unanswered.
     */
    hold(match: RegExp) {
      let received!: () => void;
      const reached = new Promise<void>((resolve) => (received = resolve));
      const hold: Hold = { match, received };
      holds.push(hold);
      return { reached, drop: () => hold.answer?.destroy() };
    },
    /** A tablet scanned the token's QR code and enrolled; Google publishes ENROLLMENT. */
    enroll(tokenName: string, serial: string, extra: Json = {}): string {
      const token = tokens.get(tokenName);
      if (!token) throw new Error(`no token ${tokenName}`);
      const enterprise = tokenName.split('/enrollmentTokens/')[0]!;
      const name = `${enterprise}/devices/${id('d')}`;
      const now = new Date().toISOString();
      const device: Json = {
        name,
        state: 'ACTIVE',
        appliedState: 'ACTIVE',
        managementMode: 'DEVICE_OWNER',
        ownership: 'COMPANY_OWNED',
        policyName: token.policyName,
        enrollmentTokenData: token.additionalData,
        enrollmentTime: now,
        lastStatusReportTime: now,
        apiLevel: 34,
        hardwareInfo: { brand: 'samsung', manufacturer: 'Samsung', model: 'SM-X200', serialNumber: serial },
        softwareInfo: { androidVersion: '14', securityPatchLevel: '2026-10-01', androidDevicePolicyVersionName: '2.500' },
        memoryInfo: { totalRam: '3000000000', totalInternalStorage: '32000000000' },
        memoryEvents: [{ eventType: 'INTERNAL_STORAGE_MEASURED', byteCount: '12000000000', createTime: now }],
        powerManagementEvents: [{ eventType: 'BATTERY_LEVEL_COLLECTED', batteryLevel: 81, createTime: now }],
        applicationReports: [{ packageName: 'com.android.chrome', displayName: 'Chrome', versionName: '130', versionCode: 130, applicationSource: 'SYSTEM_APP_UPDATED_VERSION', state: 'INSTALLED' }],
        ...extra,
      };
      devices.set(name, device);
      publish('ENROLLMENT', device);
      return name;
    },
    /** The tablet synced its policy and reports (STATUS_REPORT), compliant unless told otherwise. */
    report(name: string, changes: Json = {}, options: { publish?: boolean } = {}): Json {
      const device = devices.get(name)!;
      const policy = policies.get(String(device.policyName));
      Object.assign(device, { appliedPolicyName: device.policyName, appliedPolicyVersion: String(policy?.version ?? 0), policyCompliant: true, lastStatusReportTime: new Date(Date.now() + seq).toISOString() }, changes);
      return options.publish === false ? device : publish('STATUS_REPORT', device);
    },
    /** Every pending operation is done (the tablets ran their commands); Google publishes COMMAND. */
    finishOperations(error?: Json) {
      for (const operation of operations.values()) {
        if (operation.done) continue;
        Object.assign(operation, { done: true }, error ? { error } : {});
        publish('COMMAND', operation);
      }
    },
    /** Google forgets finished operations. */
    forgetOperations() {
      operations.clear();
    },
    /** An auth client with a fixed token: the real token URL is Google's and never called. */
    authClient(): OAuth2Client {
      const client = new OAuth2Client();
      client.setCredentials({ access_token: 'fake-access-token', expiry_date: Date.now() + 3_600_000 });
      return client;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const hold of holds) hold.answer?.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return fake;
}
export type FakeAmapi = Awaited<ReturnType<typeof startFakeAmapi>>;
