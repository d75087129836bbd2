import type { Config } from 'jest';

/**
 * Unit tests sit beside the code (`*.spec.ts`); integration tests under each service's
 * or library's `test/` and the repository's `test/`. They talk to the real MariaDB
 * (CO_TEST_MYSQL_URL) and NATS (CO_TEST_NATS_URL); see test/support.
 */
const config: Config = {
  rootDir: '.',
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // Type checking is the build's job (`npm test` builds first); tests are only transpiled.
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] },
  moduleNameMapper: {
    '^@co/(common|eventstore|bus|telemetry|proto|service-kit|auth)$': '<rootDir>/libs/$1/src',
  },
  setupFiles: ['<rootDir>/test/support/setup-telemetry.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
