/**
 * The fuzzing loop, run inside a worker whose loader instruments the code
 * under test (see coverage-hooks.mjs). Coverage-guided in the AFL/libFuzzer
 * way: an input that reaches a new edge, or an edge a new number of times
 * (hit counts in buckets 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+), joins the
 * corpus and is mutated further.
 *
 * The current input is published in shared memory before each run, so that
 * the parent can save it if the worker hangs or dies (out of memory).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { parentPort, workerData } from "node:worker_threads";
import { type MutationContext, defaultDictionary, mutate } from "./mutate.js";

export const MAP_SIZE = 1 << 16;
/** Shared memory header: [0] runs so far, [1] length of the current input; the input follows. */
export const SHARED_HEADER_BYTES = 8;

export interface EngineOptions {
  readonly target: string;
  readonly seconds: number;
  readonly seed: number;
  readonly maxLen: number;
  /** Committed seeds, read only. */
  readonly corpusDir: string;
  /** Where new corpus entries go (not committed). */
  readonly workDir: string;
  readonly shared: SharedArrayBuffer;
}

export type EngineMessage =
  | { readonly type: "stats"; readonly runs: number; readonly corpus: number; readonly edges: number; readonly execPerSec: number }
  | { readonly type: "crash"; readonly input: Uint8Array; readonly error: string }
  | { readonly type: "done"; readonly runs: number; readonly corpus: number; readonly edges: number; readonly execPerSec: number };

declare global {
  var __sbCov: Uint8Array | undefined;
}

function bucket(count: number): number {
  if (count <= 3) return count === 3 ? 4 : count; // 1 -> 1, 2 -> 2, 3 -> 4
  if (count <= 7) return 8;
  if (count <= 15) return 16;
  if (count <= 31) return 32;
  if (count <= 127) return 64;
  return 128;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readDir(dir: string): Uint8Array[] {
  try {
    return readdirSync(dir)
      .filter((f) => !f.startsWith("."))
      .sort()
      .map((f) => new Uint8Array(readFileSync(join(dir, f))));
  } catch {
    return [];
  }
}

export async function runEngine(o: EngineOptions, post: (m: EngineMessage) => void): Promise<void> {
  const map = (globalThis.__sbCov ??= new Uint8Array(MAP_SIZE));
  const words = new Uint32Array(map.buffer, map.byteOffset, MAP_SIZE / 4);
  // Imported only now, through the instrumenting loader.
  const { TARGETS } = await import("../targets/index.js");
  const target = TARGETS[o.target];
  if (target === undefined) throw new Error(`unknown target "${o.target}"; known: ${Object.keys(TARGETS).join(", ")}`);
  const header = new Int32Array(o.shared, 0, 2);
  const inputView = new Uint8Array(o.shared, SHARED_HEADER_BYTES);
  const virgin = new Uint8Array(MAP_SIZE);
  let edges = 0;
  let runs = 0;

  /** Runs one input; true when it reached something new. Throws what the target threw. */
  const run = (input: Uint8Array): boolean => {
    inputView.set(input.subarray(0, inputView.length));
    Atomics.store(header, 1, Math.min(input.length, inputView.length));
    Atomics.add(header, 0, 1);
    runs++;
    map.fill(0);
    target(input);
    let fresh = false;
    for (let w = 0; w < words.length; w++) {
      if (words[w] === 0) continue;
      for (let i = w * 4; i < w * 4 + 4; i++) {
        const c = map[i] as number;
        if (c === 0) continue;
        const b = bucket(c);
        const seen = virgin[i] as number;
        if ((seen & b) === 0) {
          if (seen === 0) edges++;
          virgin[i] = seen | b;
          fresh = true;
        }
      }
    }
    return fresh;
  };

  const save = (input: Uint8Array): void => {
    mkdirSync(o.workDir, { recursive: true });
    writeFileSync(join(o.workDir, createHash("sha1").update(input).digest("hex")), input);
  };

  const crash = (input: Uint8Array, err: unknown): void => {
    const text = err instanceof Error ? `${err.stack ?? err.message}${err.cause === undefined ? "" : `\ncause: ${err.cause instanceof Error ? (err.cause.stack ?? err.cause.message) : inspect(err.cause)}`}` : String(err);
    post({ type: "crash", input: input.slice(), error: text });
  };

  const corpus: Uint8Array[] = [];
  const seeds = [...readDir(o.corpusDir), ...readDir(o.workDir)];
  if (seeds.length === 0) seeds.push(new Uint8Array(0));
  for (const s of seeds) {
    const input = s.length > o.maxLen ? s.slice(0, o.maxLen) : s;
    try {
      run(input);
    } catch (err) {
      crash(input, err);
      return;
    }
    corpus.push(input);
  }

  const rng = prng(o.seed);
  const ctx: MutationContext = { rng, corpus, dictionary: defaultDictionary(), maxLen: o.maxLen };
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  let lastStats = started;
  const rate = (): number => Math.round(runs / Math.max(0.001, (performance.now() - started) / 1000));
  while (performance.now() < deadline) {
    for (let i = 0; i < 256; i++) {
      // Prefer recent finds: half the picks come from the newest quarter of the corpus.
      const n = corpus.length;
      const pick = rng() < 0.5 ? n - 1 - Math.floor(rng() * Math.max(1, Math.floor(n / 4))) : Math.floor(rng() * n);
      const child = mutate(corpus[pick] as Uint8Array, ctx);
      let fresh: boolean;
      try {
        fresh = run(child);
      } catch (err) {
        crash(child, err);
        return;
      }
      if (fresh) {
        corpus.push(child);
        save(child);
      }
    }
    const now = performance.now();
    if (now - lastStats > 5000) {
      lastStats = now;
      post({ type: "stats", runs, corpus: corpus.length, edges, execPerSec: rate() });
      // Let the parent's messages and the watchdog through.
      await new Promise((r) => setImmediate(r));
    }
  }
  post({ type: "done", runs, corpus: corpus.length, edges, execPerSec: rate() });
}

if (parentPort !== null && (workerData as { engine?: EngineOptions } | null)?.engine !== undefined) {
  const port = parentPort;
  await runEngine((workerData as { engine: EngineOptions }).engine, (m) => {
    port.postMessage(m);
  });
}
