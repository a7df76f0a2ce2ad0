import { defineConfig } from "vitest/config";

// Interop against a real CometBFT v0.38 node. Needs the `cometbft` binary:
// scripts/install-cometbft.sh puts it in .cache/bin, or set COMETBFT_BIN.
export default defineConfig({
  test: {
    include: ["server/test/interop/**/*.test.ts"],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    allowOnly: false,
    fileParallelism: false,
  },
});
