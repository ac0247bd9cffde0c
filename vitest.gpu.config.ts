import { defineConfig } from 'vitest/config';

// The GPU suites (`*.gpu-suite.test.ts`): a vitest of their own, started by their wrapper test
// (`*.gpu.test.ts`) in the main run, so a native abort of a GPU execution provider ends this run only
// and not the main one (libs/model/src/runtime/paged-decoder.gpu.test.ts says why). One fork: the
// suites share one device.
export default defineConfig({
  test: {
    include: ['libs/*/src/**/*.gpu-suite.test.ts'],
    exclude: ['**/node_modules/**'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
