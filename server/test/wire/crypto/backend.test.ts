import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CRYPTO_BACKEND_ENV, cryptoBackend, cryptoBackends, cryptoFallbackReason } from "../../../src/wire/crypto/backend.js";

const forcedNode = process.env[CRYPTO_BACKEND_ENV] === "node";
const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// X25519 public keys whose product with any scalar is the identity (all zeros):
// 0, 1, the two points of order 8, and p-1 (order 2), as little-endian u-coordinates.
const LOW_ORDER_POINTS = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

describe("crypto backend selection", () => {
  it("uses libsodium unless the environment asks for node:crypto (sodium-native is a dependency and must load here)", () => {
    expect(cryptoBackend().name).toBe(forcedNode ? "node:crypto" : "libsodium");
    expect(cryptoFallbackReason()).toBe(forcedNode ? `${CRYPTO_BACKEND_ENV}=node` : null);
    expect(cryptoBackends().map((b) => b.name)).toEqual(["libsodium", "node:crypto"]);
  });
});

describe("libsodium and node:crypto agree byte for byte", () => {
  const [sodium, node] = cryptoBackends();
  if (sodium === undefined || node === undefined) throw new Error("both backends are required");

  it("ChaCha20-Poly1305: same ciphertext and tag; each opens the other's; a flipped bit fails in both", () => {
    fc.assert(
      fc.property(bytes(32), bytes(12), fc.uint8Array({ maxLength: 1100 }), fc.nat(), (key, nonce, plain, flip) => {
        const a = new Uint8Array(plain.length + 16);
        const b = new Uint8Array(plain.length + 16);
        expect(sodium.aead(key).seal(a, 0, plain, nonce)).toBe(plain.length + 16);
        expect(node.aead(key).seal(b, 0, plain, nonce)).toBe(plain.length + 16);
        expect(hexOf(a)).toBe(hexOf(b));
        const outA = new Uint8Array(plain.length);
        const outB = new Uint8Array(plain.length);
        expect(sodium.aead(key).open(outA, b, nonce)).toBe(true);
        expect(node.aead(key).open(outB, a, nonce)).toBe(true);
        expect(hexOf(outA)).toBe(hexOf(plain));
        expect(hexOf(outB)).toBe(hexOf(plain));
        const bad = Uint8Array.from(a);
        const bit = flip % (bad.length * 8);
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        expect(sodium.aead(key).open(new Uint8Array(plain.length), bad, nonce)).toBe(false);
        expect(node.aead(key).open(new Uint8Array(plain.length), bad, nonce)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("seals at an offset without touching the bytes around it", () => {
    const out = new Uint8Array(10 + 5 + 16 + 10).fill(0xaa);
    sodium.aead(new Uint8Array(32)).seal(out, 10, new Uint8Array(5), new Uint8Array(12));
    expect(out.subarray(0, 10).every((x) => x === 0xaa)).toBe(true);
    expect(out.subarray(31).every((x) => x === 0xaa)).toBe(true);
  });

  it("X25519: same public keys and shared secrets", () => {
    fc.assert(
      fc.property(bytes(32), bytes(32), (x, y) => {
        const px = sodium.x25519FromPrivate(x);
        const py = node.x25519FromPrivate(y);
        expect(hexOf(px.publicKey)).toBe(hexOf(node.x25519FromPrivate(x).publicKey));
        const s1 = sodium.x25519(x, py.publicKey);
        const s2 = node.x25519(y, px.publicKey);
        expect(s1).not.toBeNull();
        expect(hexOf(s1 ?? new Uint8Array())).toBe(hexOf(s2 ?? new Uint8Array(1)));
      }),
      { numRuns: 100 },
    );
  });

  it("X25519: both refuse every low-order remote key", () => {
    const priv = sodium.x25519Generate().privateKey;
    for (const point of LOW_ORDER_POINTS) {
      const p = Buffer.from(point, "hex");
      expect(sodium.x25519(priv, p), point).toBeNull();
      const viaNode = node.x25519(priv, p);
      // OpenSSL refuses to derive an all-zero secret; either way no usable secret comes out.
      expect(viaNode === null || viaNode.every((b) => b === 0), point).toBe(true);
    }
  });

  it("Ed25519: same public keys and (deterministic) signatures; each verifies the other's", () => {
    fc.assert(
      fc.property(bytes(32), fc.uint8Array({ maxLength: 200 }), (seed, message) => {
        const a = sodium.ed25519FromSeed(seed);
        const b = node.ed25519FromSeed(seed);
        expect(hexOf(a.publicKey)).toBe(hexOf(b.publicKey));
        const sig = a.sign(message);
        expect(hexOf(sig)).toBe(hexOf(b.sign(message)));
        expect(node.ed25519Verify(a.publicKey, message, sig)).toBe(true);
        expect(sodium.ed25519Verify(b.publicKey, message, sig)).toBe(true);
        const other = Uint8Array.from(message.length > 0 ? message : [0]);
        other[0] = (other[0] as number) ^ 1;
        expect(sodium.ed25519Verify(a.publicKey, other, sig)).toBe(false);
        expect(node.ed25519Verify(a.publicKey, other, sig)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it("Ed25519: both refuse a signature whose S is not reduced (S + L)", () => {
    const signer = sodium.ed25519FromSeed(new Uint8Array(32).fill(7));
    const msg = new Uint8Array([1, 2, 3]);
    const sig = signer.sign(msg);
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L = Buffer.from("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010", "hex");
    const s = Buffer.from(sig.subarray(32));
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = (s[i] as number) + (L[i] as number) + carry;
      s[i] = v & 0xff;
      carry = v >> 8;
    }
    const malleated = Buffer.concat([sig.subarray(0, 32), s]);
    expect(sodium.ed25519Verify(signer.publicKey, msg, malleated)).toBe(false);
    expect(node.ed25519Verify(signer.publicKey, msg, malleated)).toBe(false);
  });
});
