/**
 * server/package.json names files of the build (`main`, `types`, `bin`); each
 * must exist once `npm run build` has run, so each must come from a source
 * file under server/src that the build compiles (tsconfig.build.json: src → dist/src).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(SERVER, "package.json"), "utf8")) as {
  main?: string;
  types?: string;
  bin?: Record<string, string>;
};

/** The source file the build compiles into `built` (dist/src/x.js or .d.ts → src/x.ts). */
function sourceOf(built: string): string {
  const m = /^dist\/(src\/.+?)(\.d\.ts|\.js)$/.exec(built);
  if (m === null) throw new Error(`${built} is not a file of the build (dist/src/...js or .d.ts)`);
  return join(SERVER, `${m[1]}.ts`);
}

describe("server/package.json entry points", () => {
  it("main and types are built from a source file that exists", () => {
    expect(pkg.main).toBeDefined();
    expect(existsSync(sourceOf(pkg.main ?? "")), `main: ${pkg.main}`).toBe(true);
    expect(pkg.types).toBeDefined();
    expect(existsSync(sourceOf(pkg.types ?? "")), `types: ${pkg.types}`).toBe(true);
  });

  it("every bin script exists and imports a file the build produces", () => {
    for (const [name, script] of Object.entries(pkg.bin ?? {})) {
      const path = join(SERVER, script);
      expect(existsSync(path), `bin ${name}: ${script}`).toBe(true);
      for (const [, target] of readFileSync(path, "utf8").matchAll(/import\s+"\.\.\/(dist\/[^"]+)"/g)) {
        expect(existsSync(sourceOf(target ?? "")), `bin ${name} imports ${target}`).toBe(true);
      }
    }
  });
});
