/** Runs the real CLI entry (`runCli`) in-process, capturing what it prints. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { runCli, type CliIo } from "../../src/cli/index.js";
import type { SwitchboardNode } from "../../src/node.js";

export interface CliRun {
  readonly stdout: string[];
  readonly stderr: string[];
  readonly logs: string[];
  /** The exit code, once the command returns. */
  readonly code: Promise<number>;
  /** What SIGINT does in main.ts. */
  abort(): void;
}

export function cli(argv: readonly string[], env: Record<string, string | undefined> = {}, extra: Partial<CliIo> = {}): CliRun & { started: Promise<SwitchboardNode> } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const logs: string[] = [];
  const controller = new AbortController();
  let onStarted: (n: SwitchboardNode) => void = () => undefined;
  const started = new Promise<SwitchboardNode>((resolve) => {
    onStarted = resolve;
  });
  const code = runCli(argv, {
    stdout: (l) => stdout.push(l),
    stderr: (l) => stderr.push(l),
    env,
    signal: controller.signal,
    logDestination: { write: (l: string) => logs.push(l) },
    onStarted: (n) => {
      onStarted(n);
    },
    ...extra,
  });
  const startedOrExited = Promise.race([
    started,
    code.then((c) => {
      throw new Error(`command exited with ${c} before starting:\n${stderr.join("\n")}`);
    }),
  ]);
  // Only commands that are expected to start await it; the others must not leave it unhandled.
  startedOrExited.catch(() => undefined);
  return {
    stdout,
    stderr,
    logs,
    code,
    abort: () => {
      controller.abort();
    },
    started: startedOrExited,
  };
}

/** Runs a command to completion. */
export async function cliDone(argv: readonly string[], env: Record<string, string | undefined> = {}, extra: Partial<CliIo> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = cli(argv, env, extra);
  const code = await run.code;
  return { code, stdout: run.stdout.join("\n"), stderr: run.stderr.join("\n") };
}

export const MAIN_TS = join(import.meta.dirname, "../../src/main.ts");

export interface ChildRun {
  readonly code: Promise<number | null>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  kill(signal: NodeJS.Signals): void;
  /** Resolves when stdout contains `text`. */
  waitForStdout(text: string, timeoutMs?: number): Promise<void>;
}

/** Runs `node --import tsx server/src/main.ts ARGS` as a child process. */
export function child(argv: readonly string[], env: Record<string, string | undefined> = {}): ChildRun {
  const proc = spawn(process.execPath, ["--import", "tsx", MAIN_TS, ...argv], {
    env: { PATH: process.env["PATH"], HOME: process.env["HOME"], ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters: (() => void)[] = [];
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) w();
  });
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const code = new Promise<number | null>((resolve) => proc.on("exit", (c) => {
    resolve(c);
  }));
  return {
    code,
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => proc.kill(signal),
    waitForStdout: (text, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`timed out waiting for ${JSON.stringify(text)}; stdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const check = (): void => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        void code.then(() => {
          if (!out.includes(text)) {
            clearTimeout(timer);
            reject(new Error(`exited before printing ${JSON.stringify(text)}; stdout:\n${out}\nstderr:\n${err}`));
          }
        });
        check();
      }),
  };
}
