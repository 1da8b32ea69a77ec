import type { Db } from '../../infra/db/client';
import { InvalidInputError, NotFoundError } from '../../domain/errors';
import { ensureOrganisation } from '../bootstrap/bootstrap.service';
import { findUserByEmail } from './access.repository';
import { MIN_PASSWORD_LENGTH } from './auth.service';
import { randomPassword } from './credentials';
import { SYSTEM_ACTOR } from './principal';
import { createUsersService, normaliseEmail } from './users.service';

function choosePassword(given: string | undefined): { password: string; generated: boolean } {
  if (given === undefined) return { password: randomPassword(), generated: true };
  if (given.length < MIN_PASSWORD_LENGTH) throw new InvalidInputError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`, 'weak_password');
  return { password: given, generated: false };
}

/** Account operations of the `cartable` command-line tool, run by whoever operates the server. */
export function createAccountsCliService(deps: { db: Db }) {
  const users = createUsersService(deps);
  const actor = { ...SYSTEM_ACTOR, label: 'cartable command line' };

  return {
    async createAdmin(input: { email: string; name?: string; password?: string }) {
      const { password, generated } = choosePassword(input.password);
      const organisation = await ensureOrganisation(deps.db);
      // A generated password is printed on a terminal: its owner replaces it at the first sign-in.
      const user = await users.createAdministrator({ organisationId: organisation.id, email: input.email, displayName: input.name ?? input.email, password, mustChangePassword: generated }, actor);
      return { email: user.email, password: generated ? password : null };
    },

    async resetPassword(input: { email: string; password?: string }) {
      const { password, generated } = choosePassword(input.password);
      const user = await findUserByEmail(deps.db, normaliseEmail(input.email));
      if (!user) throw new NotFoundError(`Account ${input.email}`);
      await users.updateUser(user.organisationId, user.id, { password, mustChangePassword: generated }, actor);
      return { email: user.email, password: generated ? password : null };
    },
  };
}
