/* global module */
// Jest for the fault-injection suite (`npm run test:reliability`): each test file starts its own Temporal dev
// server, Postgres and worker process so it can kill them; the global setup only bundles the workflows once.
/** @type {import('jest').Config} */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test-reliability'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test-reliability/support/global-setup.ts',
  globalTeardown: '<rootDir>/test-reliability/support/global-teardown.ts',
  testTimeout: 30 * 60 * 1000,
  // One line per test with its figures is printed by the tests themselves.
  verbose: true,
};
