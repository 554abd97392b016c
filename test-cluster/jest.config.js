/* global module */
// Jest for `npm run test:cluster`: the contract suite and the HTTP tests of test/ against a real Temporal cluster
// (the server's four services as processes, Postgres persistence and visibility) with two worker processes per
// harness, plus the cluster's own tests here (faults, `cluster start|stop`, deploy/). Global setup: support/.
/** @type {import('jest').Config} */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/test-cluster'],
  testMatch: [
    '<rootDir>/test/contract-temporal.test.ts',
    '<rootDir>/test/http-api.test.ts',
    '<rootDir>/test/http-server.test.ts',
    '<rootDir>/test-cluster/**/*.test.ts',
  ],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test-cluster/support/global-setup.ts',
  globalTeardown: '<rootDir>/test-cluster/support/global-teardown.ts',
  testTimeout: 15 * 60 * 1000,
  // Fault tests print one line of figures each.
  verbose: true,
};
