/**
 * Loads the protocol test vectors. server/test/vectors/ is a copy of the
 * project's shared vectors (shared/protocol/testvectors), kept in the
 * repository so that a clone tests itself; a test fails if they drift apart
 * while the shared copy is present.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const VECTORS_DIR = fileURLToPath(new URL("../vectors/", import.meta.url));
/** The shared copy, beside the repository (present for developers and CI). */
export const SHARED_VECTORS_DIR = fileURLToPath(new URL("../../../../shared/protocol/testvectors/", import.meta.url));

export function readVectorFile(name: string): string {
  return readFileSync(join(VECTORS_DIR, name), "utf8");
}

/** Parses a JSON vector file; `T` is the caller's view of its shape (unchecked, test data only). */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed view of a fixture
export function readVectorJson<T>(name: string): T {
  return JSON.parse(readVectorFile(name)) as T;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "hex"));
}
