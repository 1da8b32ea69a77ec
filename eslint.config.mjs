import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noDrizzle = { group: ['drizzle-orm', 'drizzle-orm/*', 'pg'], message: 'Only repositories (and server/infra/db) talk to the database.' };
const noFastify = { group: ['fastify', '@fastify/*'], message: 'Services know nothing of HTTP: keep Fastify in routes and platform adapters.' };
const noRoutes = { group: ['**/*.routes', '**/platforms/**'], message: 'Imports flow one way: edges -> services -> repositories.' };
const noServices = { group: ['**/*.service', '**/*.routes', '**/platforms/**'], message: 'Repositories are the bottom layer: they import no service or edge.' };
const noRepositories = { group: ['**/*.repository'], message: 'Edges call services, never repositories.' };

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
  // The import boundary: edges (routes, platform adapters) -> services -> repositories.
  { files: ['server/**/*.service.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noDrizzle, noFastify, noRoutes] }] } },
  { files: ['server/**/*.repository.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noFastify, noServices] }] } },
  { files: ['server/**/*.routes.ts', 'server/platforms/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noDrizzle, noRepositories] }] } },
  { files: ['server/cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'agent-protocol/simulator/**/*.ts'], rules: { 'no-console': 'off' } },
  { files: ['**/*.test.ts', 'test/**/*.ts'], rules: { '@typescript-eslint/no-non-null-assertion': 'off', 'no-console': 'off' } },
  // The console's few scripts run in browsers; the test identity provider runs under Node as an ES module.
  { files: ['server/console/assets/**/*.js'], languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } } },
  { files: ['test/**/*.mjs'], languageOptions: { globals: { process: 'readonly' } } },
);
