import { ConflictError, InvalidInputError, UnavailableError } from '../../domain/errors';
import type { Db } from '../../infra/db/client';
import type { SecretBox } from '../../infra/secrets';
import type { Caller } from '../commands/command-intent';
import { recordAudit } from '../audit/audit.service';
import { AmapiCallError, type AmapiGoogle, type AmapiGoogleFactory, type PubsubMessage, type ServiceAccountKey } from './amapi.port';
import { enterpriseOf, resourceOf } from './amapi-messages';
import * as repo from './amapi.repository';
import type { BindingView, NotificationsBody, StartBindingBody } from './amapi.schemas';

/** Google's default quota; a project Google has validated for more says so at binding. */
export const DEFAULT_DEVICE_CAP = 500;
/** Warn when this share of the cap is used: asking Google for more takes weeks. */
export const CAP_WARNING_RATIO = 0.9;

const NOTIFICATION_TYPES = ['ENROLLMENT', 'STATUS_REPORT', 'COMMAND', 'USAGE_LOGS'];

export interface AmapiBindingDeps {
  db: Db;
  secrets: SecretBox;
  google: AmapiGoogleFactory;
  /** Cartable's public address: Google sends the DSI back to a callback under it. */
  publicUrl: string;
}

function parseKey(text: string): ServiceAccountKey {
  let key: Partial<ServiceAccountKey> & { type?: string };
  try {
    key = JSON.parse(text) as typeof key;
  } catch {
    throw new InvalidInputError('The service account key is not JSON: give the key file Google Cloud downloaded', 'amapi_key_invalid');
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string' || !key.private_key.includes('PRIVATE KEY')) {
    throw new InvalidInputError('The service account key lacks client_email or private_key', 'amapi_key_invalid');
  }
  return { client_email: key.client_email, private_key: key.private_key, ...(typeof key.project_id === 'string' ? { project_id: key.project_id } : {}) };
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 1000);

/**
 * An organisation's binding to an Android Management enterprise: Google's signup page, the
 * callback with the enterprise token, the enterprise's creation, its notifications, its end.
 * Every step is audited; a failing step leaves its error on the binding for the DSI to read.
 */
