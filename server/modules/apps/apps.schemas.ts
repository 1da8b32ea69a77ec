import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { APP_KINDS, APP_PLATFORMS } from '../../domain/apps';
import { PROFILE_SCOPE_TYPES } from '../../infra/db/schema';
import { RolloutView } from '../profiles/profiles-api.schemas';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Uuid = Type.String({ format: 'uuid' });
const Time = Type.String({ format: 'date-time' });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });
const literals = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const AppVersionView = Type.Object({
  id: Uuid,
  appId: Uuid,
  version: Type.String({ description: 'Android: the versionCode; Windows: ProductVersion or the MSIX version; iPad in-house: as entered.' }),
  versionCode: Nullable(Type.Integer()),
  sha256: Nullable(Sha256),
  sizeBytes: Nullable(Type.Integer()),
  signingCertSha256: Nullable(Sha256),
  metadata: Type.Record(Type.String(), Type.Unknown(), { description: 'What was read from the package (versionName, ProductName, package family name...) or entered.' }),
  createdAt: Time,
});
export type AppVersionView = Static<typeof AppVersionView>;

export const AppView = Type.Object({
  id: Uuid,
  platform: literals(APP_PLATFORMS),
  kind: literals(APP_KINDS),
  identifier: Type.String({ description: 'Package name, bundle id, MSI ProductCode or MSIX package family name.' }),
  name: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  versionCount: Type.Integer(),
  latestVersion: Nullable(Type.String()),
  createdAt: Time,
  updatedAt: Time,
});
export type AppView = Static<typeof AppView>;

export const AppDetail = Type.Composite([AppView, Type.Object({ versions: Type.Array(AppVersionView) })]);
export type AppDetail = Static<typeof AppDetail>;

export const UploadResult = Type.Object({
  app: AppView,
  version: AppVersionView,
  created: Type.Boolean({ description: 'False when this very file was already this version of the app.' }),
});
export type UploadResult = Static<typeof UploadResult>;

const BundleId = Type.String({ pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$', maxLength: 155 });
const Name = Type.String({ minLength: 1, maxLength: 200 });

/** iPad apps are entered, not uploaded: Cartable never looks them up on the network. */
export const CreateAppBody = Type.Union([
  Type.Object(
    {
      platform: Type.Literal('ios'),
      kind: Type.Literal('app_store'),
      bundleId: BundleId,
      storeId: Type.Integer({ minimum: 1, maximum: 99_999_999_999, description: 'The App Store (iTunes) id, the number in the app\'s store URL.' }),
      name: Name,
    },
    strict,
  ),
  Type.Object(
    {
      platform: Type.Literal('ios'),
      kind: Type.Literal('in_house'),
      bundleId: BundleId,
      name: Name,
      version: Type.String({ minLength: 1, maxLength: 64 }),
      manifestUrl: Type.String({ pattern: '^https://', maxLength: 2000, description: 'The app\'s manifest.plist, served over HTTPS by the organisation.' }),
    },
    strict,
  ),
]);
export type CreateAppBody = Static<typeof CreateAppBody>;

export const AppIdParams = Type.Object({ id: Uuid });
export const VersionParams = Type.Object({ id: Uuid, versionId: Uuid });
export const FileParams = Type.Object({ sha256: Sha256 });
export const SignedQuery = Type.Object({ expires: Type.Integer({ minimum: 0, maximum: 99_999_999_999 }), sig: Type.String({ maxLength: 100 }) });
export const AppList = Type.Array(AppView);

const ScopeType = Type.Union(PROFILE_SCOPE_TYPES.map((t) => Type.Literal(t)));

export const AppAssignmentBody = Type.Object(
  {
    appVersionId: Type.Optional(Type.String({ format: 'uuid', description: 'The catalog version the scope must hold; the newest version when absent. Assigning again with another version moves the scope to it.' })),
    scopeType: ScopeType,
    scopeId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Commune, school or group id; the platform; the tag. Absent for the organisation.' })),
  },
  strict,
);
export type AppAssignmentBody = Static<typeof AppAssignmentBody>;

export const AppAssignmentView = Type.Object({
  id: Uuid,
  appId: Uuid,
  appVersionId: Uuid,
  version: Type.String(),
  scopeType: ScopeType,
  scopeId: Nullable(Type.String()),
  createdAt: Time,
  updatedAt: Time,
});
export const AppAssignmentList = Type.Array(AppAssignmentView);

export const AppAssignmentChange = Type.Object({
  assignment: AppAssignmentView,
  change: Type.Union([Type.Literal('created'), Type.Literal('version'), Type.Literal('none')], { description: '`version`: the scope moved to another version; `none`: it already held this one, nothing queued.' }),
  rollout: Nullable(RolloutView),
});
export const AppUnassignResult = Type.Object({ rollout: RolloutView });
export const AppAssignmentParams = Type.Object({ id: Uuid, assignmentId: Uuid });

export const AppComplianceView = Type.Object({
  appId: Uuid,
  devices: Type.Integer({ description: 'Devices within your reach, of the app\u2019s platform, that its assignments reach.' }),
  compliant: Type.Integer({ description: 'The install of the assigned version succeeded.' }),
  pending: Type.Integer(),
  failed: Type.Integer({ description: 'The install failed, expired or was cancelled.' }),
});
