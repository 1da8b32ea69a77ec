import { and, eq, inArray, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { schoolsOf, type Scope } from './principal';

/** Matches the given ids; an empty list matches nothing (never "no filter"). */
function within(column: AnyPgColumn | SQLWrapper, ids: readonly string[]): SQL {
  return ids.length > 0 ? inArray(column, [...ids]) : sql`false`;
}

/**
 * A school column within a list of schools as `schoolsOf` gives it (or as a stored batch keeps
 * it): null is every school, an empty list none.
 */
export function withinSchools(schoolColumn: AnyPgColumn | SQLWrapper, schools: readonly string[] | null): SQL {
  return schools === null ? sql`true` : within(schoolColumn, schools);
}

/**
 * The one scope filter every repository applies: rows of the caller's organisation and, unless
 * the grant is organisation-wide, of the caller's schools. Out of scope reads as absent.
 */
export function inSchoolScope(scope: Scope, organisationColumn: AnyPgColumn, schoolColumn: AnyPgColumn): SQL {
  return and(eq(organisationColumn, scope.organisationId), withinSchools(schoolColumn, schoolsOf(scope)))!;
}

/** The same for communes: a grant reaches a commune only when given on the commune itself. */
export function inCommuneScope(scope: Scope, organisationColumn: AnyPgColumn, communeColumn: AnyPgColumn): SQL {
  const organisation = eq(organisationColumn, scope.organisationId);
  return scope.all ? organisation : and(organisation, within(communeColumn, scope.communeIds))!;
}
