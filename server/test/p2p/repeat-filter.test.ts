import { describe, expect, it } from "vitest";
import { RepeatFilter } from "../../src/p2p/repeat-filter.js";

describe("RepeatFilter", () => {
  it("announces a key once per window, and counts the repeats held back for the next announcement", () => {
    let now = 0;
    const f = new RepeatFilter(1000, 10, () => now);
    expect(f.admit("a")).toBe(0);
    expect(f.admit("b")).toBe(0);
    now = 999;
    expect(f.admit("a")).toBeNull();
    expect(f.admit("a")).toBeNull();
    now = 1000;
    expect(f.admit("a")).toBe(2);
    expect(f.admit("b")).toBe(0);
    expect(f.admit("a")).toBeNull();
  });

  it("remembers at most maxKeys keys, forgetting the least recently announced", () => {
    const f = new RepeatFilter(60_000, 2, () => 0);
    f.admit("a");
    f.admit("b");
    f.admit("c");
    expect(f.size).toBe(2);
    expect(f.admit("b")).toBeNull();
    expect(f.admit("a")).toBe(0); // forgotten: announced again
  });
});
