/** Tests run TypeScript through SWC; type-checking is a separate `tsc --noEmit` step. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/server', '<rootDir>/agent-protocol'],
  testMatch: ['**/*.test.ts'],
  // A few dependencies ship ES modules only; Node.js loads them natively, Jest needs them transformed.
  transformIgnorePatterns: ['/node_modules/(?!(cookie|@fastify/cookie|intl-messageformat|@formatjs|openid-client|oauth4webapi|jose)/)'],
  transform: { '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
