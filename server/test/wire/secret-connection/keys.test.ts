import { describe, expect, it } from "vitest";
import { LowOrderPointError } from "../../../src/wire/secret-connection/errors.js";
import {
  compareBytes,
  computeChallenge,
  deriveSecrets,
  hkdfSha256,
  generateX25519KeyPair,
  sortEphemeralKeys,
  x25519KeyPairFromPrivateKey,
  x25519SharedSecret,
} from "../../../src/wire/secret-connection/keys.js";
import { hex, loadGoldenKdf, loadHandshakeVector, toHex } from "./support.js";

const vector = loadHandshakeVector();

describe("deriveSecrets", () => {
  const golden = loadGoldenKdf();

  it("the golden file has its 32 lines", () => {
    expect(golden).toHaveLength(32);
    // Both key assignments are covered.
    expect(golden.some((l) => l.locIsLeast)).toBe(true);
    expect(golden.some((l) => !l.locIsLeast)).toBe(true);
  });

  it.each(golden.map((l, i) => [i + 1, l] as const))("matches golden line %i", (_n, line) => {
    const { recvKey, sendKey } = deriveSecrets(hex(line.dhSecret), line.locIsLeast);
    expect(toHex(recvKey)).toBe(line.recvKey);
    expect(toHex(sendKey)).toBe(line.sendKey);
  });

  it("gives each side the other's keys", () => {
    const dh = hex(vector.dh_secret);
    const lo = deriveSecrets(dh, true);
    const hi = deriveSecrets(dh, false);
    expect(toHex(lo.sendKey)).toBe(toHex(hi.recvKey));
    expect(toHex(lo.recvKey)).toBe(toHex(hi.sendKey));
    expect(toHex(lo.recvKey) + toHex(lo.sendKey)).toBe(vector.hkdf_okm_96.slice(0, 128));
  });

  it("refuses a DH secret of the wrong size", () => {
    expect(() => deriveSecrets(new Uint8Array(31), true)).toThrow(RangeError);
  });
});

describe("hkdfSha256", () => {
  it("matches RFC 5869 test case 3 (empty salt and info, 42 bytes)", () => {
    expect(toHex(hkdfSha256(new Uint8Array(22).fill(0x0b), new Uint8Array(0), 42))).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });

  it("gives the vector's 96 bytes, and any length is a prefix of a longer one", () => {
    const info = new TextEncoder().encode("TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN");
    const okm = toHex(hkdfSha256(hex(vector.dh_secret), info, 96));
    expect(okm).toBe(vector.hkdf_okm_96);
    for (const n of [0, 1, 31, 32, 33, 64, 95]) expect(toHex(hkdfSha256(hex(vector.dh_secret), info, n))).toBe(okm.slice(0, 2 * n));
  });

  it("refuses more than 255 blocks", () => {
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe("handshake vector key agreement", () => {
  it.each(["A", "B"] as const)("side %s: public key, DH secret, order and session keys", (name) => {
    const side = vector[name];
    const other = vector[name === "A" ? "B" : "A"];
    const pair = x25519KeyPairFromPrivateKey(hex(side.eph_priv));
    expect(toHex(pair.publicKey)).toBe(side.eph_pub);
    const dh = x25519SharedSecret(pair.privateKey, hex(other.eph_pub));
    expect(toHex(dh)).toBe(vector.dh_secret);
    const sorted = sortEphemeralKeys(pair.publicKey, hex(other.eph_pub));
    expect(sorted.localIsLeast).toBe(side.loc_is_least);
    expect(toHex(sorted.lo)).toBe(vector.lo_eph_pub);
    expect(toHex(sorted.hi)).toBe(vector.hi_eph_pub);
    const keys = deriveSecrets(dh, sorted.localIsLeast);
    expect(toHex(keys.recvKey)).toBe(side.recv_key);
    expect(toHex(keys.sendKey)).toBe(side.send_key);
    expect(toHex(computeChallenge(sorted.lo, sorted.hi, dh))).toBe(vector.challenge);
  });
});

describe("X25519", () => {
  it("fresh key pairs agree on a secret", () => {
    const a = generateX25519KeyPair();
    const b = generateX25519KeyPair();
    expect(a.publicKey).toHaveLength(32);
    expect(a.privateKey).toHaveLength(32);
    expect(toHex(x25519KeyPairFromPrivateKey(a.privateKey).publicKey)).toBe(toHex(a.publicKey));
    expect(toHex(x25519SharedSecret(a.privateKey, b.publicKey))).toBe(toHex(x25519SharedSecret(b.privateKey, a.publicKey)));
  });

  // Low-order points and their non-canonical encodings (u + p): all give an all-zero secret.
  const lowOrder: [string, string][] = [
    ["u = 0", "00".repeat(32)],
    ["u = 1", "01" + "00".repeat(31)],
    ["order-8 point", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"],
    ["other order-8 point", "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"],
    ["u = p - 1 (order 2)", "ec" + "ff".repeat(30) + "7f"],
    ["u = p (non-canonical 0)", "ed" + "ff".repeat(30) + "7f"],
    ["u = p + 1 (non-canonical 1)", "ee" + "ff".repeat(30) + "7f"],
  ];
  it.each(lowOrder)("rejects the low-order point %s", (_name, point) => {
    const local = generateX25519KeyPair();
    expect(() => x25519SharedSecret(local.privateKey, hex(point))).toThrow(LowOrderPointError);
  });

  it("rejects keys of the wrong size", () => {
    const local = generateX25519KeyPair();
    expect(() => x25519SharedSecret(local.privateKey, new Uint8Array(31))).toThrow(RangeError);
    expect(() => x25519SharedSecret(new Uint8Array(33), local.publicKey)).toThrow(RangeError);
  });
});

describe("sortEphemeralKeys", () => {
  it("orders by unsigned bytes; on equality the remote key counts as lower", () => {
    const small = hex("7f" + "ff".repeat(31));
    const large = hex("80" + "00".repeat(31));
    expect(sortEphemeralKeys(small, large)).toEqual({ lo: small, hi: large, localIsLeast: true });
    expect(sortEphemeralKeys(large, small)).toEqual({ lo: small, hi: large, localIsLeast: false });
    const same = hex("01".repeat(32));
    const copy = Uint8Array.from(same);
    const sorted = sortEphemeralKeys(same, copy);
    expect(sorted.lo).toBe(copy);
    expect(sorted.localIsLeast).toBe(false);
  });

  it("compareBytes is Go's bytes.Compare", () => {
    expect(compareBytes(hex("00ff"), hex("0100"))).toBe(-1);
    expect(compareBytes(hex("ff"), hex("00"))).toBe(1);
    expect(compareBytes(hex("0102"), hex("0102"))).toBe(0);
    expect(compareBytes(hex("01"), hex("0100"))).toBe(-1);
    expect(compareBytes(hex("0100"), hex("01"))).toBe(1);
  });
});
