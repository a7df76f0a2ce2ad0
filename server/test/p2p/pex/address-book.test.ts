import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AddressBook } from "../../../src/p2p/pex/address-book.js";
import {
  DEFAULT_BAN_MS,
  MAX_NEW_BUCKETS_PER_ADDRESS,
  NEW_BUCKET_COUNT,
  NEW_BUCKET_SIZE,
  OLD_BUCKET_COUNT,
  OLD_BUCKET_SIZE,
} from "../../../src/p2p/pex/defaults.js";
import { PexConfigError } from "../../../src/p2p/pex/errors.js";
import type { NetAddress } from "../../../src/p2p/net-address.js";
import { FakeClock, makeBook, nodeId, publicAddr, seededRandom } from "./helpers.js";

const SRC: NetAddress = { id: nodeId("source"), host: "93.184.216.34", port: 26656 };

/** Checks the book's internal bookkeeping from the outside. */
function expectConsistent(book: AddressBook): void {
  const entries = book.entries();
  const sizes = book.bucketSizes();
  expect(sizes.new).toHaveLength(NEW_BUCKET_COUNT);
  expect(sizes.old).toHaveLength(OLD_BUCKET_COUNT);
  expect(Math.max(...sizes.new)).toBeLessThanOrEqual(NEW_BUCKET_SIZE);
  expect(Math.max(...sizes.old)).toBeLessThanOrEqual(OLD_BUCKET_SIZE);
  expect(book.size).toBe(entries.length);
  expect(book.newCount).toBe(entries.filter((e) => e.bucketType === "new").length);
  expect(book.oldCount).toBe(entries.filter((e) => e.bucketType === "old").length);
  let newRefs = 0;
  for (const e of entries) {
    if (e.bucketType === "new") {
      expect(e.buckets.length).toBeGreaterThanOrEqual(1);
      expect(e.buckets.length).toBeLessThanOrEqual(MAX_NEW_BUCKETS_PER_ADDRESS);
      newRefs += e.buckets.length;
    } else {
      expect(e.buckets).toHaveLength(1);
    }
  }
  expect(sizes.new.reduce((a, b) => a + b, 0)).toBe(newRefs);
  expect(sizes.old.reduce((a, b) => a + b, 0)).toBe(book.oldCount);
}

describe("AddressBook.addAddress filters", () => {
  const id = nodeId("x");

  it.each([
    ["an upper-case ID", { id: id.toUpperCase(), host: "8.8.8.8", port: 1 }, "invalid_id"],
    ["a short ID", { id: "abcd", host: "8.8.8.8", port: 1 }, "invalid_id"],
    ["a host name", { id, host: "example.com", port: 1 }, "invalid_ip"],
    ["0.0.0.0", { id, host: "0.0.0.0", port: 1 }, "invalid_ip"],
    ["::", { id, host: "::", port: 1 }, "invalid_ip"],
    ["broadcast", { id, host: "255.255.255.255", port: 1 }, "invalid_ip"],
    ["documentation IPv6", { id, host: "2001:db8::1", port: 1 }, "invalid_ip"],
    ["port 0", { id, host: "8.8.8.8", port: 0 }, "invalid_port"],
  ])("refuses %s in any mode", (_name, addr, reason) => {
    for (const strict of [false, true]) {
      const result = makeBook({ strict }).addAddress(addr, SRC);
      expect(result).toMatchObject({ status: "rejected", reason });
    }
  });

  it.each(["10.0.0.1", "172.16.5.4", "192.168.0.1", "127.0.0.1", "169.254.3.3", "fe80::1", "fc00::1", "2001:10::1", "::1", "0.1.2.3"])(
    "refuses non-routable %s only when strict",
    (host) => {
      const addr = { id, host, port: 26656 };
      expect(makeBook({ strict: true }).addAddress(addr, SRC)).toMatchObject({ status: "rejected", reason: "non_routable" });
      expect(makeBook({ strict: false }).addAddress(addr, SRC)).toEqual({ status: "added" });
    },
  );

  it("accepts a routable address when strict and stores the IP in canonical form", () => {
    const book = makeBook({ strict: true });
    expect(book.addAddress({ id, host: "::ffff:8.8.4.4", port: 26656 }, SRC)).toEqual({ status: "added" });
    expect(book.get(id)?.addr).toEqual({ id, host: "8.8.4.4", port: 26656 });
    expect(book.size).toBe(1);
  });

  it("refuses private IDs and anything a private peer tells us", () => {
    const priv = nodeId("private");
    const book = makeBook({ privateIds: [priv.toUpperCase()] });
    expect(book.addAddress({ id: priv, host: "8.8.8.8", port: 1 }, SRC)).toMatchObject({ reason: "private" });
    expect(book.addAddress(publicAddr(1), { ...SRC, id: priv })).toMatchObject({ reason: "private_source" });
    const later = nodeId("later-private");
    book.addAddress({ id: later, host: "9.9.9.9", port: 1 }, SRC);
    book.addPrivateIds([later]);
    expect(book.hasAddress({ id: later, host: "9.9.9.9", port: 1 })).toBe(false);
  });

  it("refuses our own address and our own ID", () => {
    const book = makeBook();
    const ours = { id: nodeId("me"), host: "8.8.8.8", port: 26656 };
    book.addAddress(ours, SRC);
    book.addOurAddress(ours);
    expect(book.size).toBe(0);
    expect(book.addAddress(ours, SRC)).toMatchObject({ reason: "self" });
    expect(book.addAddress({ ...ours, host: "1.1.1.1" }, SRC)).toMatchObject({ reason: "self" });
    expect(book.isOurAddress(ours)).toBe(true);
  });

  it("refuses a source host that is not an IP", () => {
    expect(makeBook().addAddress(publicAddr(1), { ...SRC, host: "seed.example.com" })).toMatchObject({ reason: "invalid_source" });
  });

  it("never moves a proven (old) node ID to another IP", () => {
    const book = makeBook();
    const a = publicAddr(1);
    book.addAddress(a, SRC);
    book.markGood(a.id);
    expect(book.addAddress({ ...a, host: "7.7.7.7" }, SRC)).toEqual({ status: "known" });
    expect(book.get(a.id)?.addr.host).toBe(a.host);
  });
});

