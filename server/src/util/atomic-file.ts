/**
 * Atomic file replacement: write a sibling temp file, fsync it, rename it over
 * the target, fsync the directory. A crash at any point leaves either the old
 * file or the new one, never a torn mix.
 */
import { randomBytes } from "node:crypto";
import { open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file, e.g. 0o600 for keys. @default {@link DEFAULT_FILE_MODE} */
  readonly mode?: number;
}

/** The temp file name writeFileAtomic uses for `path`: `.NAME.<12 hex digits>.tmp` beside it. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(TEMP_SUFFIX_BYTES).toString("hex")}.tmp`);
}

const TEMP_SUFFIX_BYTES = 6;
/** Mode of a file written without one: readable by all, writable by its owner. */
export const DEFAULT_FILE_MODE = 0o644;

/**
 * Removes the temp files writeFileAtomic left beside `path` when its process
 * was killed mid-write (a node key's is a whole private key). Call it before
 * the first read of `path`, by the one process that owns the file. Returns
 * the names removed.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const pattern = new RegExp(`^[0-9a-f]{${TEMP_SUFFIX_BYTES * 2}}\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => n.startsWith(prefix) && pattern.test(n.slice(prefix.length)));
  await Promise.all(stale.map((n) => rm(join(dir, n), { force: true })));
  return stale;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = tempName(path);
  const handle = await open(tmp, "wx", options.mode ?? DEFAULT_FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
