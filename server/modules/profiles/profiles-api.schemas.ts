import { Type, type Static } from '@sinclair/typebox';
import { PROFILE_SCOPE_TYPES } from '../../infra/db/schema';

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const IdParams = Type.Object({ id: Uuid });
export const AssignmentParams = Type.Object({ id: Uuid, assignmentId: Uuid });

/**
 * A neutral profile (docs/profiles.md). Checked by the profile validator rather than here, so
 * that every problem comes back at once, each with its JSON Pointer; `version` may be left out:
 * the server numbers versions.
 */
export const ProfileBody = Type.Object({}, { additionalProperties: true, description: 'A neutral profile (profile.schemas.ts); `version` is set by the server.' });

export const Problem = Type.Object({ path: Type.String({ description: 'JSON Pointer into the profile.' }), message: Type.String() });
export const Warning = Type.Object({ path: Type.String(), message: Type.String() });

export const ScopeType = Type.Union(PROFILE_SCOPE_TYPES.map((t) => Type.Literal(t)));

export const AssignmentBody = Type.Object(
  {
    scopeType: ScopeType,
    scopeId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Commune, school or group id; the platform (`android`, `ios`, `windows`); the tag. Absent for the organisation.' })),
  },
  { additionalProperties: false },
);
export type AssignmentBody = Static<typeof AssignmentBody>;

export const AssignmentView = Type.Object({
  id: Uuid,
  profileId: Uuid,
  scopeType: ScopeType,
  scopeId: Nullable(Type.String()),
  createdAt: Timestamp,
});

export const ProfileView = Type.Object({
  id: Uuid,
  slug: Type.String({ description: 'The neutral profile\u2019s `id`.' }),
  name: Type.String(),
  description: Nullable(Type.String()),
  version: Type.Integer({ minimum: 1 }),
  body: Type.Record(Type.String(), Type.Unknown()),
  assignments: Type.Array(AssignmentView),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const ProfileList = Type.Array(ProfileView);

export const RolloutView = Type.Object({
  id: Uuid,
  state: Type.Union([Type.Literal('pending'), Type.Literal('done')]),
  changed: Type.Integer({ description: 'Devices whose desired state changed so far.' }),
  commands: Type.Integer({ description: 'Commands stored so far (`apply_policy`, `install_profile`, `remove_profile`, `install_app`, `remove_app`; their batchId is the rollout id).' }),
});

export const ProfileChange = Type.Object({ profile: ProfileView, rollout: Nullable(RolloutView) });
export const AssignmentChange = Type.Object({ assignment: AssignmentView, created: Type.Boolean(), rollout: Nullable(RolloutView) });
export const DeletionResult = Type.Object({ rollout: RolloutView });

export const ValidationResult = Type.Object({ valid: Type.Boolean(), problems: Type.Array(Problem) });

export const PreviewQuery = Type.Object({ platform: Type.Union([Type.Literal('ios'), Type.Literal('android'), Type.Literal('windows')]) }, { additionalProperties: false });
export const PreviewView = Type.Object({
  profileId: Uuid,
  version: Type.Integer(),
  platform: Type.String(),
  output: Type.Record(Type.String(), Type.Unknown(), { description: 'The native form: `{format:"mobileconfig", xml}`, `{format:"agent_policy", policy}` or `{format:"syncml", syncBody, commands}`.' }),
  warnings: Type.Array(Warning),
});

export const ComplianceView = Type.Object({
  profileId: Uuid,
  version: Type.Integer(),
  devices: Type.Integer({ description: 'Devices within your reach whose effective set holds the profile.' }),
  compliant: Type.Integer(),
  pending: Type.Integer(),
  failed: Type.Integer(),
});

const Mismatch = Type.Object({
  reason: Type.Union([
    Type.Literal('not_applied'),
    Type.Literal('rejected'),
    Type.Literal('non_compliant'),
    Type.Literal('profile_changed'),
    Type.Literal('not_removed'),
    Type.Literal('app_not_installed'),
    Type.Literal('app_failed'),
    Type.Literal('app_not_removed'),
  ]),
  message: Type.String(),
  profileId: Type.Optional(Uuid),
  appId: Type.Optional(Uuid),
  appName: Type.Optional(Type.String()),
  details: Type.Optional(Type.Array(Type.Unknown())),
});

export const DesiredStateView = Type.Object({
  deviceId: Uuid,
  status: Type.Union([Type.Literal('none'), Type.Literal('compliant'), Type.Literal('pending'), Type.Literal('failed')]),
  desired: Type.Object({
    version: Type.Integer({ description: '0: no profile applies.' }),
    at: Nullable(Timestamp),
    profiles: Type.Array(Type.Object({ id: Uuid, name: Type.String(), version: Type.Integer(), status: Type.Union([Type.Literal('applied'), Type.Literal('pending'), Type.Literal('failed')]) })),
  }),
  applied: Type.Object({ version: Nullable(Type.Integer()), at: Nullable(Timestamp), nonCompliance: Type.Array(Type.Object({ fieldPath: Type.String(), reason: Type.String() })) }),
  rejected: Nullable(Type.Object({ version: Type.Integer(), errors: Type.Array(Type.Unknown()) })),
  apps: Type.Array(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      identifier: Nullable(Type.String()),
      version: Nullable(Type.String({ description: 'The catalog version its assignments name.' })),
      status: Type.Union([Type.Literal('applied'), Type.Literal('pending'), Type.Literal('failed')]),
    }),
    { description: 'The apps assigned to the device (apps/{id}/assignments), each with the state of its install.' },
  ),
  mismatches: Type.Array(Mismatch),
});
export type DesiredStateView = Static<typeof DesiredStateView>;
