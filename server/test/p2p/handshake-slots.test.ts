import { describe, expect, it } from "vitest";
import { type Admission, type HandshakeSlot, HandshakeSlots, STALLED_HANDSHAKE_MS, handshakeShares, networkOf } from "../../src/p2p/handshake-slots.js";

function slotOf(a: Admission): HandshakeSlot {
  if ("refused" in a) throw new Error(`refused: ${a.refused}`);
  return a.slot;
}

function refusal(a: Admission): string {
  if (!("refused" in a)) throw new Error(`admitted ${a.slot.host}`);
  return a.refused;
}

describe("handshake slot shares", () => {
  it("derive from the cap: 1/16 per address, 1/8 per network, 1/8 reserved", () => {
    expect(handshakeShares(64)).toEqual({ perAddress: 4, perNetwork: 8, reserved: 8 });
    expect(handshakeShares(4)).toEqual({ perAddress: 1, perNetwork: 1, reserved: 0 });
  });

  it("group addresses by /24 and /64", () => {
    expect(networkOf("10.1.2.3")).toBe("10.1.2.0/24");
    expect(networkOf("::ffff:10.1.2.3")).toBe("10.1.2.0/24");
    expect(networkOf("2001:db8:1:2:3::4")).toBe("2001:db8:1:2::/64");
    expect(networkOf("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(networkOf("::1")).toBe("0:0:0:0::/64");
  });
});

describe("HandshakeSlots", () => {
  it("refuse a connection beyond its address's or network's share, and free slots once", () => {
    const s = new HandshakeSlots(64);
    const held = [1, 2, 3, 4].map(() => slotOf(s.admit("10.0.0.1", false)));
    expect(refusal(s.admit("10.0.0.1", false))).toMatch(/4 handshakes from 10\.0\.0\.1 already in progress \(at most 4 per address\)/);
    for (const h of [2, 3, 4, 5]) slotOf(s.admit(`10.0.0.${h}`, false));
    expect(refusal(s.admit("10.0.0.9", false))).toMatch(/8 handshakes from 10\.0\.0\.0\/24 .*at most 8 per network/);
    slotOf(s.admit("10.0.1.9", false)); // the next /24 is another network
    s.release(held[0]!);
    s.release(held[0]!);
    expect(s.inUse).toBe(8);
    slotOf(s.admit("10.0.0.1", false));
    expect(s.inUse).toBe(9);
  });

  it("when full, give a newcomer the oldest slot of the network holding the most", () => {
    const s = new HandshakeSlots(64);
    // 28 networks hold 2 slots each: the 56 ordinary slots (8 are reserved).
    const held: HandshakeSlot[] = [];
    for (let n = 0; n < 28; n++) for (let i = 0; i < 2; i++) held.push(slotOf(s.admit(`10.${n}.0.${i + 1}`, false)));
    const a = s.admit("192.0.2.1", false);
    if ("refused" in a) throw new Error(a.refused);
    expect(a.evicted).toBe(held[0]);
    expect(held[0]!.evictedBecause).toMatch(/10\.0\.0\.0\/24 held 2 handshake slots, the most/);
    expect(s.inUse).toBe(56);
    expect(s.evictions).toBe(1);
    // Releasing the evicted slot again (its handshake ends) frees nothing more.
    s.release(held[0]!);
    expect(s.inUse).toBe(56);
  });

  it("when every network holds one slot, evict only a stalled handshake", () => {
    let now = 0;
    const s = new HandshakeSlots(64, () => now);
    const first = slotOf(s.admit("10.0.0.1", false));
    now = 1;
    for (let n = 1; n < 56; n++) slotOf(s.admit(`10.${n}.0.1`, false));
    now = STALLED_HANDSHAKE_MS - 1;
    expect(refusal(s.admit("192.0.2.1", false))).toMatch(/all 64 handshake slots are in use \(8 kept for persistent peers and known-good addresses\), none stalled/);
    now = STALLED_HANDSHAKE_MS;
    const a = s.admit("192.0.2.1", false);
    if ("refused" in a) throw new Error(a.refused);
    expect(a.evicted).toBe(first);
    expect(first.evictedBecause).toMatch(/had run for 3000 ms \(stalled\)/);
  });

  it("keep reserved slots for preferred hosts, which evict ordinary handshakes and are never evicted", () => {
    let now = 0;
    const s = new HandshakeSlots(64, () => now);
    const ordinary: HandshakeSlot[] = [];
    for (let n = 0; n < 56; n++) ordinary.push(slotOf(s.admit(`10.${n}.0.1`, false)));
    // A preferred host takes the reserved slots, beyond its address's share too.
    const preferred = [1, 2, 3, 4, 5, 6, 7, 8].map(() => slotOf(s.admit("198.51.100.7", true)));
    expect(s.inUse).toBe(64);
    // All 64 in use: the next preferred one evicts the oldest ordinary handshake, however young.
    const a = s.admit("198.51.100.8", true);
    if ("refused" in a) throw new Error(a.refused);
    expect(a.evicted).toBe(ordinary[0]);
    // Ordinary newcomers never evict preferred handshakes, stalled or not.
    for (const o of ordinary.slice(1)) s.release(o);
    for (let n = 0; n < 55; n++) slotOf(s.admit(`10.${n}.1.1`, false));
    now = 10 * STALLED_HANDSHAKE_MS;
    const b = s.admit("192.0.2.1", false);
    if ("refused" in b) throw new Error(b.refused);
    expect(b.evicted?.preferred).toBe(false);
    expect(preferred.every((p) => p.evictedBecause === null)).toBe(true);
  });
});
