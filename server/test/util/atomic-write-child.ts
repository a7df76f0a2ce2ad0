/**
 * Child process of atomic-file.test.ts: replaces a file with `size` bytes of
 * `fill`, atomically or (the control) with a plain write, then reports done.
 * The test kills it with SIGKILL somewhere in the middle.
 */
import { writeFile } from "node:fs/promises";
import { writeFileAtomic } from "../../src/util/atomic-file.js";

const [path, mode, sizeText, fillText] = process.argv.slice(2);
if (path === undefined || sizeText === undefined || fillText === undefined) throw new Error("usage: PATH atomic|plain SIZE FILL");
const data = Buffer.alloc(Number(sizeText), Number(fillText));
process.stdout.write("start\n");
if (mode === "atomic") await writeFileAtomic(path, data);
else await writeFile(path, data);
process.stdout.write("done\n");
