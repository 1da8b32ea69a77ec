import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { AgentPackage } from '../../modules/enrollment/enrollment.schemas';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderError, renderPage, setNotice, tFor } from '../page';

const AgentPackageForm = FormBody(AgentPackage.properties);

/** Organisation settings: where Android tablets fetch the agent when they are provisioned. */
export const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { enrollment } = app.services;
  // Organisation-wide settings: a grant limited to some schools cannot change them.
  const manage = { access: { permission: 'organisation.manage' as const } };

  async function page(request: FastifyRequest, reply: FastifyReply, form?: FormState) {
    if (!request.scope.all) return renderError(request, reply, 403, 'missing_permission');
    const current = await enrollment.agentPackage(request.scope.organisationId);
    return renderPage(request, reply, 'settings', { title: tFor(request)('settings.title'), form }, { current: current ?? null });
  }

  app.get('/settings', { config: manage }, async (request, reply) => page(request, reply));

  app.post('/settings/agent-package', { config: manage, attachValidation: true, schema: { body: AgentPackageForm } }, async (request, reply) =>
    !request.scope.all ? renderError(request, reply, 403, 'missing_permission') : handleForm(request, reply, tFor(request), {
      labels: { componentName: 'settings.componentName', downloadUrl: 'settings.downloadUrl', signatureChecksum: 'settings.signatureChecksum' },
      render: (form) => page(request, reply, form),
      async submit() {
        const { _csrf: _token, ...agentPackage } = request.body;
        await enrollment.setAgentPackage(request.scope.organisationId, actorOf(request), agentPackage);
        setNotice(reply, 'settingsSaved');
        return '/console/settings';
      },
    }),
  );
};
