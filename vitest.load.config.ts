import { defineConfig } from "vitest/config";

// Load tests: one node under hundreds of peers, measuring memory. Run with
// `npm run test:load` on a quiet machine. Not in the default suite: the slow
// reactor's memory bound is an open finding (see issue notes and LIMITS.md).
export default defineConfig({
  test: {
    include: ["server/test/load/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    allowOnly: false,
    fileParallelism: false,
  },
});
