/**
 * Compiles what runs as "ours" (bench/ours/*, and the server they import) with
 * tsc into bench/dist/, as `npm run build` compiles the server: the children
 * then run plain JavaScript, like a deployed node. Types are not checked here
 * (`npm run typecheck` does that); the build is incremental.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const TSCONFIG = fileURLToPath(new URL("../tsconfig.build.json", import.meta.url));

/** Where a bench/ source file's compiled JavaScript lands. */
export function compiled(benchRelativeTs: string): string {
  return fileURLToPath(new URL(`../dist/bench/${benchRelativeTs.replace(/\.ts$/, ".js")}`, import.meta.url));
}

/** The compiled server entry point (`switchboard`). */
export const COMPILED_MAIN = fileURLToPath(new URL("../dist/server/src/main.js", import.meta.url));

export async function buildOurs(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", TSCONFIG, "--noCheck"]);
}
