import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Benchmarks that need the TypeScript fakes under test/support run under vitest; they print
 * figures and assert only correctness (nothing lost or doubled), never a time budget.
 *   npx vitest run --config bench/vitest.config.ts
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/**/*.bench.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One file at a time on two cores, so figures aren't shared with another benchmark.
    fileParallelism: false,
    maxWorkers: 1,
  },
});
