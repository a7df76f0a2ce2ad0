import { defineConfig } from "vitest/config";

// The default suite: everything that needs only this repository and Node,
// the slow-reactor load test included (about 25 s; its memory cap is derived
// from the per-connection bounds, see server/docs/LIMITS.md).
// Long suites (real CometBFT interop, SDKs, docker-compose) have their own configs.
export default defineConfig({
  test: {
    include: ["server/test/**/*.test.ts", "client/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "server/test/interop/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    allowOnly: false,
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "main" } },
      // The wire suite again on the fallback crypto backend (node:crypto), so
      // both backends pass every vector and every codec test. Not `extends`:
      // that would add the root's include to this one and run every suite twice.
      {
        test: {
          name: "wire:node-crypto",
          include: ["server/test/wire/**/*.test.ts"],
          env: { SWITCHBOARD_CRYPTO_BACKEND: "node" },
          testTimeout: 30_000,
          hookTimeout: 30_000,
          allowOnly: false,
        },
      },
    ],
  },
});
