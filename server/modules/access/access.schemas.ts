import { Type } from '@sinclair/typebox';
import { ROLE_NAMES, SCOPE_TYPES } from '../../infra/db/schema';

export const Uuid = Type.String({ format: 'uuid' });
export const RoleName = Type.Union(ROLE_NAMES.map((r) => Type.Literal(r)));
export const ScopeTypeSchema = Type.Union(SCOPE_TYPES.map((s) => Type.Literal(s)));
export const IdParams = Type.Object({ id: Uuid });

export const Grant = Type.Object({ role: RoleName, scopeType: ScopeTypeSchema, scopeId: Type.Union([Uuid, Type.Null()]) });

export const LoginBody = Type.Object(
  { email: Type.String({ minLength: 3, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const LoginReply = Type.Object({
  user: Type.Object({ id: Uuid, email: Type.String(), displayName: Type.String() }),
  csrfToken: Type.String({ description: 'Send it back in the x-csrf-token header on every POST, PATCH, PUT and DELETE made with the session cookie (with the cookies this answer sets)' }),
  expiresAt: Type.String({ format: 'date-time' }),
  mustChangePassword: Type.Boolean({ description: 'The password was printed at first start: POST /auth/password before anything else' }),
});

export const PasswordChangeBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Type.String({ minLength: 12, maxLength: 1024 }) },
  { additionalProperties: false },
);

export const MeReply = Type.Object({
  kind: Type.Union([Type.Literal('user'), Type.Literal('api_token')]),
  userId: Uuid,
  organisationId: Uuid,
  label: Type.String(),
  grants: Type.Array(Grant),
});

export const NewTokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    role: RoleName,
    scopeType: ScopeTypeSchema,
    scopeId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    expiresAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const TokenView = Type.Object({
  id: Uuid,
  userId: Uuid,
  name: Type.String(),
  prefix: Type.String(),
  role: RoleName,
  scopeType: ScopeTypeSchema,
  scopeId: Type.Union([Uuid, Type.Null()]),
  expiresAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});

export const NewTokenReply = Type.Composite([TokenView, Type.Object({ token: Type.String({ description: 'Shown once; store it now' }) })]);

export const TokenListQuery = Type.Object({ all: Type.Optional(Type.Boolean({ description: 'Every token of the organisation (administrators)' })) }, { additionalProperties: false });

export const RoleAssignmentView = Type.Object({ id: Uuid, role: RoleName, scopeType: ScopeTypeSchema, scopeId: Type.Union([Uuid, Type.Null()]) });

export const UserView = Type.Object({
  id: Uuid,
  email: Type.String(),
  displayName: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  hasPassword: Type.Boolean(),
  mustChangePassword: Type.Boolean(),
  lockedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  roles: Type.Array(RoleAssignmentView),
});

export const UserListQuery = Type.Object(
  { after: Type.Optional(Type.String({ maxLength: 254 })), limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) },
  { additionalProperties: false },
);
export const UserList = Type.Object({ items: Type.Array(UserView), next: Type.Union([Type.String(), Type.Null()]) });

const Password = Type.String({ minLength: 12, maxLength: 1024 });

export const NewUserBody = Type.Object(
  { email: Type.String({ format: 'email', maxLength: 254 }), displayName: Type.String({ minLength: 1, maxLength: 200 }), password: Type.Optional(Password) },
  { additionalProperties: false },
);

export const UserPatchBody = Type.Object(
  {
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
    password: Type.Optional(Password),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const NewRoleBody = Type.Object(
  { role: RoleName, scopeType: ScopeTypeSchema, scopeId: Type.Optional(Type.Union([Uuid, Type.Null()])) },
  { additionalProperties: false },
);
export const RoleParams = Type.Object({ id: Uuid, assignmentId: Uuid });
