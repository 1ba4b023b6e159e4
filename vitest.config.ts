import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs keeps one global engine per process; forks isolate test files from each other.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
