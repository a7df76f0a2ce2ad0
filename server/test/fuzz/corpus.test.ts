/**
 * The committed fuzz corpus as a regression suite: every file under
 * fuzz/corpus/<target>/ (seeds, and `regress-*` inputs that once broke
 * something) must pass its target. Runs in milliseconds, with `npm test`.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TARGETS } from "../../../fuzz/targets/index.js";

const CORPUS = fileURLToPath(new URL("../../../fuzz/corpus", import.meta.url));

describe("fuzz corpus", () => {
  it("has seeds for every target", () => {
    for (const target of Object.keys(TARGETS)) expect(readdirSync(join(CORPUS, target)).length, target).toBeGreaterThan(0);
  });

  for (const [target, fuzz] of Object.entries(TARGETS)) {
    it(`${target}: every corpus input passes`, () => {
      const files = readdirSync(join(CORPUS, target)).filter((f) => !f.startsWith("."));
      for (const f of files) {
        expect(() => {
          fuzz(new Uint8Array(readFileSync(join(CORPUS, target, f))));
        }, `${target}/${f}`).not.toThrow();
      }
    });
  }
});
