import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { inScope, type Permission } from '../../modules/access/principal';
import { WIPE } from '../../modules/access/route-access';
import type { Caller } from '../../modules/commands/commands.service';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import type { MessageKey } from '../i18n';
import { renderFragment, renderPage, schoolsScope, setNotice, tFor } from '../page';

const Uuid = Type.String({ format: 'uuid' });
const DeviceParams = Type.Object({ id: Uuid });

/** The actions a technician can take from a device page, each behind its own confirmation page. */
export const ACTIONS = ['lock', 'reboot', 'locate', 'lost_mode_on', 'lost_mode_off', 'wipe'] as const;
type Action = (typeof ACTIONS)[number];
const ActionParams = Type.Object({ id: Uuid, kind: Type.Union(ACTIONS.map((k) => Type.Literal(k))) });

const ActionForm = FormBody({
  message: Type.Optional(Type.String({ maxLength: 500 })),
  phone: Type.Optional(Type.String({ maxLength: 64 })),
  reason: Type.Optional(Type.String({ maxLength: 200 })),
  confirmName: Type.Optional(Type.String({ maxLength: 300 })),
});
type ActionForm = Static<typeof ActionForm>;

const InstallForm = FormBody({ appVersionId: Uuid });

const LABELS: Record<string, MessageKey> = { message: 'action.message', phone: 'action.phone', reason: 'action.reason', confirmName: 'action.confirmName' };

/** The neutral parameters of each action, from its confirmation form. */
function paramsOf(kind: Action, form: ActionForm): Record<string, unknown> {
  if (kind === 'lock') return { ...(form.message ? { message: form.message } : {}), ...(form.phone ? { phone: form.phone } : {}) };
  if (kind === 'lost_mode_on') return { message: form.message ?? '', ...(form.phone ? { phone: form.phone } : {}) };
  if (kind === 'wipe') return form.reason ? { reason: form.reason } : {};
  return {};
}

