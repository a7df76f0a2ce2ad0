/**
 * Prints the functions with the most self time in a V8 .cpuprofile (what
 * `node --cpu-prof` writes), the self time per file, and the functions with
 * the most inclusive time (self plus callees).
 *
 *   npx tsx bench/tools/cpuprofile-top.ts FILE.cpuprofile [N]
 *
 * Children get profiled with BENCH_CHILD_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR".
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error("usage: cpuprofile-top FILE.cpuprofile [N]");
const top = Number(process.argv[3] ?? "30");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (n === undefined) continue;
  const f = n.callFrame;
  const short = f.url.replace(/^.*\/(server|bench|node_modules)\//, "$1/");
  const key = `${f.functionName || "(anonymous)"}  ${short}:${f.lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byFile.set(short || "(native)", (byFile.get(short || "(native)") ?? 0) + us);
  total += us;
}
const print = (title: string, m: Map<string, number>, n: number): void => {
  console.log(`\n${title} (total ${(total / 1e3).toFixed(0)} ms)`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e3).toFixed(0).padStart(6)} ms  ${k}`);
  }
};
// Inclusive time: each node's self time added to it and every ancestor, once per function name on the path.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    if (n === undefined) break;
    const f = n.callFrame;
    if (f.url === "") continue;
    const key = `${f.functionName || "(anonymous)"}  ${f.url.replace(/^.*\/(server|bench|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  }
}
print("self time by function", byFunction, top);
print("self time by file", byFile, 15);
print("inclusive time by function (JavaScript frames)", inclusive, top);
