import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AddressBook } from "../../../src/p2p/pex/address-book.js";
import { GO_ZERO_TIME, decodeAddressBookFile } from "../../../src/p2p/pex/address-book-file.js";
import { DEFAULT_ADDRBOOK_SAVE_INTERVAL_MS, MAX_ADDRBOOK_FILE_BYTES } from "../../../src/p2p/pex/defaults.js";
import { AddressBookCorruptError, AddressBookIoError } from "../../../src/p2p/pex/errors.js";
import { FakeClock, T0, nodeId, publicAddr, seededRandom, silentLogger } from "./helpers.js";

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "addrbook-"));
  path = join(dir, "config", "addrbook.json");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function book(clock = new FakeClock(), strict = false): AddressBook {
  return new AddressBook({ filePath: path, strict, logger: silentLogger, clock, random: seededRandom(3) });
}

const SRC = { id: nodeId("src"), host: "93.184.216.34", port: 26656 };

describe("address book persistence", () => {
  it("starts empty when the file is missing", async () => {
    const b = book();
    await b.start();
    expect(b.size).toBe(0);
    await b.stop();
  });

  it("round-trips entries, bucket kinds, counters, times, bans and the key", async () => {
    const clock = new FakeClock();
    const a = book(clock);
    await a.start();
    for (let i = 0; i < 50; i++) a.addAddress(publicAddr(i), SRC);
    clock.advance(1234);
    a.markGood(publicAddr(1).id);
    a.markAttempt(publicAddr(2));
    a.markAttempt(publicAddr(2));
    a.markBad(publicAddr(3), 60_000);
    a.markBad(publicAddr(999), 90_000); // never in the book
    await a.stop();

    const stored = decodeAddressBookFile(await readFile(path, "utf8"), path, 100_000);
    const b = book(clock);
    await b.start();
    expect(b.size).toBe(49);
    expect(b.oldCount).toBe(1);
    const sortById = <T extends { addr: { id: string } }>(xs: T[]): T[] => xs.sort((x, y) => x.addr.id.localeCompare(y.addr.id));
    expect(sortById(b.entries())).toEqual(sortById(a.entries()));
    expect(b.get(publicAddr(2).id)).toMatchObject({ attempts: 2 });
    expect(b.isBanned(publicAddr(3).id)).toBe(true);
    expect(b.isBanned(publicAddr(999).id)).toBe(true);
    expect(b.snapshot().key).toBe(stored.key);
    clock.advance(60_000);
    expect(b.reinstateExpiredBans()).toBe(1);
    expect(b.get(publicAddr(3).id)?.bucketType).toBe("new");
    await b.stop();
  });

  it("writes CometBFT's keys and time format", async () => {
    const clock = new FakeClock();
    const a = book(clock);
    await a.start();
    a.addAddress(publicAddr(1), SRC);
    await a.stop();
    const json = JSON.parse(await readFile(path, "utf8")) as { key: string; addrs: Record<string, unknown>[]; banned: unknown[] };
    expect(json.key).toMatch(/^[0-9a-f]{24}$/);
    expect(json.banned).toEqual([]);
    expect(json.addrs).toHaveLength(1);
    expect(Object.keys(json.addrs[0]!).sort()).toEqual(["addr", "attempts", "bucket_type", "buckets", "last_attempt", "last_ban_time", "last_success", "src"]);
    expect(json.addrs[0]).toMatchObject({
      addr: { id: publicAddr(1).id, ip: publicAddr(1).host, port: 26656 },
      src: { id: SRC.id, ip: SRC.host, port: SRC.port },
      attempts: 0,
      bucket_type: 1,
      last_attempt: new Date(T0).toISOString(),
      last_success: GO_ZERO_TIME,
      last_ban_time: GO_ZERO_TIME,
    });
  });

  it("loads a file as CometBFT writes it (nanosecond times with offsets, no banned key)", async () => {
    await mkdir(join(dir, "config"));
    const goFile = {
      key: "0123456789abcdef01234567",
      addrs: [
        {
          addr: { id: nodeId("go1"), ip: "8.8.8.8", port: 26656 },
          src: { id: nodeId("go2"), ip: "1.1.1.1", port: 26656 },
          buckets: [17],
          attempts: 2,
          bucket_type: 1,
          last_attempt: "2024-05-01T12:00:00.123456789+02:00",
          last_success: "0001-01-01T00:00:00Z",
          last_ban_time: "0001-01-01T00:00:00Z",
        },
        {
          addr: { id: nodeId("go3"), ip: "9.9.9.9", port: 26656 },
          src: { id: nodeId("go3"), ip: "9.9.9.9", port: 26656 },
          buckets: [5],
          attempts: 0,
          bucket_type: 2,
          last_attempt: "2024-05-02T00:00:00Z",
          last_success: "2024-05-02T00:00:00Z",
          last_ban_time: "0001-01-01T00:00:00Z",
        },
      ],
    };
    await writeFile(path, JSON.stringify(goFile, null, "\t"));
    const b = book();
    await b.start();
    expect(b.size).toBe(2);
    expect(b.get(nodeId("go1"))).toMatchObject({ bucketType: "new", buckets: [17], attempts: 2, lastAttemptMs: Date.parse("2024-05-01T10:00:00.123Z"), lastSuccessMs: 0 });
    expect(b.get(nodeId("go3"))).toMatchObject({ bucketType: "old", buckets: [5], lastSuccessMs: Date.parse("2024-05-02T00:00:00Z") });
    expect(b.snapshot().key).toBe(goFile.key);
    await b.stop();
  });

  it("skips entries that today's filters refuse (strict now on, bad ID)", async () => {
    const clock = new FakeClock();
    const a = book(clock, false);
    await a.start();
    a.addAddress({ id: nodeId("lan"), host: "10.0.0.5", port: 26656 }, SRC);
    a.addAddress(publicAddr(1), SRC);
    await a.stop();
    const b = book(clock, true);
    await b.start();
    expect(b.size).toBe(1);
    expect(b.hasAddress(publicAddr(1))).toBe(true);
    await b.stop();
  });

  it.each([
    ["not JSON", "{ nope", /is corrupt: not JSON/],
    ["an array", "[]", /top level: expected an object/],
    ["a missing key", JSON.stringify({ addrs: [] }), /top level\.key: expected a string/],
    ["an empty key", JSON.stringify({ key: "", addrs: [] }), /key: must not be empty/],
    ["addrs not a list", JSON.stringify({ key: "k", addrs: {} }), /addrs: expected an array/],
    ["a bad port", JSON.stringify({ key: "k", addrs: [{ addr: { id: "a", ip: "1.1.1.1", port: "x" } }] }), /addrs\[0\]\.addr\.port: expected an integer/],
    ["a bad time", JSON.stringify({ key: "k", addrs: [{ addr: { id: "a", ip: "1.1.1.1", port: 1 }, last_attempt: "yesterday" }] }), /addrs\[0\]\.last_attempt: "yesterday" is not an RFC 3339 time/],
    ["a bad bucket type", JSON.stringify({ key: "k", addrs: [{ addr: { id: "a", ip: "1.1.1.1", port: 1 }, bucket_type: 7 }] }), /bucket_type: expected an integer in \[1, 2\]/],
  ])("reports a file with %s as corrupt, naming the file and the field", async (_name, text, message) => {
    await mkdir(join(dir, "config"));
    await writeFile(path, text);
    const start = book().start();
    await expect(start).rejects.toThrow(AddressBookCorruptError);
    await expect(book().start()).rejects.toThrow(message);
    await expect(book().start()).rejects.toThrow(path);
  });

  it("refuses to read a file larger than the limit", async () => {
    await mkdir(join(dir, "config"));
    await writeFile(path, Buffer.alloc(MAX_ADDRBOOK_FILE_BYTES + 1, 0x20));
    await expect(book().start()).rejects.toThrow(/exceed the limit/);
  });

  it("saves every 2 minutes while started and once more on stop", async () => {
    const clock = new FakeClock();
    const b = book(clock);
    await b.start();
    b.addAddress(publicAddr(1), SRC);
    clock.advance(DEFAULT_ADDRBOOK_SAVE_INTERVAL_MS - 1);
    await new Promise((r) => setTimeout(r, 20));
    await expect(readFile(path, "utf8")).rejects.toThrow(/ENOENT/);
    clock.advance(1);
    await vi.waitFor(async () => {
      const saved = decodeAddressBookFile(await readFile(path, "utf8"), path, 10);
      expect(saved.addrs).toHaveLength(1);
    });
    expect(clock.pendingTimers).toBe(1); // re-armed for the next period
    b.addAddress(publicAddr(2), SRC);
    await b.stop();
    expect(clock.pendingTimers).toBe(0);
    expect(decodeAddressBookFile(await readFile(path, "utf8"), path, 10).addrs).toHaveLength(2);
  });

  it("replaces the file atomically, leaving no temporary file behind", async () => {
    const b = book();
    await b.start();
    for (let i = 0; i < 5; i++) {
      b.addAddress(publicAddr(i), SRC);
      await Promise.all([b.save(), b.save()]); // overlapping requests run one after the other
    }
    expect(await readdir(join(dir, "config"))).toEqual(["addrbook.json"]);
    expect(decodeAddressBookFile(await readFile(path, "utf8"), path, 10).addrs).toHaveLength(5);
    await b.stop();
  });

  it("reports a failed save as an AddressBookIoError naming the file", async () => {
    // The "directory" is a regular file: no one, root included, can create the book under it.
    const blocker = join(dir, "not-a-dir");
    await writeFile(blocker, "x");
    const blockedPath = join(blocker, "addrbook.json");
    const b = new AddressBook({ filePath: blockedPath, strict: false, logger: silentLogger, clock: new FakeClock() });
    await expect(b.start()).rejects.toThrow(/cannot read address book file .*ENOTDIR/);
    b.addAddress(publicAddr(1), SRC);
    await expect(b.save()).rejects.toThrow(AddressBookIoError);
    await expect(b.save()).rejects.toThrow(`cannot write address book file ${blockedPath}`);
  });
});
