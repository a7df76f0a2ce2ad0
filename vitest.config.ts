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
  },
});
