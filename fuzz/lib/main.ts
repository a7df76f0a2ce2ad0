/**
 * The fuzzer's command line: runs one target (or all, one after the other)
 * for a bounded time in a worker, watches it, and saves what breaks it.
 *
 *   node --import tsx fuzz/lib/main.ts <target|all> [seconds] [--max-len N] [--seed N] [--hang-ms N]
 *   node --import tsx fuzz/lib/main.ts --repro <target> <file>
 *
 * Exit status: 0 when no target failed; 1 after a crash (a property
 * violation or an untyped error), a hang or an out-of-memory; 2 on misuse.
 * Failing inputs go to fuzz/.work/crashes/<target>/, new corpus entries to
 * fuzz/.work/corpus/<target>/ (neither is committed; copy a failing input
 * into fuzz/corpus/<target>/ once fixed, so it stays a regression test).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { EngineMessage, EngineOptions } from "./engine.js";
import { SHARED_HEADER_BYTES } from "./engine.js";

const FUZZ_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
/** Per-target input size limit: a few frames or packets, a NodeInfo past its 10240-byte limit. */
const MAX_LEN: Record<string, number> = { frame: 8192, "node-info": 12_000, packet: 4096, delimited: 4096, pex: 4096, handshake: 1024 };
const TARGET_NAMES = ["delimited", "frame", "handshake", "node-info", "packet", "pex"];

interface Options {
  seconds: number;
  seed: number;
  maxLen: number | null;
  hangMs: number;
  memoryMb: number;
}

function usage(): never {
  console.error("usage: fuzz/run.sh <target|all> [seconds] [--max-len N] [--seed N] [--hang-ms N]\n       fuzz/run.sh --repro <target> <file>");
  console.error(`targets: ${TARGET_NAMES.join(", ")}`);
  process.exit(2);
}

function saveFailure(target: string, kind: string, input: Uint8Array, detail: string): string {
  const dir = join(FUZZ_DIR, ".work", "crashes", target);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${createHash("sha1").update(input).digest("hex")}`);
  writeFileSync(file, input);
  writeFileSync(`${file}.txt`, `${detail}\n`);
  return file;
}

/** Runs one target; resolves true when it found nothing. */
function fuzzTarget(target: string, o: Options): Promise<boolean> {
  const maxLen = o.maxLen ?? MAX_LEN[target] ?? 4096;
  const shared = new SharedArrayBuffer(SHARED_HEADER_BYTES + maxLen);
  const header = new Int32Array(shared, 0, 2);
  const engine: EngineOptions = {
    target,
    seconds: o.seconds,
    seed: o.seed,
    maxLen,
    corpusDir: join(FUZZ_DIR, "corpus", target),
    workDir: join(FUZZ_DIR, ".work", "corpus", target),
    shared,
  };
  const worker = new Worker(new URL("./worker-entry.mjs", import.meta.url), {
    workerData: { engine },
    resourceLimits: { maxOldGenerationSizeMb: o.memoryMb },
  });
  const current = (): Uint8Array => new Uint8Array(shared, SHARED_HEADER_BYTES, Atomics.load(header, 1)).slice();
  const started = Date.now();
  return new Promise<boolean>((resolve) => {
    let settled = false;
    let lastRuns = -1;
    let lastProgress = Date.now();
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(ok);
    };
    const watchdog = setInterval(() => {
      const runs = Atomics.load(header, 0);
      if (runs !== lastRuns) {
        lastRuns = runs;
        lastProgress = Date.now();
        return;
      }
      if (runs > 0 && Date.now() - lastProgress > o.hangMs) {
        const file = saveFailure(target, "hang", current(), `no progress for ${o.hangMs} ms on this input`);
        console.error(`[${target}] HANG: one input ran for over ${o.hangMs} ms; saved ${file}`);
        finish(false);
      }
    }, 250);
    worker.on("message", (m: EngineMessage) => {
      switch (m.type) {
        case "stats":
          console.log(`[${target}] ${Math.round((Date.now() - started) / 1000)} s: ${m.runs} runs (${m.execPerSec}/s), ${m.edges} edges, corpus ${m.corpus}`);
          return;
        case "done":
          console.log(`[${target}] done: ${m.runs} runs in ${o.seconds} s (${m.execPerSec}/s), ${m.edges} edges, corpus ${m.corpus}, no failure`);
          finish(true);
          return;
        case "crash": {
          const file = saveFailure(target, "crash", m.input, m.error);
          console.error(`[${target}] CRASH on input ${Buffer.from(m.input).toString("hex").slice(0, 400)}\n${m.error}\nsaved ${file}`);
          finish(false);
          return;
        }
      }
    });
    worker.on("error", (err) => {
      const kind = (err as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY" ? "oom" : "crash";
      const file = saveFailure(target, kind, current(), err.stack ?? err.message);
      console.error(`[${target}] ${kind.toUpperCase()}: ${err.message}; last input saved to ${file}`);
      finish(false);
    });
    worker.on("exit", (code) => {
      if (!settled) {
        console.error(`[${target}] worker exited with code ${code} before finishing`);
        finish(false);
      }
    });
  });
}

async function repro(target: string, file: string): Promise<void> {
  const { TARGETS } = await import("../targets/index.js");
  const fn = TARGETS[target];
  if (fn === undefined) usage();
  fn(new Uint8Array(readFileSync(file)));
  console.log(`${target}: ${file} passes`);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === "--repro") {
    if (argv.length !== 3) usage();
    await repro(argv[1] as string, argv[2] as string);
    return;
  }
  const positional: string[] = [];
  const o: Options = { seconds: 20, seed: Date.now() % 2 ** 31, maxLen: null, hangMs: 10_000, memoryMb: 1024 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) usage();
      return v;
    };
    if (a === "--max-len") o.maxLen = value();
    else if (a === "--seed") o.seed = value();
    else if (a === "--hang-ms") o.hangMs = value();
    else if (a === "--memory-mb") o.memoryMb = value();
    else if (a.startsWith("--")) usage();
    else positional.push(a);
  }
  const which = positional[0] ?? "all";
  if (positional[1] !== undefined) o.seconds = Number(positional[1]);
  if (!Number.isFinite(o.seconds) || o.seconds <= 0) usage();
  const targets = which === "all" ? TARGET_NAMES : [which];
  if (targets.some((t) => !TARGET_NAMES.includes(t))) usage();
  console.log(`fuzzing ${targets.join(", ")} for ${o.seconds} s each (seed ${o.seed})`);
  let ok = true;
  for (const t of targets) ok = (await fuzzTarget(t, o)) && ok;
  process.exitCode = ok ? 0 : 1;
}

await main(process.argv.slice(2));
