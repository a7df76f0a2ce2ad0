/** Loads the shared protocol test vectors (../shared/protocol/testvectors). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const VECTORS_DIR = fileURLToPath(new URL("../../../../shared/protocol/testvectors/", import.meta.url));

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