/** A device's facts, apps, presence, command history and actions. */
export const deviceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, commands, organisation, auth, desiredState, apps: catalog } = app.services;
  const read = { access: { permission: 'devices.read' as const } };

  const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });

  /** Whether the caller holds `permission` over the school of the device (a director holds none of these). */
  async function may(request: FastifyRequest, permission: Permission, schoolId: string): Promise<boolean> {
    const scope = await auth.scopeFor(request.principal, permission);
    return scope !== null && inScope(scope, schoolId);
  }

  /** Everything the live part of the page shows: presence, battery, storage and the latest commands. */
  async function liveState(request: FastifyRequest, id: string) {
    const [device, history] = await Promise.all([devices.get(request.scope, id), commands.history(callerOf(request), id, 20)]);
    return { device, history: history.items };
  }

  /** The Android versions of the catalog a technician may install (the agent installs APKs only). */
  async function installableVersions(request: FastifyRequest) {
    if ((await auth.scopeFor(request.principal, 'apps.read')) === null) return [];
    const caller = callerOf(request);
    const android = (await catalog.list(caller)).filter((a) => a.platform === 'android' && a.kind === 'apk');
    const details = await Promise.all(android.map((a) => catalog.get(caller, a.id)));
    return details.flatMap((a) => a.versions.map((v) => ({ id: v.id, name: a.name, identifier: a.identifier, version: String(v.metadata.versionName ?? v.version) })));
  }

  async function devicePage(request: FastifyRequest, reply: FastifyReply, id: string, extra: { location?: unknown; locationMissing?: boolean; form?: FormState } = {}) {
    const t = tFor(request);
    const { device, history } = await liveState(request, id);
    const [school, apps, canCommand, canWipe, canLocate, desired, refusals] = await Promise.all([
      organisation.getSchool(await schoolsScope(request), device.schoolId),
      devices.apps(request.scope, id),
      may(request, 'devices.command', device.schoolId),
      may(request, 'devices.wipe', device.schoolId),
      may(request, 'devices.location.read', device.schoolId),
      desiredState.view(callerOf(request), id),
      commands.refusals(callerOf(request), id, ACTIONS),
    ]);
    // An outdated agent is refused every command (agent protocol §24.1): the page says so instead of offering them.
    const offered = device.status !== 'active' || !canCommand || device.agentOutdated ? [] : ACTIONS.filter((k) => (k === 'wipe' ? canWipe : k === 'lost_mode_on' ? !device.lostMode : k === 'lost_mode_off' ? device.lostMode : true));
    // A kind the platform has no command for is not offered; one the device cannot take as it is
    // (an unsupervised iPad) is shown disabled, with the reason.
    const actions = offered.filter((k) => refusals[k]?.code !== 'kind_not_supported_on_platform' && refusals[k]?.code !== 'platform_not_managed');
    const disabled = Object.fromEntries(actions.flatMap((k) => (refusals[k] ? [[k, refusals[k].code === 'capability_not_announced' && device.platform === 'ios' ? 'device.needsSupervision' : 'device.actionUnavailable']] : [])));
    const installable = actions.length && device.platform === 'android' ? await installableVersions(request) : [];
    return renderPage(request, reply, 'device', { title: t('device.title', { name: device.name }), form: extra.form }, { device, history, school, apps: apps.items, actions, disabled, canCommand, canLocate, desired, installable, timeZone: school.timezone, ...extra });
  }

  app.get('/devices/:id', { config: read, schema: { params: DeviceParams } }, async (request, reply) => devicePage(request, reply, request.params.id));

  app.get('/devices/:id/live', { config: read, schema: { params: DeviceParams } }, async (request, reply) => {
    const state = await liveState(request, request.params.id);
    const school = await organisation.getSchool(await schoolsScope(request), state.device.schoolId);
    return renderFragment(request, reply, 'device-live', { ...state, timeZone: school.timezone });
  });

  /** The latest position: shown only on this deliberate request, which the audit trail records. */
  app.post('/devices/:id/location', { config: { access: { permission: 'devices.location.read' } }, schema: { params: DeviceParams, body: FormBody({}) } }, async (request, reply) => {
    await devices.get(request.scope, request.params.id);
    try {
      const location = await commands.readLocation(callerOf(request), request.params.id);
      return devicePage(request, reply, request.params.id, { location });
    } catch (error) {
      if ((error as { code?: string }).code !== 'not_found') throw error;
      return devicePage(request, reply, request.params.id, { locationMissing: true });
    }
  });

  async function actionPage(request: FastifyRequest, reply: FastifyReply, id: string, kind: Action, form?: FormState) {
    const t = tFor(request);
    const device = await devices.get(request.scope, id);
    return renderPage(request, reply, 'device-action', { title: t(`action.${kind}.title` as MessageKey, { name: device.name }), form }, { device, kind });
  }

  // A wipe is reached through the devices.wipe grants, whose scope then applies: a wipe can never
  // land on a device the caller may command but not wipe.
  const act = { access: { permission: 'devices.command' as const, byKind: WIPE } };

  app.get('/devices/:id/actions/:kind', { config: act, schema: { params: ActionParams } }, async (request, reply) => actionPage(request, reply, request.params.id, request.params.kind));

  app.post('/devices/:id/actions/:kind', { config: { access: { ...act.access, audit: { action: 'command.create', target: 'device' } } }, attachValidation: true, schema: { params: ActionParams, body: ActionForm } }, async (request, reply) => {
    const { id, kind } = request.params;
    return handleForm(request, reply, tFor(request), {
      labels: LABELS,
      fieldOfCode: { confirmation_required: 'confirmName', confirmation_mismatch: 'confirmName', invalid_params: 'message' },
      render: (form) => actionPage(request, reply, id, kind, form),
      async submit() {
        const body = request.body ?? {};
        await commands.issue(callerOf(request), id, { kind, params: paramsOf(kind, body), ...(kind === 'wipe' ? { confirm: body.confirmName } : {}) });
        setNotice(reply, 'commandSent');
        return `/console/devices/${id}`;
      },
    });
  });

  app.post(
    '/devices/:id/install',
    { config: { access: { permission: 'devices.command', audit: { action: 'command.create', target: 'device' } } }, attachValidation: true, schema: { params: DeviceParams, body: InstallForm } },
    async (request, reply) => {
      const { id } = request.params;
      return handleForm(request, reply, tFor(request), {
        labels: { appVersionId: 'device.installVersion' },
        fieldOfCode: { not_found: 'appVersionId', app_not_installable: 'appVersionId', invalid_params: 'appVersionId' },
        render: (form) => devicePage(request, reply, id, { form }),
        async submit() {
          await commands.issue(callerOf(request), id, { kind: 'install_app', params: { appVersionId: request.body.appVersionId } });
          setNotice(reply, 'commandSent');
          return `/console/devices/${id}`;
        },
      });
    },
  );
};
