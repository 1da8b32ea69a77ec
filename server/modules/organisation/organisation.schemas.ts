import { Type } from '@sinclair/typebox';

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Name = Type.String({ minLength: 1, maxLength: 200 });
export const SchoolKind = Type.Union([Type.Literal('maternelle'), Type.Literal('elementaire'), Type.Literal('primaire')]);
/** UAI: seven digits and a check letter. */
export const Uai = Type.String({ pattern: '^[0-9]{7}[A-Za-z]$' });
/** INSEE commune code (Corsica uses 2A/2B). */
export const InseeCode = Type.String({ pattern: '^[0-9][0-9AB][0-9]{3}$' });

export const IdParams = Type.Object({ id: Uuid });

export const Commune = Type.Object({ id: Uuid, code: Type.String(), name: Type.String(), createdAt: Timestamp, updatedAt: Timestamp });
export const NewCommune = Type.Object({ code: InseeCode, name: Name }, { additionalProperties: false });
export const CommunePatch = Type.Object({ name: Name }, { additionalProperties: false });

export const School = Type.Object({
  id: Uuid,
  communeId: Uuid,
  code: Type.String(),
  name: Type.String(),
  kind: SchoolKind,
  pilot: Type.Boolean(),
  timezone: Type.String(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const NewSchool = Type.Object(
  { communeId: Uuid, code: Uai, name: Name, kind: Type.Optional(SchoolKind), pilot: Type.Optional(Type.Boolean()), timezone: Type.Optional(Type.String({ minLength: 3, maxLength: 64 })) },
  { additionalProperties: false },
);
export const SchoolPatch = Type.Object(
  { communeId: Type.Optional(Uuid), name: Type.Optional(Name), kind: Type.Optional(SchoolKind), pilot: Type.Optional(Type.Boolean()), timezone: Type.Optional(Type.String({ minLength: 3, maxLength: 64 })) },
  { additionalProperties: false, minProperties: 1 },
);
export const SchoolQuery = Type.Object({ communeId: Type.Optional(Uuid) }, { additionalProperties: false });

export const Group = Type.Object({ id: Uuid, schoolId: Uuid, name: Type.String(), createdAt: Timestamp, updatedAt: Timestamp });
export const NewGroup = Type.Object({ schoolId: Uuid, name: Name }, { additionalProperties: false });
export const GroupPatch = Type.Object({ name: Name }, { additionalProperties: false });
export const GroupQuery = Type.Object({ schoolId: Type.Optional(Uuid) }, { additionalProperties: false });

export const ImportQuery = Type.Object({ dryRun: Type.Boolean({ default: false }) }, { additionalProperties: false });
export const ImportReport = Type.Object({
  dryRun: Type.Boolean(),
  applied: Type.Boolean({ description: 'False when any line was rejected: then nothing was written' }),
  summary: Type.Object({ created: Type.Integer(), updated: Type.Integer(), unchanged: Type.Integer(), rejected: Type.Integer() }),
  lines: Type.Array(
    Type.Object({
      line: Type.Integer({ description: 'Line number in the file, the header being line 1' }),
      code: Type.Union([Type.String(), Type.Null()]),
      outcome: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('unchanged'), Type.Literal('rejected')]),
      reason: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});
