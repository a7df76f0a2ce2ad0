import { defineConfig } from "vitest/config";

// Load tests alone: one node under hundreds of peers, measuring memory. They
// are also part of the default suite (vitest.config.ts); this config runs just
// them, e.g. with SLOW_REACTOR_* variables (see the test's header).
export default defineConfig({
  test: {
    include: ["server/test/load/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    allowOnly: false,
    fileParallelism: false,
  },
});
