/**
 * The CometBFT release lines the interop matrix runs against, read from the one list
 * (`server/test/interop/cometbft-lines.txt`), and the line a test process runs: env `COMETBFT_LINE`
 * (`scripts/interop-lines.sh` sets it; `COMETBFT_LINE=v0.37 npx vitest run --config vitest.lines.config.ts`).
 *
 * A line's binary is `<repo>/.cache/cometbft/<version>/cometbft`, installed by
 * `bash scripts/install-cometbft.sh --line LINE`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./cometbft-node.js";

export const COMETBFT_LINES_FILE = join(REPO_ROOT, "server", "test", "interop", "cometbft-lines.txt");

export interface CometBftLine {
  /** The release line, e.g. "v0.37". */
  readonly line: string;
  /** The release tested, a module version, e.g. "v0.37.18". */
  readonly version: string;
  /** How it is built: `go install` from the module proxy, or from the module's source without its replace block. */
  readonly build: "proxy" | "source";
  /** The p2p protocol version its NodeInfo advertises. */
  readonly p2pProtocol: bigint;
  /** Where scripts/install-cometbft.sh --line puts the binary. */
  readonly binary: string;
}

/** Parses the list (one line per row: `line version build p2p`; `#` starts a comment). */
export function parseCometBftLines(text: string): CometBftLine[] {
  const out: CometBftLine[] = [];
  for (const [i, raw] of text.split("\n").entries()) {
    const row = raw.replace(/#.*$/, "").trim();
    if (row === "") continue;
    const [line, version, build, p2p, ...rest] = row.split(/\s+/);
    const where = `${COMETBFT_LINES_FILE}:${i + 1}`;
    if (line === undefined || version === undefined || build === undefined || p2p === undefined || rest.length > 0) {
      throw new Error(`${where}: expected "line version build p2p", got ${JSON.stringify(raw)}`);
    }
    if (!/^v\d+\.\d+$/.test(line) || !version.startsWith(`${line}.`)) throw new Error(`${where}: version ${version} is not of line ${line}`);
    if (build !== "proxy" && build !== "source") throw new Error(`${where}: build must be proxy or source, got ${build}`);
    if (!/^\d+$/.test(p2p)) throw new Error(`${where}: p2p must be a number, got ${p2p}`);
    out.push({ line, version, build, p2pProtocol: BigInt(p2p), binary: join(REPO_ROOT, ".cache", "cometbft", version, "cometbft") });
  }
  if (new Set(out.map((l) => l.line)).size !== out.length) throw new Error(`${COMETBFT_LINES_FILE}: a line is listed twice`);
  return out;
}

export function readCometBftLines(): CometBftLine[] {
  return parseCometBftLines(readFileSync(COMETBFT_LINES_FILE, "utf8"));
}

/** The line this process tests (env COMETBFT_LINE), with its binary installed; throws a message saying what to do. */
export function selectedCometBftLine(): CometBftLine & { readonly reportedVersion: string } {
  const lines = readCometBftLines();
  const names = lines.map((l) => l.line).join(", ");
  const wanted = process.env["COMETBFT_LINE"];
  if (wanted === undefined || wanted === "") {
    throw new Error(`set COMETBFT_LINE to one of ${names}, or run every line with \`npm run test:interop:lines\``);
  }
  const line = lines.find((l) => l.line === wanted);
  if (line === undefined) throw new Error(`COMETBFT_LINE=${wanted} is not in ${COMETBFT_LINES_FILE} (${names})`);
  if (!existsSync(line.binary)) {
    throw new Error(`${line.binary} is missing: run \`bash scripts/install-cometbft.sh --line ${line.line}\``);
  }
  // What the binary calls itself (and puts in its NodeInfo); not always the tag: v0.37.18 says 0.37.16.
  const reportedVersion = execFileSync(line.binary, ["version"], { encoding: "utf8" }).trim().split("\n")[0] ?? "";
  return { ...line, reportedVersion: reportedVersion.replace(/\+.*$/, "") };
}
