import { describe, expect, it } from "vitest";
import { STROBE_R, Strobe128 } from "../../../src/wire/merlin/strobe.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function prf(s: Strobe128, n: number): string {
  const out = new Uint8Array(n);
  s.prf(out, false);
  return toHex(out);
}

describe("Strobe128", () => {
  it("reproduces the STROBE trace of the Merlin simple vector", () => {
    // The trace in testvectors/merlin.md, operation by operation.
    const s = new Strobe128(utf8("Merlin v1.0"));
    s.metaAd(utf8("dom-sep"), false);
    s.metaAd(new Uint8Array([13, 0, 0, 0]), true);
    s.ad(utf8("test protocol"), false);
    s.metaAd(utf8("some label"), false);
    s.metaAd(new Uint8Array([9, 0, 0, 0]), true);
    s.ad(utf8("some data"), false);
    s.metaAd(utf8("challenge"), false);
    s.metaAd(new Uint8Array([32, 0, 0, 0]), true);
    expect(prf(s, 32)).toBe("d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615");
  });

  it("a continued operation equals one operation over the concatenated input", () => {
    const split = new Strobe128(utf8("proto"));
    split.metaAd(utf8("label"), false);
    split.metaAd(new Uint8Array([1, 2, 3, 4]), true);
    const whole = new Strobe128(utf8("proto"));
    whole.metaAd(new Uint8Array([...utf8("label"), 1, 2, 3, 4]), false);
    expect(prf(split, 32)).toBe(prf(whole, 32));
  });

  it("a new operation is not the same as a continuation", () => {
    const cont = new Strobe128(utf8("proto"));
    cont.metaAd(utf8("label"), false);
    cont.metaAd(new Uint8Array([1, 2, 3, 4]), true);
    const fresh = new Strobe128(utf8("proto"));
    fresh.metaAd(utf8("label"), false);
    fresh.metaAd(new Uint8Array([1, 2, 3, 4]), false);
    expect(prf(cont, 32)).not.toBe(prf(fresh, 32));
  });

  it("a continued PRF equals one longer PRF", () => {
    const a = new Strobe128(utf8("p"));
    const b = new Strobe128(utf8("p"));
    const first = new Uint8Array(STROBE_R - 3);
    const second = new Uint8Array(200);
    a.prf(first, false);
    a.prf(second, true);
    const whole = new Uint8Array(first.length + second.length);
    b.prf(whole, false);
    expect(toHex(whole)).toBe(toHex(first) + toHex(second));
  });

  it("refuses to continue an operation with different flags", () => {
    const s = new Strobe128(utf8("p"));
    s.metaAd(utf8("x"), false);
    expect(() => s.ad(utf8("y"), true)).toThrow(/cannot continue/);
  });

  it("absorbs inputs of every length around the rate consistently with byte-wise continuation", () => {
    for (const n of [0, 1, STROBE_R - 3, STROBE_R - 2, STROBE_R - 1, STROBE_R, STROBE_R + 1, 3 * STROBE_R + 5]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
      const whole = new Strobe128(utf8("p"));
      whole.ad(data, false);
      const bytewise = new Strobe128(utf8("p"));
      bytewise.ad(data.subarray(0, Math.min(1, n)), false);
      for (let i = 1; i < n; i++) bytewise.ad(data.subarray(i, i + 1), true);
      expect(prf(bytewise, 16), `length ${n}`).toBe(prf(whole, 16));
    }
  });
});
