import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The import boundary, deny by default: edges (routes, device protocol adapters) -> services -> repositories.
const DATABASE = { group: ['drizzle-orm', 'drizzle-orm/*', 'pg'], message: 'Only repositories (and server/infra/db) talk to the database.' };
const HTTP = { group: ['fastify', 'fastify/*', '@fastify/*', 'fastify-plugin'], message: 'Only route files speak HTTP: services know nothing of Fastify.' };
const PLATFORMS = { group: ['**/platforms/**'], message: 'Device protocols are edges: nothing in the domain imports them.' };
const WIRE = { group: ['**/agent-protocol/**', 'plist', 'fast-xml-parser', '@xmldom/*', 'xmlbuilder2'], message: 'Wire formats belong to their platform adapter under server/platforms/.' };
const QUEUES = { group: ['ioredis', 'bullmq'], message: 'Redis and BullMQ stay in server/infra, behind narrow interfaces.' };
const ROUTES = { group: ['**/*.routes', '**/*.routes.ts'], message: 'Imports flow one way: edges -> services -> repositories.' };
const SERVICES = { group: ['**/*.service', '**/*.service.ts'], message: 'Repositories are the bottom layer: they import no service.' };
const REPOSITORIES = { group: ['**/*.repository', '**/*.repository.ts'], message: 'Edges call services, never repositories.' };
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'agent-protocol/schema/**', 'bin/**', '*.config.js', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
    },
  },
  // The domain's vocabulary and ports import nothing but themselves.
  { files: ['server/domain/**/*.ts'], rules: restrict(DATABASE, HTTP, PLATFORMS, WIRE, QUEUES, { group: ['**/modules/**', '**/infra/**'], message: 'The domain depends on nothing.' }) },
  // Any module file, whatever its name: no database, HTTP, platform, wire format or queue...
  { files: ['server/modules/**/*.ts'], rules: restrict(DATABASE, HTTP, PLATFORMS, WIRE, QUEUES, ROUTES) },
  // ...but route files speak HTTP (and call services),
  { files: ['server/modules/**/*.routes.ts'], rules: restrict(DATABASE, PLATFORMS, WIRE, QUEUES, REPOSITORIES) },
  // ...and repositories speak SQL (and call no service).
  { files: ['server/modules/**/*.repository.ts'], rules: restrict(HTTP, PLATFORMS, WIRE, QUEUES, ROUTES, SERVICES) },
  // The HTTP plumbing of access (hooks, cookies) is part of the REST edge.
  { files: ['server/modules/access/auth.plugin.ts', 'server/modules/access/session-cookie.ts'], rules: restrict(DATABASE, PLATFORMS, WIRE, QUEUES, REPOSITORIES) },
  // A device protocol adapter decodes and encodes; it reaches the domain through services and ports only.
  { files: ['server/platforms/**/*.ts'], rules: restrict(DATABASE, REPOSITORIES) },
  { files: ['server/cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'agent-protocol/simulator/**/*.ts'], rules: { 'no-console': 'off' } },
  { files: ['**/*.test.ts', 'test/**/*.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off', 'no-console': 'off' } },
  // The console's few scripts run in browsers; the test identity provider runs under Node as an ES module.
  { files: ['server/console/assets/**/*.js'], languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } } },
  { files: ['test/**/*.mjs'], languageOptions: { globals: { process: 'readonly' } } },
);
