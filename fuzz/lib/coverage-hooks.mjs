/**
 * Module loader hooks of the fuzzer's worker: the decoders under test (and
 * the protobuf reader they use) are loaded instrumented; everything else goes
 * on to the next loader (tsx).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { instrument } from "./instrument.mjs";

/** Source files whose edges the fuzzer counts. */
const INSTRUMENTED = [
  /\/server\/src\/wire\/.*\.ts$/,
  /\/server\/src\/p2p\/pex\/(pex-messages|ip|errors)\.ts$/,
  /\/server\/src\/p2p\/net-address\.ts$/,
  /\/server\/src\/gen\/.*\.ts$/,
  /\/node_modules\/@bufbuild\/protobuf\/dist\/esm\/wire\/(binary-encoding|varint|text-encoding)\.js$/,
];

let edges = 0;

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !INSTRUMENTED.some((re) => re.test(url))) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, "utf8");
  const out = instrument(source, path);
  edges += out.edges;
  if (process.env["FUZZ_DEBUG_INSTRUMENT"] === "1") process.stderr.write(`instrumented ${path}: ${out.edges} edges (${edges} in all)\n`);
  return { format: "module", source: out.code, shortCircuit: true };
}
