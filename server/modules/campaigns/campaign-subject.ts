import type { CampaignAction } from '../../domain/campaigns';
import type { Platform } from '../../domain/devices';
import type { DbOrTx } from '../../infra/db/client';
import { findApp, findVersion } from '../apps/apps.repository';
import { findProfile } from '../profiles/profiles.repository';
import type { Problems } from './campaign-plan';

/** What a campaign deploys, resolved from the catalog. */
export interface Subject {
  /** The ids as given, stored with the campaign. */
  ids: Record<string, string>;
  appId: string | null;
  /** The one platform an app exists for; null for a profile, which each platform renders. */
  appPlatform: Platform | null;
  label: string;
}

const FIELD: Record<CampaignAction, 'appVersionId' | 'appId' | 'profileId'> = {
  install_app: 'appVersionId',
  remove_app: 'appId',
  install_profile: 'profileId',
  remove_profile: 'profileId',
};

/** Finds the app version, app or profile the action names; a problem with its path when it is not in the catalog. */
export async function resolveSubject(db: DbOrTx, organisationId: string, action: CampaignAction, given: Partial<Record<'appVersionId' | 'appId' | 'profileId', string>>, problems: Problems): Promise<Subject | null> {
  const field = FIELD[action];
  for (const other of ['appVersionId', 'appId', 'profileId'] as const) if (other !== field && given[other] !== undefined) problems.add(`/${other}`, `not used by ${action}`);
  const id = given[field];
  if (!id) {
    problems.add(`/${field}`, `required by ${action}`);
    return null;
  }
  if (action === 'install_app') {
    const found = await findVersion(db, organisationId, id);
    if (!found) return (problems.add('/appVersionId', 'not in the app catalog'), null);
    if (found.app.kind !== 'apk') return (problems.add('/appVersionId', `${found.app.kind} apps are not installed by command`), null);
    return { ids: { appVersionId: id }, appId: found.app.id, appPlatform: found.app.platform, label: `${found.app.name} ${found.version.version}` };
  }
  if (action === 'remove_app') {
    const app = await findApp(db, organisationId, id);
    if (!app) return (problems.add('/appId', 'not in the app catalog'), null);
    return { ids: { appId: id }, appId: app.id, appPlatform: app.platform, label: app.name };
  }
  const profile = await findProfile(db, organisationId, id);
  if (!profile) return (problems.add('/profileId', 'not in the profile catalog'), null);
  return { ids: { profileId: id }, appId: null, appPlatform: null, label: profile.name };
}

/**
 * The command's parameters at fan-out time, read from the catalog then (a profile edited since
 * creation goes out as it now is). install_app's download URL lasts until the command expires.
 */
export async function commandParams(
  db: DbOrTx,
  installParams: (organisationId: string, appVersionId: string, expiresAt: Date) => Promise<Record<string, unknown>>,
  campaign: { organisationId: string; action: CampaignAction; subject: Record<string, string> },
  expiresAt: Date,
): Promise<Record<string, unknown> | null> {
  const { organisationId, action, subject } = campaign;
  if (action === 'install_app') return installParams(organisationId, subject.appVersionId!, expiresAt);
  if (action === 'remove_app') {
    const app = await findApp(db, organisationId, subject.appId!);
    return app ? { packageName: app.identifier } : null;
  }
  const profile = await findProfile(db, organisationId, subject.profileId!);
  if (!profile) return null;
  return action === 'install_profile' ? { profile: profile.body } : { profileId: profile.slug };
}
