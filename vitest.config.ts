import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The redis suite starts its own redis-server; keep files from fighting over ports.
    fileParallelism: true,
    testTimeout: 20_000,
  },
});
