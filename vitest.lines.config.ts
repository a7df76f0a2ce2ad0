import { defineConfig } from "vitest/config";

// The suites run once per CometBFT release line (server/test/interop/cometbft-lines.txt), against a real node of
// the line named by env COMETBFT_LINE. scripts/interop-lines.sh (`npm run test:interop:lines`) runs every line,
// one process per line, in parallel; binaries: `bash scripts/install-cometbft.sh --lines`.
export const LINE_SUITES = ["server/test/interop/cometbft-interop.test.ts", "server/test/interop/cometbft-pex.test.ts"];

export default defineConfig({
  test: {
    include: LINE_SUITES,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    allowOnly: false,
    fileParallelism: false,
  },
});