describe("AddressBook bounds", () => {
  it("one source can fill at most 32 new buckets (32 × 64 entries)", () => {
    const book = makeBook();
    for (let i = 0; i < 5000; i++) book.addAddress(publicAddr(i), SRC);
    expect(book.size).toBeLessThanOrEqual(32 * NEW_BUCKET_SIZE);
    expect(book.size).toBeGreaterThan(1000);
    expect(book.bucketSizes().new.filter((n) => n > 0).length).toBeLessThanOrEqual(32);
    expectConsistent(book);
  });

  it("holds at most 256 × 64 new entries however many sources there are", () => {
    const book = makeBook();
    for (let i = 0; i < 40_000; i++) {
      const a = publicAddr(i);
      book.addAddress(a, { id: nodeId(`s${i}`), host: a.host, port: 1 });
    }
    expect(book.newCount).toBeLessThanOrEqual(NEW_BUCKET_COUNT * NEW_BUCKET_SIZE);
    expect(book.newCount).toBeGreaterThan(12_000);
    expectConsistent(book);
  });

  it("a full new bucket evicts a bad entry first, else the one tried longest ago", () => {
    const clock = new FakeClock();
    const book = makeBook({ clock });
    // Same /16 and same source group: every address lands in the same new bucket.
    const sameBucket = (i: number): NetAddress => ({ id: nodeId(`same-${i}`), host: `44.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 26656 });
    for (let i = 0; i < NEW_BUCKET_SIZE; i++) {
      book.addAddress(sameBucket(i), SRC);
      clock.advance(1000);
    }
    expect(book.size).toBe(NEW_BUCKET_SIZE);
    // Entry 10 fails three times (never connected): bad once a minute has passed.
    for (let k = 0; k < 3; k++) book.markAttempt(sameBucket(10));
    clock.advance(61_000);
    book.addAddress(sameBucket(100), SRC);
    expect(book.size).toBe(NEW_BUCKET_SIZE);
    expect(book.hasAddress(sameBucket(10))).toBe(false);
    expect(book.hasAddress(sameBucket(0))).toBe(true);
    // No bad entry left: the one tried longest ago (entry 0) goes.
    book.addAddress(sameBucket(101), SRC);
    expect(book.hasAddress(sameBucket(0))).toBe(false);
    expect(book.hasAddress(sameBucket(101))).toBe(true);
    expect(Math.max(...book.bucketSizes().new)).toBe(NEW_BUCKET_SIZE);
    expectConsistent(book);
  });

  it("promotes good addresses to old buckets, demoting the oldest when an old bucket is full", () => {
    const book = makeBook();
    // One /16: these can reach only 4 old buckets (4 × 64 = 256 entries).
    const addrs = Array.from({ length: 300 }, (_, i): NetAddress => ({ id: nodeId(`g${i}`), host: `45.9.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 1 }));
    addrs.forEach((a, i) => book.addAddress(a, { id: nodeId(`gs${i}`), host: publicAddr(i).host, port: 1 }));
    expect(book.size).toBe(300);
    for (const a of addrs) book.markGood(a.id);
    // Up to 4 old buckets (fewer if two of the group's 4 slots hash to the same bucket), each full.
    const usedOld = book.bucketSizes().old.filter((n) => n > 0);
    expect(usedOld.length).toBeGreaterThanOrEqual(1);
    expect(usedOld.length).toBeLessThanOrEqual(4);
    expect(usedOld.every((n) => n === OLD_BUCKET_SIZE)).toBe(true);
    expect(book.oldCount).toBe(usedOld.length * OLD_BUCKET_SIZE);
    expect(book.newCount).toBe(300 - book.oldCount);
    expect(book.size).toBe(300);
    expect(book.isGood(addrs[299]!.id)).toBe(true);
    expectConsistent(book);
  });

  it("keeps its bookkeeping consistent under any sequence of operations (property)", () => {
    type Op =
      | { op: "add"; i: number; src: number }
      | { op: "good"; i: number }
      | { op: "attempt"; i: number }
      | { op: "bad"; i: number; banMs: number }
      | { op: "remove"; i: number }
      | { op: "reinstate" }
      | { op: "advance"; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant("add" as const), i: fc.nat(400), src: fc.nat(5) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("good" as const), i: fc.nat(400) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("attempt" as const), i: fc.nat(400) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("bad" as const), i: fc.nat(400), banMs: fc.nat(100_000) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("remove" as const), i: fc.nat(400) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("reinstate" as const) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.nat(200_000) }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), fc.integer(), (ops, seed) => {
        const clock = new FakeClock();
        // A few /16s only, so that buckets fill up and evict.
        const addr = (i: number): NetAddress => ({ id: nodeId(`p${i}`), host: `46.${i % 3}.${Math.floor(i / 200)}.${(i % 200) + 1}`, port: 1 });
        const book = makeBook({ clock, random: seededRandom(seed), maxBanned: 20 });
        for (const o of ops) {
          if (o.op === "add") book.addAddress(addr(o.i), { id: nodeId(`src${o.src}`), host: `47.${o.src}.0.1`, port: 1 });
          else if (o.op === "good") book.markGood(addr(o.i).id);
          else if (o.op === "attempt") book.markAttempt(addr(o.i));
          else if (o.op === "bad") {
            book.markBad(addr(o.i), o.banMs);
            expect(book.hasAddress(addr(o.i))).toBe(false);
          } else if (o.op === "remove") book.removeAddress(addr(o.i));
          else if (o.op === "reinstate") book.reinstateExpiredBans();
          else clock.advance(o.ms);
          expect(book.bannedCount).toBeLessThanOrEqual(20);
        }
        expectConsistent(book);
      }),
      { numRuns: 60 },
    );
  });
});

