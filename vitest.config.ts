import { defineConfig } from "vitest/config";

// The default suite: everything that needs only this repository and Node.
// Long suites (real CometBFT interop, SDKs, docker-compose) have their own configs.
export default defineConfig({
  test: {
    include: ["server/test/**/*.test.ts", "client/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "server/test/interop/**", "server/test/load/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    allowOnly: false,
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "main" } },
      // The wire suite again on the fallback crypto backend (node:crypto), so
      // both backends pass every vector and every codec test.
      {
        extends: true,
        test: { name: "wire:node-crypto", include: ["server/test/wire/**/*.test.ts"], env: { SWITCHBOARD_CRYPTO_BACKEND: "node" } },
      },
    ],
  },
});
