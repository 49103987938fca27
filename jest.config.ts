import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/support/jestSetup.ts'],
  // mp4box declares its types under package.json "exports" only, which node10 resolution does not read.
  transform: {
    '^.+\\.[tj]s$': [
      'ts-jest',
      {
        tsconfig: {
          allowJs: true,
          module: 'commonjs',
          moduleResolution: 'node10',
          ignoreDeprecations: '6.0',
          paths: { mp4box: ['./node_modules/mp4box/dist/mp4box.all.d.cts'] },
        },
        diagnostics: { ignoreCodes: [151001] },
      },
    ],
  },
  // These ship ES modules only (p-retry and its dependency; content-disposition under bull-board's
  // @fastify/static); let ts-jest turn them into CommonJS. Node 20 itself cannot require them.
  transformIgnorePatterns: ['/node_modules/(?!(p-retry|is-network-error|content-disposition|@fastify/static/node_modules/content-disposition)/)'],
};

export default config;
