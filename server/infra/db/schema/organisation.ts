import { boolean, index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, updatedAt } from './columns';

export const SCHOOL_KINDS = ['maternelle', 'elementaire', 'primaire'] as const;

/** Settings an organisation edits: how Android tablets fetch and verify the agent at provisioning. */
export interface OrganisationSettings {
  agentPackage?: { componentName: string; downloadUrl: string; signatureChecksum: string };
  /** Retention periods in days, per data type; a type left out keeps its default (docs/privacy.md). */
  retention?: Partial<Record<string, number>>;
  /** Location (docs/privacy.md): whether school directors may read positions, and who is mailed geofence alerts. */
  location?: { directorsReadPositions?: boolean; alertEmails?: string[] };
}

export const organisations = pgTable('organisations', {
  id: id(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  settings: jsonb('settings').$type<OrganisationSettings>().notNull().default({}),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const communes = pgTable(
  'communes',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    /** INSEE code of the commune. */
    code: text('code').notNull(),
    name: text('name').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('communes_org_code_uq').on(t.organisationId, t.code)],
);

export const schools = pgTable(
  'schools',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    communeId: uuid('commune_id').notNull().references(() => communes.id),
    /** UAI, the national school identifier (e.g. 0691234A). */
    code: text('code').notNull(),
    name: text('name').notNull(),
    kind: text('kind', { enum: SCHOOL_KINDS }).notNull().default('primaire'),
    pilot: boolean('pilot').notNull().default(false),
    timezone: text('timezone').notNull().default('Europe/Paris'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('schools_org_code_uq').on(t.organisationId, t.code), index('schools_commune_idx').on(t.communeId), oneOf('schools_kind_ck', t.kind, SCHOOL_KINDS)],
);

/** A set of devices inside a school, such as a tablet cart (classe mobile). */
export const groups = pgTable(
  'groups',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    schoolId: uuid('school_id').notNull().references(() => schools.id),
    name: text('name').notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('groups_school_name_uq').on(t.schoolId, t.name), index('groups_organisation_idx').on(t.organisationId)],
);
