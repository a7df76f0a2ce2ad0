import { defineConfig } from "vitest/config";
import { LINE_SUITES } from "./vitest.lines.config.js";

// Interop against a real CometBFT v0.38 node. Needs the `cometbft` binary:
// scripts/install-cometbft.sh puts it in .cache/bin, or set COMETBFT_BIN.
// The suites run once per CometBFT release line have their own config (vitest.lines.config.ts).
export default defineConfig({
  test: {
    include: ["server/test/interop/**/*.test.ts"],
    exclude: ["**/node_modules/**", ...LINE_SUITES],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    allowOnly: false,
    fileParallelism: false,
  },
});
