import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs keeps one global engine per process; forks isolate test files from each other. The default worker count
    // (one per core) keeps both cores of a 2-core machine busy; more files at once would only fight for them.
    pool: 'forks',
    // Timeouts catch hangs, not slowness: the slowest test takes about 30 s on a quiet 2-core machine, so 300 s leaves
    // room for a machine 4x slower (or one whose cores are busy with other work) with margin to spare.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