export function createAmapiBindingService(deps: AmapiBindingDeps) {
  const { db } = deps;

  function connect(binding: repo.BindingRow): AmapiGoogle {
    return deps.google(JSON.parse(deps.secrets.open(binding.credentialsSealed)) as ServiceAccountKey);
  }

  async function view(organisationId: string): Promise<BindingView> {
    const binding = await repo.findBinding(db, organisationId);
    const deviceCount = await repo.countAmapiDevices(db, organisationId);
    if (!binding) return { state: 'none', deviceCount, deviceCap: DEFAULT_DEVICE_CAP, capWarning: null } as BindingView;
    return {
      state: binding.state,
      projectId: binding.projectId,
      serviceAccountEmail: binding.serviceAccountEmail,
      enterpriseName: binding.enterpriseName,
      enterpriseDisplayName: binding.enterpriseDisplayName,
      notificationMode: binding.notificationMode,
      pubsubTopic: binding.pubsubTopic,
      pubsubSubscription: binding.pubsubSubscription,
      pushAudience: binding.pushAudience,
      deviceCount,
      deviceCap: binding.deviceCap,
      capWarning: capWarning(deviceCount, binding.deviceCap),
      lastError: binding.lastError,
      lastErrorAt: binding.lastErrorAt?.toISOString() ?? null,
      boundAt: binding.boundAt?.toISOString() ?? null,
      unboundAt: binding.unboundAt?.toISOString() ?? null,
    };
  }

  async function fail(caller: Caller | null, organisationId: string, action: string, error: unknown): Promise<never> {
    await db.transaction(async (tx) => {
      await repo.updateBinding(tx, organisationId, { state: 'error', lastError: messageOf(error), lastErrorAt: new Date() });
      if (caller) await recordAudit(tx, { organisationId, actor: caller.actor, action, target: { type: 'amapi_enterprise', id: organisationId }, outcome: 'failure', details: { error: messageOf(error) } });
    });
    if (error instanceof AmapiCallError) throw new UnavailableError(`Google refused: ${error.message}`, 'amapi_google_error');
    throw error;
  }

  return {
    view: (caller: Caller) => view(caller.scope.organisationId),

    /**
     * Step 1: the key is sealed at once, and Google's signup page is where the DSI goes next;
     * Google sends the browser back to `callbackPath` (the API's or the console's).
     */
    async start(caller: Caller, body: StartBindingBody, callbackPath: string): Promise<{ signupUrl: string }> {
      const organisationId = caller.scope.organisationId;
      const existing = await repo.findBinding(db, organisationId);
      if (existing?.state === 'bound') throw new ConflictError('An enterprise is bound already: unbind it first', 'amapi_already_bound');
      const key = parseKey(body.serviceAccountKey);
      const projectId = body.projectId ?? key.project_id;
      if (!projectId) throw new InvalidInputError('projectId is missing and the key does not name its project', 'amapi_project_missing');
      await db.transaction(async (tx) => {
        await repo.saveBinding(tx, {
          organisationId,
          projectId,
          serviceAccountEmail: key.client_email,
          credentialsSealed: deps.secrets.seal(JSON.stringify(key)),
          state: 'signup_pending',
          deviceCap: body.deviceCap ?? DEFAULT_DEVICE_CAP,
          signupUrlName: null,
          enterpriseName: null,
          lastError: null,
          lastErrorAt: null,
          unboundAt: null,
        });
        await recordAudit(tx, { organisationId, actor: caller.actor, action: 'amapi.binding.start', target: { type: 'amapi_enterprise', id: organisationId }, outcome: 'success', details: { projectId, serviceAccountEmail: key.client_email } });
      });
      try {
        const signup = await deps.google(key).createSignupUrl(projectId, `${deps.publicUrl.replace(/\/$/, '')}${callbackPath}`, body.adminEmail);
        await repo.updateBinding(db, organisationId, { signupUrlName: signup.name });
        return { signupUrl: signup.url };
      } catch (error) {
        return fail(caller, organisationId, 'amapi.binding.signup', error);
      }
    },

    /** Step 2: Google sent the DSI back with the enterprise token; the enterprise is created once, never retried blindly. */
    async complete(caller: Caller, enterpriseToken: string): Promise<BindingView> {
      const organisationId = caller.scope.organisationId;
      const binding = await repo.findBinding(db, organisationId);
      if (!binding?.signupUrlName || binding.state !== 'signup_pending') throw new ConflictError('No signup is in progress: start the binding again', 'amapi_no_signup');
      try {
        const body = binding.pubsubTopic ? { pubsubTopic: binding.pubsubTopic, enabledNotificationTypes: NOTIFICATION_TYPES } : {};
        const enterprise = await connect(binding).createEnterprise(binding.projectId, binding.signupUrlName, enterpriseToken, body);
        await db.transaction(async (tx) => {
          await repo.updateBinding(tx, organisationId, {
            state: 'bound',
            enterpriseName: enterprise.name,
            enterpriseDisplayName: typeof enterprise.enterpriseDisplayName === 'string' ? enterprise.enterpriseDisplayName : null,
            signupUrlName: null,
            boundAt: new Date(),
            lastError: null,
            lastErrorAt: null,
          });
          await recordAudit(tx, { organisationId, actor: caller.actor, action: 'amapi.binding.complete', target: { type: 'amapi_enterprise', id: organisationId }, outcome: 'success', details: { enterpriseName: enterprise.name } });
        });
      } catch (error) {
        return fail(caller, organisationId, 'amapi.binding.complete', error);
      }
      return view(organisationId);
    },

    /** Pull (the server is not reachable from Google) or push (an HTTPS endpoint Google reaches); the topic is set on the enterprise. */
    async configureNotifications(caller: Caller, body: NotificationsBody): Promise<BindingView> {
      const organisationId = caller.scope.organisationId;
      const binding = await repo.findBinding(db, organisationId);
      if (!binding || binding.state !== 'bound') throw new ConflictError('No enterprise is bound', 'amapi_not_bound');
      if (body.mode === 'pull' && !body.subscription) throw new InvalidInputError('Pull needs the subscription name', 'amapi_subscription_missing');
      if (body.mode === 'push' && (!body.pushAudience || !body.pushServiceAccount)) throw new InvalidInputError('Push needs the audience and the service account of the push subscription', 'amapi_push_incomplete');
      try {
        if (body.topic) await connect(binding).patchEnterprise(binding.enterpriseName!, { pubsubTopic: body.topic, enabledNotificationTypes: NOTIFICATION_TYPES }, 'pubsubTopic,enabledNotificationTypes');
      } catch (error) {
        return fail(caller, organisationId, 'amapi.notifications.configure', error);
      }
      await db.transaction(async (tx) => {
        await repo.updateBinding(tx, organisationId, {
          notificationMode: body.mode,
          pubsubTopic: body.topic ?? binding.pubsubTopic,
          pubsubSubscription: body.subscription ?? null,
          pushAudience: body.pushAudience ?? null,
          pushServiceAccount: body.pushServiceAccount ?? null,
        });
        await recordAudit(tx, { organisationId, actor: caller.actor, action: 'amapi.notifications.configure', target: { type: 'amapi_enterprise', id: organisationId }, outcome: 'success', details: { mode: body.mode, topic: body.topic ?? null } });
      });
      return view(organisationId);
    },

    /**
     * Cartable stops calling Google for this organisation. Google keeps the enterprise (a
     * customer-managed one is deleted from Google's own console) and its tablets, which stay in
     * the inventory, unmanaged, until wiped or retired.
     */
    async unbind(caller: Caller, confirm: string): Promise<BindingView> {
      const organisationId = caller.scope.organisationId;
      const binding = await repo.findBinding(db, organisationId);
      if (!binding || binding.state === 'unbound') throw new ConflictError('No enterprise is bound', 'amapi_not_bound');
      const expected = binding.enterpriseName ?? binding.projectId;
      if (confirm !== expected) throw new InvalidInputError(`Type the enterprise name (${expected}) to confirm`, 'confirmation_mismatch');
      await db.transaction(async (tx) => {
        await repo.updateBinding(tx, organisationId, { state: 'unbound', unboundAt: new Date(), notificationMode: 'none' });
        await recordAudit(tx, { organisationId, actor: caller.actor, action: 'amapi.binding.unbind', target: { type: 'amapi_enterprise', id: organisationId }, outcome: 'success', details: { enterpriseName: binding.enterpriseName } });
      });
      return view(organisationId);
    },

    /** The bound enterprise and a client for it; the AMAPI channel is unavailable otherwise. */
    async bound(organisationId: string): Promise<{ binding: repo.BindingRow & { enterpriseName: string }; google: AmapiGoogle }> {
      const binding = await repo.findBinding(db, organisationId);
      if (!binding || binding.state !== 'bound' || !binding.enterpriseName) throw new ConflictError('No Android Management enterprise is bound to this organisation', 'amapi_not_bound');
      return { binding: binding as repo.BindingRow & { enterpriseName: string }, google: connect(binding) };
    },

    /** Who must have signed a push of this message: the push subscription of the enterprise it is about; null when none is bound for push. */
    async pushExpectation(message: PubsubMessage): Promise<{ audience: string; serviceAccount: string } | null> {
      const enterprise = enterpriseOf(resourceOf(message)?.name);
      const binding = enterprise ? await repo.findBindingByEnterprise(db, enterprise) : undefined;
      if (!binding || binding.notificationMode !== 'push' || !binding.pushAudience || !binding.pushServiceAccount) return null;
      return { audience: binding.pushAudience, serviceAccount: binding.pushServiceAccount };
    },

    async boundOrganisations(): Promise<string[]> {
      return (await repo.boundBindings(db)).map((b) => b.organisationId);
    },

    /** Google's device quota: refused at the cap, never silently exceeded. */
    async checkCapacity(organisationId: string, adding = 1): Promise<void> {
      const binding = await repo.findBinding(db, organisationId);
      const count = await repo.countAmapiDevices(db, organisationId);
      const cap = binding?.deviceCap ?? DEFAULT_DEVICE_CAP;
      if (count + adding > cap) {
        throw new ConflictError(`The Google project's device quota is reached (${count} of ${cap}): ask Google to validate more devices, then raise the cap`, 'amapi_device_cap_reached', { deviceCount: count, deviceCap: cap });
      }
    },
  };
}
export type AmapiBindingService = ReturnType<typeof createAmapiBindingService>;

/** Where the device count stands against the cap: `near` from 90 %, when asking Google for more is due. */
export function capLevel(count: number, cap: number): 'reached' | 'near' | null {
  if (count >= cap) return 'reached';
  if (count >= Math.floor(cap * CAP_WARNING_RATIO)) return 'near';
  return null;
}

export function capWarning(count: number, cap: number): string | null {
  switch (capLevel(count, cap)) {
    case 'reached':
      return `The Google project's quota is reached (${count} of ${cap} tablets): no more enrollment until Google validates more`;
    case 'near':
      return `${count} of ${cap} tablets: the Google project nears its quota; ask Google to validate more now`;
    default:
      return null;
  }
}
