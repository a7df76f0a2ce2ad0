// Entry of the fuzzer's worker: TypeScript through tsx, with the code under
// test instrumented for coverage, then the engine.
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";

registerTsx();
register("./coverage-hooks.mjs", import.meta.url);
await import("./engine.ts");