describe("AddressBook selection", () => {
  function bookOfSize(n: number): AddressBook {
    const book = makeBook();
    for (let i = 0; i < n; i++) book.addAddress(publicAddr(i), { id: nodeId(`s${i}`), host: publicAddr(i).host, port: 1 });
    expect(book.size).toBe(n);
    return book;
  }

  it.each([
    [0, 0],
    [1, 1],
    [10, 10],
    [32, 32],
    [33, 32],
    [140, 32],
    [200, 46],
    [1000, 230],
    [1086, 249],
    [1087, 250],
    [3000, 250],
  ])("a book of %i gives a selection of %i distinct known addresses", (size, expected) => {
    const book = bookOfSize(size);
    const selection = book.getSelection();
    expect(selection).toHaveLength(expected);
    expect(new Set(selection.map((a) => a.id)).size).toBe(expected);
    for (const a of selection) expect(book.get(a.id)?.addr).toEqual(a);
    expect(book.getSelectionWithBias(50)).toHaveLength(expected);
  });

  it("getSelectionWithBias puts about bias% new addresses first", () => {
    const book = bookOfSize(200);
    const ids = book.entries().map((e) => e.addr.id);
    for (const id of ids.slice(0, 100)) book.markGood(id);
    expect(book.oldCount).toBe(100);
    const typeOf = (a: NetAddress): string => book.get(a.id)?.bucketType ?? "missing";
    const selection = book.getSelectionWithBias(30); // 46 addresses: round(13.8) = 14 new, then 32 old
    expect(selection.map(typeOf)).toEqual([...Array<string>(14).fill("new"), ...Array<string>(32).fill("old")]);
    expect(book.getSelectionWithBias(100).every((a) => typeOf(a) === "new")).toBe(true);
    expect(book.getSelectionWithBias(0).every((a) => typeOf(a) === "old")).toBe(true);
  });

  it("pickAddress follows the bias and returns null when the chosen kind is empty", () => {
    const book = makeBook();
    expect(book.pickAddress(50)).toBeNull();
    for (let i = 0; i < 20; i++) book.addAddress(publicAddr(i), SRC);
    for (let i = 0; i < 10; i++) book.markGood(publicAddr(i).id);
    for (let k = 0; k < 50; k++) {
      expect(book.isGood(book.pickAddress(0)!.id)).toBe(true);
      expect(book.isGood(book.pickAddress(100)!.id)).toBe(false);
    }
    const onlyOld = makeBook();
    onlyOld.addAddress(publicAddr(1), SRC);
    onlyOld.markGood(publicAddr(1).id);
    expect(onlyOld.pickAddress(100)).toBeNull();
    expect(onlyOld.pickAddress(0)).toEqual(publicAddr(1));
  });

  it("needMoreAddrs is true below the threshold", () => {
    const book = makeBook({ needAddressThreshold: 3 });
    for (let i = 0; i < 2; i++) book.addAddress(publicAddr(i), SRC);
    expect(book.needMoreAddrs()).toBe(true);
    book.addAddress(publicAddr(2), SRC);
    expect(book.needMoreAddrs()).toBe(false);
    expect(makeBook().needMoreAddrs()).toBe(true);
  });
});

