import type { Config } from 'jest';

const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

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
  transform: { '^.+\\.ts$': ['@swc/jest', swc as Record<string, unknown>] },
  moduleNameMapper: {
    '^@co/(common|eventstore|bus|telemetry|proto|service-kit)$': '<rootDir>/libs/$1/src',
  },
  setupFiles: ['<rootDir>/test/support/setup-telemetry.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
};

export default config;
