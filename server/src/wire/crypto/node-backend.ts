/**
 * The wire's primitives on Node's own crypto (OpenSSL): the fallback backend.
 *
 * Node wants `KeyObject`s where the protocol has raw 32-byte keys. Raw keys
 * are wrapped as JWK where possible: with OpenSSL 3 (Node 20) a PKCS#8
 * import costs up to a millisecond and a DER export 0.1–0.3 ms, a JWK
 * import or export about a microsecond (BENCHMARKS.md, round 2).
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, createSecretKey, diffieHellman, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import type { Aead, CryptoBackend, Ed25519Signer, X25519KeyPair } from "./primitives.js";

const AEAD = "chacha20-poly1305";
const TAG_BYTES = 16;

// PKCS#8 wrappings of raw 32-byte private keys: SEQUENCE { version 0, AlgorithmIdentifier { OID }, OCTET STRING { OCTET STRING key } }.
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex"); // 1.3.101.110
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex"); // 1.3.101.112

class NodeAead implements Aead {
  private readonly key: KeyObject;

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  seal(out: Uint8Array, offset: number, plaintext: Uint8Array, nonce: Uint8Array): number {
    const cipher = createCipheriv(AEAD, this.key, nonce, { authTagLength: TAG_BYTES });
    let pos = offset;
    for (const part of [cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]) {
      out.set(part, pos);
      pos += part.length;
    }
    return pos - offset;
  }

  open(out: Uint8Array, sealed: Uint8Array, nonce: Uint8Array): boolean {
    const bodyBytes = sealed.length - TAG_BYTES;
    const decipher = createDecipheriv(AEAD, this.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(bodyBytes));
    const plain = decipher.update(sealed.subarray(0, bodyBytes));
    try {
      decipher.final();
    } catch {
      return false;
    }
    out.set(plain, 0);
    return true;
  }
}

function raw(value: string | undefined, what: string): Uint8Array {
  if (typeof value !== "string") throw new Error(`node:crypto did not export the ${what}`);
  return new Uint8Array(Buffer.from(value, "base64url"));
}

/**
 * The OpenSSL key object behind each X25519 private key handed out here, so
 * that the key agreement does not parse it again. The returned key bytes are
 * treated as immutable: a pair whose bytes were changed would still use the
 * key object of the original bytes.
 */
const x25519KeyObjects = new WeakMap<Uint8Array, KeyObject>();

function x25519PrivateKeyObject(privateKey: Uint8Array): KeyObject {
  return x25519KeyObjects.get(privateKey) ?? createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: "der", type: "pkcs8" });
}

class NodeEd25519Signer implements Ed25519Signer {
  readonly publicKey: Uint8Array;
  private readonly keyObject: KeyObject;

  constructor(seed: Uint8Array) {
    this.keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
    this.publicKey = raw(createPublicKey(this.keyObject).export({ format: "jwk" }).x, "ed25519 public key");
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.keyObject));
  }
}

/** The node:crypto backend. Stateless apart from the key-object cache above. */
export function createNodeBackend(): CryptoBackend {
  return {
    name: "node:crypto",
    aead: (key) => new NodeAead(key),
    x25519Generate(): X25519KeyPair {
      const { privateKey: keyObject } = generateKeyPairSync("x25519");
      const jwk = keyObject.export({ format: "jwk" });
      const pair = { publicKey: raw(jwk.x, "X25519 public key"), privateKey: raw(jwk.d, "X25519 private key") };
      x25519KeyObjects.set(pair.privateKey, keyObject);
      return pair;
    },
    x25519FromPrivate(privateKey): X25519KeyPair {
      const keyObject = x25519PrivateKeyObject(privateKey);
      const pair = { publicKey: raw(keyObject.export({ format: "jwk" }).x, "X25519 public key"), privateKey: Uint8Array.from(privateKey) };
      x25519KeyObjects.set(pair.privateKey, keyObject);
      return pair;
    },
    x25519(privateKey, publicKey): Uint8Array | null {
      try {
        return new Uint8Array(
          diffieHellman({
            privateKey: x25519PrivateKeyObject(privateKey),
            publicKey: createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" }),
          }),
        );
      } catch {
        // OpenSSL refuses to derive an all-zero secret (a low-order remote key).
        return null;
      }
    },
    ed25519FromSeed: (seed) => new NodeEd25519Signer(seed),
    ed25519GenerateSeed: () => new Uint8Array(randomBytes(32)),
    ed25519Verify(publicKey, message, signature): boolean {
      try {
        const keyObject = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
        return verify(null, message, keyObject, signature);
      } catch {
        return false;
      }
    },
  };
}