describe("AddressBook marks and bans", () => {
  it("markAttempt counts failures and markGood resets them", () => {
    const clock = new FakeClock();
    const book = makeBook({ clock });
    const a = publicAddr(1);
    book.addAddress(a, SRC);
    book.markAttempt(a);
    book.markAttempt(a);
    expect(book.get(a.id)).toMatchObject({ attempts: 2, lastSuccessMs: 0, bucketType: "new" });
    clock.advance(5000);
    book.markGood(a.id);
    expect(book.get(a.id)).toMatchObject({ attempts: 0, lastSuccessMs: clock.now(), lastAttemptMs: clock.now(), bucketType: "old" });
    expect(book.isGood(a.id)).toBe(true);
  });

  it("bans for 24 h by default, then reinstates into a new bucket", () => {
    const clock = new FakeClock();
    const book = makeBook({ clock });
    const a = publicAddr(1);
    book.addAddress(a, SRC);
    book.markGood(a.id);
    book.markAttempt(a);
    book.markBad(a);
    expect(book.size).toBe(0);
    expect(book.isBanned(a.id)).toBe(true);
    expect(book.addAddress(a, SRC)).toMatchObject({ status: "rejected", reason: "banned" });
    clock.advance(DEFAULT_BAN_MS - 1);
    expect(book.reinstateExpiredBans()).toBe(0);
    expect(book.isBanned(a.id)).toBe(true);
    clock.advance(1);
    expect(book.isBanned(a.id)).toBe(false);
    expect(book.reinstateExpiredBans()).toBe(1);
    expect(book.get(a.id)).toMatchObject({ bucketType: "new", attempts: 1, lastBanTimeMs: clock.now() });
    expect(book.bannedCount).toBe(0);
    expectConsistent(book);
  });

  it("bans an ID it did not know, and never shortens a running ban", () => {
    const clock = new FakeClock();
    const book = makeBook({ clock });
    const a = publicAddr(7);
    book.markBad(a, 10_000);
    book.markBad(a, 1_000);
    clock.advance(5_000);
    expect(book.addAddress(a, SRC)).toMatchObject({ reason: "banned" });
    clock.advance(5_000);
    expect(book.addAddress(a, SRC)).toEqual({ status: "added" });
    expect(book.bannedCount).toBe(0);
  });

  it("forgets the ban that ends soonest when the ban list is full", () => {
    const book = makeBook({ maxBanned: 3 });
    book.markBad(publicAddr(1), 50_000);
    book.markBad(publicAddr(2), 10_000);
    book.markBad(publicAddr(3), 30_000);
    book.markBad(publicAddr(4), 20_000);
    expect(book.bannedCount).toBe(3);
    expect(book.isBanned(publicAddr(2).id)).toBe(false);
    for (const i of [1, 3, 4]) expect(book.isBanned(publicAddr(i).id)).toBe(true);
  });

  it("validates its options, naming the field", () => {
    expect(() => makeBook({ needAddressThreshold: 0 })).toThrow(PexConfigError);
    expect(() => makeBook({ saveIntervalMs: -1 })).toThrow(/saveIntervalMs/);
    expect(() => makeBook({ maxBanned: 1.5 })).toThrow(/maxBanned/);
  });
});
