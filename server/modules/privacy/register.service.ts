import type { Db } from '../../infra/db/client';
import { registerHtml, registerMarkdown, type RegisterInput } from './processing-register';
import { locationFacts, organisationsFor, usesApns } from './register.repository';
import { effectiveRetention } from './retention.policy';

/** The processing-register entry of one organisation, from its live configuration (the console's copy of `cartable privacy register`). */
export function createRegisterService(deps: { db: Db; fcm: boolean; oidc: boolean }) {
  const { db } = deps;

  async function input(organisationId: string): Promise<RegisterInput | null> {
    const org = (await organisationsFor(db)).find((o) => o.id === organisationId);
    if (!org) return null;
    return { organisationName: org.name, retention: effectiveRetention(org.settings.retention), push: { apns: await usesApns(db, org.id), fcm: deps.fcm }, oidc: deps.oidc, location: await locationFacts(db, org.id), generatedAt: new Date() };
  }

  return {
    async html(organisationId: string): Promise<string | null> {
      const i = await input(organisationId);
      return i ? registerHtml(i) : null;
    },
    async markdown(organisationId: string): Promise<string | null> {
      const i = await input(organisationId);
      return i ? registerMarkdown(i) : null;
    },
  };
}
