/** Builds and runs the Go reference program (bench/reference). */
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REFERENCE_DIR = fileURLToPath(new URL("../reference/", import.meta.url));
const BINARY = fileURLToPath(new URL("../reference/bin/reference", import.meta.url));

/** `go build`s the reference (incremental: go's build cache makes a rebuild cheap). Returns `go version`. */
export async function buildReference(): Promise<string> {
  await run("go", ["build", "-o", BINARY, "."], { cwd: REFERENCE_DIR, env: { ...process.env, GOFLAGS: "-mod=readonly" } });
  const { stdout } = await run("go", ["version"], { cwd: REFERENCE_DIR });
  return stdout.trim();
}

export interface ReferenceOutput<T> {
  readonly implementation: "cometbft";
  readonly version: string;
  readonly goVersion: string;
  readonly gomaxprocs: number;
  readonly result: T;
}

/** Runs `reference <subcommand> <flags>` and parses the JSON it prints. */
export function runReference<T>(subcommand: string, flags: readonly string[], timeoutMs = 600_000): Promise<ReferenceOutput<T>> {
  return new Promise((resolve, reject) => {
    // Through sh, to lift the soft limit on open files like our children get.
    const proc = spawn("sh", ["-c", 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', BINARY, subcommand, ...flags], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (chunk: string) => (out += chunk));
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.once("error", reject);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`reference ${subcommand} exited with ${code ?? signal ?? "?"}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as ReferenceOutput<T>);
      } catch (err) {
        reject(new Error(`reference ${subcommand} printed no JSON: ${(err as Error).message}`));
      }
    });
  });
}
