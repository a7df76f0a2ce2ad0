import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ed25519KeyFromSeed,
  generateEd25519Key,
  nodeIdFromPublicKey,
  verifyEd25519,
} from "../../../src/wire/crypto/ed25519.js";

interface Side {
  ed25519_seed: string;
  ed25519_pub: string;
  node_id: string;
  signature: string;
}
const vector = JSON.parse(
  readFileSync(new URL("../../vectors/secret_connection_handshake_vector.json", import.meta.url), "utf8"),
) as { A: Side; B: Side; challenge: string };

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// RFC 8032 §7.1, TEST 2 (one-byte message).
const RFC8032_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const RFC8032_PUB = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const RFC8032_SIG =
  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

describe("ed25519 node keys", () => {
  it("derives the RFC 8032 public key and signature from a seed", () => {
    const key = ed25519KeyFromSeed(hex(RFC8032_SEED));
    expect(toHex(key.publicKey)).toBe(RFC8032_PUB);
    expect(toHex(key.seed)).toBe(RFC8032_SEED);
    expect(toHex(key.sign(hex("72")))).toBe(RFC8032_SIG);
    expect(verifyEd25519(key.publicKey, hex("72"), hex(RFC8032_SIG))).toBe(true);
  });

  it.each(["A", "B"] as const)("reproduces public key, node ID and challenge signature of handshake side %s", (side) => {
    const v = vector[side];
    const key = ed25519KeyFromSeed(hex(v.ed25519_seed));
    expect(toHex(key.publicKey)).toBe(v.ed25519_pub);
    expect(nodeIdFromPublicKey(key.publicKey)).toBe(v.node_id);
    expect(toHex(key.sign(hex(vector.challenge)))).toBe(v.signature);
  });

  it("generates distinct keys that sign and verify", () => {
    const a = generateEd25519Key();
    const b = generateEd25519Key();
    expect(a.seed).toHaveLength(32);
    expect(a.publicKey).toHaveLength(32);
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
    const msg = new TextEncoder().encode("switchboard");
    const sig = a.sign(msg);
    expect(sig).toHaveLength(64);
    expect(verifyEd25519(a.publicKey, msg, sig)).toBe(true);
    expect(verifyEd25519(b.publicKey, msg, sig)).toBe(false);
    // The seed alone rebuilds the same key.
    expect(toHex(ed25519KeyFromSeed(a.seed).publicKey)).toBe(toHex(a.publicKey));
  });

  it("copies the seed it is given", () => {
    const seed = hex(RFC8032_SEED);
    const key = ed25519KeyFromSeed(seed);
    seed.fill(0);
    expect(toHex(key.seed)).toBe(RFC8032_SEED);
  });

  it("rejects seeds of the wrong size", () => {
    expect(() => ed25519KeyFromSeed(new Uint8Array(31))).toThrow(RangeError);
    expect(() => ed25519KeyFromSeed(new Uint8Array(64))).toThrow(RangeError);
  });

  describe("verifyEd25519 never throws on bad input", () => {
    const pub = hex(RFC8032_PUB);
    const msg = hex("72");
    const sig = hex(RFC8032_SIG);
    const flipped = Uint8Array.from(sig);
    flipped[10] = (flipped[10] as number) ^ 0x01;
    const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
      ["flipped signature bit", pub, msg, flipped],
      ["other message", pub, hex("73"), sig],
      ["short key", pub.subarray(0, 31), msg, sig],
      ["long key", new Uint8Array(33), msg, sig],
      ["empty key", new Uint8Array(0), msg, sig],
      ["short signature", pub, msg, sig.subarray(0, 63)],
      ["long signature", pub, msg, new Uint8Array(65)],
      ["key not on the curve", new Uint8Array(32).fill(0xff), msg, sig],
      ["all-zero key and signature", new Uint8Array(32), msg, new Uint8Array(64)],
    ];
    it.each(cases)("%s", (_name, p, m, s) => {
      expect(verifyEd25519(p, m, s)).toBe(false);
    });
  });

  it("node ID is the lower-case hex of the first 20 bytes of SHA-256", () => {
    const id = nodeIdFromPublicKey(hex(RFC8032_PUB));
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(() => nodeIdFromPublicKey(new Uint8Array(33))).toThrow(RangeError);
  });
});
