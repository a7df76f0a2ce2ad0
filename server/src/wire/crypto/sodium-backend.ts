/**
 * The wire's primitives on libsodium, through the `sodium-native` addon
 * (prebuilt binaries ship inside the npm package; nothing is compiled at
 * install). libsodium works on raw keys and caller-provided buffers, so a
 * frame costs one native call and no allocation.
 */
import { createRequire } from "node:module";
import type { Aead, CryptoBackend, Ed25519Signer, X25519KeyPair } from "./primitives.js";

/** The part of sodium-native's API we use (it ships no type declarations). */
interface SodiumNative {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  /** Throws when the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  /** Throws when the result would be all zeros (a low-order point). */
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  randombytes_buf(buf: Uint8Array): void;
}

const TAG_BYTES = 16;
const KEY_BYTES = 32;

class SodiumAead implements Aead {
  // libsodium wants a Buffer-like view; a private copy so the caller may reuse its array.
  private readonly key: Uint8Array;

  constructor(
    private readonly na: SodiumNative,
    key: Uint8Array,
  ) {
    this.key = Uint8Array.from(key);
  }

  seal(out: Uint8Array, offset: number, plaintext: Uint8Array, nonce: Uint8Array): number {
    const target = out.subarray(offset, offset + plaintext.length + TAG_BYTES);
    return this.na.crypto_aead_chacha20poly1305_ietf_encrypt(target, plaintext, null, null, nonce, this.key);
  }

  open(out: Uint8Array, sealed: Uint8Array, nonce: Uint8Array): boolean {
    try {
      this.na.crypto_aead_chacha20poly1305_ietf_decrypt(out.subarray(0, sealed.length - TAG_BYTES), null, sealed, null, nonce, this.key);
      return true;
    } catch {
      return false;
    }
  }
}

class SodiumEd25519Signer implements Ed25519Signer {
  readonly publicKey = new Uint8Array(KEY_BYTES);
  /** libsodium's 64-byte secret key: the seed, then the public key. */
  private readonly secretKey = new Uint8Array(64);

  constructor(
    private readonly na: SodiumNative,
    seed: Uint8Array,
  ) {
    na.crypto_sign_seed_keypair(this.publicKey, this.secretKey, seed);
  }

  sign(message: Uint8Array): Uint8Array {
    const signature = new Uint8Array(64);
    this.na.crypto_sign_detached(signature, message, this.secretKey);
    return signature;
  }
}

function createSodiumBackend(na: SodiumNative): CryptoBackend {
  const random32 = (): Uint8Array => {
    const bytes = new Uint8Array(KEY_BYTES);
    na.randombytes_buf(bytes);
    return bytes;
  };
  const fromPrivate = (privateKey: Uint8Array): X25519KeyPair => {
    const publicKey = new Uint8Array(KEY_BYTES);
    na.crypto_scalarmult_base(publicKey, privateKey);
    return { publicKey, privateKey: Uint8Array.from(privateKey) };
  };
  return {
    name: "libsodium",
    aead: (key) => new SodiumAead(na, key),
    x25519Generate: () => fromPrivate(random32()),
    x25519FromPrivate: fromPrivate,
    x25519(privateKey, publicKey): Uint8Array | null {
      const secret = new Uint8Array(KEY_BYTES);
      try {
        na.crypto_scalarmult(secret, privateKey, publicKey);
      } catch {
        return null;
      }
      return secret;
    },
    ed25519FromSeed: (seed) => new SodiumEd25519Signer(na, seed),
    ed25519GenerateSeed: random32,
    ed25519Verify(publicKey, message, signature): boolean {
      try {
        return na.crypto_sign_verify_detached(signature, message, publicKey);
      } catch {
        return false;
      }
    },
  };
}

type Loaded = { readonly backend: CryptoBackend; readonly error: null } | { readonly backend: null; readonly error: string };
let loaded: Loaded | null = null;

/** Loads the addon once; reports why not when it cannot be loaded. */
export function loadSodiumBackend(): Loaded {
  if (loaded !== null) return loaded;
  try {
    const na = createRequire(import.meta.url)("sodium-native") as SodiumNative;
    loaded = { backend: createSodiumBackend(na), error: null };
  } catch (err) {
    loaded = { backend: null, error: err instanceof Error ? err.message : String(err) };
  }
  return loaded;
}
