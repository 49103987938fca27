import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/support/jestSetup.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '6.0' }, diagnostics: { ignoreCodes: [151001] } }],
  },
  // These ship ES modules only (p-retry and its dependency; content-disposition under bull-board's
  // @fastify/static); let ts-jest turn them into CommonJS. Node 20 itself cannot require them.
  transformIgnorePatterns: ['/node_modules/(?!(p-retry|is-network-error|content-disposition|@fastify/static/node_modules/content-disposition)/)'],
};

export default config;
