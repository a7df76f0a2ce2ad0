/**
 * The README's table of supported CometBFT versions says what CI runs: exactly the lines of
 * server/test/interop/cometbft-lines.txt (the list scripts/interop-lines.sh runs in CI), with the same version,
 * p2p protocol and way of building, each proven by both line-parameterised suites.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCometBftLines, readCometBftLines } from "../interop/support/cometbft-lines.js";
import { REPO_ROOT } from "../interop/support/cometbft-node.js";

const HEADING = "## Supported CometBFT versions";

interface TableRow {
  line: string;
  version: string;
  p2p: string;
  build: "proxy" | "source" | "unknown";
  proves: string;
}

/** The rows of the first table under the heading, cells trimmed. */
function readmeRows(readme: string): TableRow[] {
  const at = readme.indexOf(HEADING);
  if (at < 0) throw new Error(`README.md has no "${HEADING}" section`);
  const section = readme.slice(at + HEADING.length).split(/\n## /)[0] ?? "";
  const table = section.split("\n").filter((l) => l.startsWith("|"));
  return table.slice(2).map((row) => {
    const [line = "", version = "", p2p = "", build = "", proves = ""] = row.split("|").slice(1, -1).map((c) => c.trim());
    const kind = build.includes("go install") ? "proxy" : build.includes("module source") ? "source" : "unknown";
    return { line, version: version.split(" ")[0] ?? "", p2p, build: kind, proves };
  });
}

describe("README: supported CometBFT versions", () => {
  it("the table lists exactly the lines CI runs, with their version, p2p protocol and build", () => {
    const rows = readmeRows(readFileSync(join(REPO_ROOT, "README.md"), "utf8"));
    const lines = readCometBftLines();
    expect(rows.map((r) => ({ line: r.line, version: r.version, p2p: r.p2p, build: r.build }))).toEqual(
      lines.map((l) => ({ line: l.line, version: l.version, p2p: String(l.p2pProtocol), build: l.build })),
    );
    for (const r of rows) expect(r.proves, `${r.line}: what CI proves`).toBe("wire interop, PEX");
  });

  it("the suites CI runs per line are the wire interop and PEX suites", async () => {
    const { LINE_SUITES } = await import("../../../vitest.lines.config.js");
    expect(LINE_SUITES).toEqual(["server/test/interop/cometbft-interop.test.ts", "server/test/interop/cometbft-pex.test.ts"]);
  });

  it("the list's parser refuses rows it cannot vouch for", () => {
    expect(() => parseCometBftLines("v0.37 v0.38.1 proxy 8\n")).toThrow(/not of line v0.37/);
    expect(() => parseCometBftLines("v0.37 v0.37.1 docker 8\n")).toThrow(/proxy or source/);
    expect(() => parseCometBftLines("v0.37 v0.37.1 proxy\n")).toThrow(/line version build p2p/);
    expect(() => parseCometBftLines("v0.37 v0.37.1 proxy 8\nv0.37 v0.37.2 proxy 8\n")).toThrow(/twice/);
    expect(parseCometBftLines("# c\n\nv1.0 v1.0.1 proxy 9 # newest\n").map((l) => [l.line, l.version, l.build, l.p2pProtocol])).toEqual([["v1.0", "v1.0.1", "proxy", 9n]]);
  });
});
