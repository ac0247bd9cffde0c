import { defineConfig } from 'vitest/config';

// One test runner for the whole repo. Tests sit next to the code they test (`*.test.ts`);
// integration tests start their own nats-server on a free port (libs/testing).
// Two cores in CI: two forked workers keep ORT sessions and nats-servers from starving each other.
export default defineConfig({
  test: {
    include: ['libs/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'e2e/**/*.test.ts'],
    // The GPU suites run in a vitest of their own (vitest.gpu.config.ts), started by their `*.gpu.test.ts` wrapper.
    exclude: ['**/node_modules/**', '**/*.gpu-suite.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    globalSetup: ['libs/testing/src/global-setup.ts'],
  },
});
