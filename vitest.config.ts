import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // tfjs keeps one global engine per process; forks isolate test files from each other.
    pool: 'forks',
    // One test file per core. Vitest's default (cores - 1) ran the files one at a time on a 2-core machine, leaving a
    // core idle; the test processes are single-threaded wasm and the main process only collects results.
    maxWorkers: availableParallelism(),
    // Timeouts catch hangs, not slowness: the slowest test (cds-kd, 80 steps) needs about 35 s of CPU, so 300 s leaves
    // room for a machine 4x slower, or one whose cores are busy with other work, with margin to spare.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
