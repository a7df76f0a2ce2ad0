/**
 * Files the node writes (node key, address book, config) are replaced
 * atomically: a process killed in the middle of a write leaves the old file
 * intact, or the new one, never a mix and never a truncated file. The writer
 * runs in a child process that is killed with SIGKILL at varying points; a
 * plain write, killed the same way, is the control that shows the test can
 * see a torn file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateNodeKey, loadNodeKey, saveNodeKey } from "../../src/p2p/node-key.js";
import { AddressBook } from "../../src/p2p/pex/address-book.js";
import { removeStaleTempFiles, writeFileAtomic } from "../../src/util/atomic-file.js";
import { silentLogger } from "../support/nodes.js";

const CHILD = fileURLToPath(new URL("./atomic-write-child.ts", import.meta.url));
const SIZE = 24 * 1024 * 1024;
const OLD = 0x11;
const NEW = 0x22;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts the writer and kills it `delayMs` after it has started writing; true if it finished first. */
async function writeAndKill(path: string, mode: "atomic" | "plain", delayMs: number): Promise<boolean> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CHILD, path, mode, String(SIZE), String(NEW)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("start")) resolve();
    });
    child.on("exit", () => reject(new Error(`writer exited before starting: ${out}`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill("SIGKILL");
  await exited;
  return out.includes("done");
}

/** "old", "new" or "torn", from the file's whole content. */
async function state(path: string): Promise<"old" | "new" | "torn"> {
  const b = await readFile(path);
  if (b.length === SIZE && b.every((x) => x === OLD)) return "old";
  if (b.length === SIZE && b.every((x) => x === NEW)) return "new";
  return "torn";
}

describe("writeFileAtomic under SIGKILL", () => {
  it("leaves the old file or the new one, never a torn file; a plain write killed the same way tears it", async () => {
    const path = join(dir, "state.json");
    const seen = { atomic: new Set<string>(), plain: new Set<string>() };
    for (const delayMs of [0, 1, 3, 8, 20]) {
      for (const mode of ["atomic", "plain"] as const) {
        await writeFile(path, Buffer.alloc(SIZE, OLD));
        await writeAndKill(path, mode, delayMs);
        seen[mode].add(await state(path));
      }
    }
    expect([...seen.atomic].sort()).not.toContain("torn");
    // The control: a plain write is torn by at least one of the same kills, so the kills land mid-write.
    expect(seen.plain).toContain("torn");
    // Temporary files a killed atomic write leaves behind never replace the target; a completed one leaves none.
    await writeFileAtomic(path, Buffer.from("final"));
    expect((await readFile(path)).toString()).toBe("final");
    expect((await readdir(dir)).filter((f) => !f.endsWith(".tmp"))).toEqual(["state.json"]);
  }, 120_000);
});

describe("stale temp files", () => {
  it("removeStaleTempFiles removes only writeFileAtomic's temp files of that file", async () => {
    const target = join(dir, "node_key.json");
    const ours = [".node_key.json.0123456789ab.tmp", ".node_key.json.ffffffffffff.tmp"];
    const others = [".node_key.json.tmp", ".node_key.json.0123.tmp", ".addrbook.json.0123456789ab.tmp", "node_key.json", ".node_key.json.0123456789ab.tmp.keep"];
    for (const n of [...ours, ...others]) await writeFile(join(dir, n), "x");
    expect((await removeStaleTempFiles(target)).sort()).toEqual(ours);
    expect((await readdir(dir)).sort()).toEqual([...others].sort());
  });

  it("loading the node key and the address book removes what a killed writer left beside them", async () => {
    const keyPath = join(dir, "config", "node_key.json");
    await saveNodeKey(keyPath, generateNodeKey());
    await writeFile(join(dir, "config", ".node_key.json.a1b2c3d4e5f6.tmp"), "a whole private key");
    await loadNodeKey(keyPath);
    expect(await readdir(join(dir, "config"))).toEqual(["node_key.json"]);

    const bookPath = join(dir, "config", "addrbook.json");
    await writeFile(join(dir, "config", ".addrbook.json.a1b2c3d4e5f6.tmp"), "{");
    const book = new AddressBook({ filePath: bookPath, strict: false, logger: silentLogger });
    await book.start();
    await book.stop();
    expect((await readdir(join(dir, "config"))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
