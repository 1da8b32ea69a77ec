import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Scope } from './principal';

/** Matches the given ids; an empty list matches nothing (never "no filter"). */
function within(column: AnyPgColumn, ids: readonly string[]): SQL {
  return ids.length > 0 ? inArray(column, [...ids]) : sql`false`;
}

/**
 * The one scope filter every repository applies: rows of the caller's organisation and, unless
 * the grant is organisation-wide, of the caller's schools. Out of scope reads as absent.
 */
export function inSchoolScope(scope: Scope, organisationColumn: AnyPgColumn, schoolColumn: AnyPgColumn): SQL {
  const organisation = eq(organisationColumn, scope.organisationId);
  return scope.all ? organisation : and(organisation, within(schoolColumn, scope.schoolIds))!;
}

/** The same for communes: a grant reaches a commune only when given on the commune itself. */
export function inCommuneScope(scope: Scope, organisationColumn: AnyPgColumn, communeColumn: AnyPgColumn): SQL {
  const organisation = eq(organisationColumn, scope.organisationId);
  return scope.all ? organisation : and(organisation, within(communeColumn, scope.communeIds))!;
}
