import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The redis suite starts its own redis-server; keep files from fighting over ports.
    fileParallelism: true,
    testTimeout: 20_000,
    // Fails the run at once, naming `npm run setup`, when a tool the suite drives is missing.
    // Then builds the web console when its build is missing or stale: the browser tests (test/web) serve it.
    globalSetup: ['test/support/tools-present.ts', 'test/web/build.ts'],
  },
});
