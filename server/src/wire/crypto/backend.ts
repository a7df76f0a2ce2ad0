/**
 * The cryptographic primitives of the wire protocol behind one interface,
 * with two implementations:
 *
 * - `libsodium` (through the `sodium-native` addon, prebuilt for the common
 *   platforms): the default. Node's own crypto has every primitive we need,
 *   but its API creates an OpenSSL object per operation: a cipher object per
 *   1 KiB SecretConnection frame, a key object per signature check. That set-up
 *   cost 60 % of a busy connection's CPU time and made our wire throughput
 *   half of CometBFT's (BENCHMARKS.md, rounds 5 and 7). libsodium takes raw
 *   keys and writes into caller-provided buffers.
 * - `node:crypto` (OpenSSL): the fallback when the addon cannot be loaded
 *   (a platform without a prebuilt binary), or when the environment asks for
 *   it with `SWITCHBOARD_CRYPTO_BACKEND=node`. Byte for byte the same output.
 *
 * Both implementations pass the same vectors; tests run each of them
 * explicitly ({@link cryptoBackends}).
 */
import { createNodeBackend } from "./node-backend.js";
import type { CryptoBackend } from "./primitives.js";
import { loadSodiumBackend } from "./sodium-backend.js";

export type { Aead, CryptoBackend, Ed25519Signer, X25519KeyPair } from "./primitives.js";

/** The environment variable that selects the backend: `node` forces `node:crypto`. */
export const CRYPTO_BACKEND_ENV = "SWITCHBOARD_CRYPTO_BACKEND";

interface Selection {
  readonly backend: CryptoBackend;
  /** Why libsodium is not in use, when it is not. */
  readonly fallbackReason: string | null;
}

let selection: Selection | null = null;

function select(): Selection {
  const wanted = process.env[CRYPTO_BACKEND_ENV];
  if (wanted === "node") return { backend: createNodeBackend(), fallbackReason: `${CRYPTO_BACKEND_ENV}=node` };
  if (wanted !== undefined && wanted !== "" && wanted !== "libsodium") {
    throw new Error(`${CRYPTO_BACKEND_ENV}=${wanted}: expected "libsodium" or "node"`);
  }
  const loaded = loadSodiumBackend();
  if (loaded.backend !== null) return { backend: loaded.backend, fallbackReason: null };
  return { backend: createNodeBackend(), fallbackReason: `sodium-native did not load: ${loaded.error}` };
}

/** The process's backend: libsodium when it loads, else node:crypto. Chosen once. */
export function cryptoBackend(): CryptoBackend {
  selection ??= select();
  return selection.backend;
}

/** Why the process is not using libsodium (for a startup log line), or null when it is. */
export function cryptoFallbackReason(): string | null {
  selection ??= select();
  return selection.fallbackReason;
}

/** Every backend that works on this machine (tests run each). */
export function cryptoBackends(): CryptoBackend[] {
  const loaded = loadSodiumBackend();
  return loaded.backend === null ? [createNodeBackend()] : [loaded.backend, createNodeBackend()];
}
