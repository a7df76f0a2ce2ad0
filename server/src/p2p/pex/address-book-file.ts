/**
 * The address book's JSON file (`config/addrbook.json`), with CometBFT's keys
 * (`p2p/pex/file.go`, `known_address.go`) so that an operator can move a book
 * between a Go node and ours:
 *
 *     { "key": "<24 hex>",
 *       "addrs": [ { "addr": {"id","ip","port"}, "src": {...}, "buckets": [..],
 *                    "attempts": n, "bucket_type": 1 (new) | 2 (old),
 *                    "last_attempt": RFC 3339, "last_success": ..., "last_ban_time": ... } ],
 *       "banned": [ same shape ] }
 *
 * `banned` is ours: CometBFT keeps bans in memory only. Go ignores unknown
 * keys, so it can still read our file. Times are RFC 3339; Go's zero time
 * (`0001-01-01T00:00:00Z`) means "never" and is 0 in memory.
 *
 * Decoding checks the shape of every field and throws
 * {@link AddressBookCorruptError} naming the first bad one. Whether an
 * address is acceptable (valid, routable, not ours...) is the book's
 * business, not this file's.
 */
import { AddressBookCorruptError } from "./errors.js";

export const BUCKET_TYPE_NEW = 1;
export const BUCKET_TYPE_OLD = 2;

export interface AddressJson {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
}

/** One entry as stored, times in ms since the epoch (0 = never). */
export interface StoredKnownAddress {
  readonly addr: AddressJson;
  readonly src: AddressJson;
  readonly buckets: readonly number[];
  readonly attempts: number;
  readonly bucketType: typeof BUCKET_TYPE_NEW | typeof BUCKET_TYPE_OLD;
  readonly lastAttemptMs: number;
  readonly lastSuccessMs: number;
  readonly lastBanTimeMs: number;
}

export interface StoredAddressBook {
  readonly key: string;
  readonly addrs: readonly StoredKnownAddress[];
  readonly banned: readonly StoredKnownAddress[];
}

/** Go's zero `time.Time`, written for "never". */
export const GO_ZERO_TIME = "0001-01-01T00:00:00Z";
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function formatTime(ms: number): string {
  return ms <= 0 ? GO_ZERO_TIME : new Date(ms).toISOString();
}

/** Parses an RFC 3339 time; null when it is not one. Times at or before the epoch are "never" (0). */
export function parseTime(s: string): number | null {
  if (!RFC3339.test(s)) return null;
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) return null;
  return ms <= 0 ? 0 : ms;
}

function entryToJson(e: StoredKnownAddress): Record<string, unknown> {
  return {
    addr: { id: e.addr.id, ip: e.addr.ip, port: e.addr.port },
    src: { id: e.src.id, ip: e.src.ip, port: e.src.port },
    buckets: [...e.buckets],
    attempts: e.attempts,
    bucket_type: e.bucketType,
    last_attempt: formatTime(e.lastAttemptMs),
    last_success: formatTime(e.lastSuccessMs),
    last_ban_time: formatTime(e.lastBanTimeMs),
  };
}

/** The file's text: tab-indented JSON, as Go writes it. */
export function encodeAddressBookFile(book: StoredAddressBook): string {
  return `${JSON.stringify({ key: book.key, addrs: book.addrs.map(entryToJson), banned: book.banned.map(entryToJson) }, null, "\t")}\n`;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(private readonly path: string) {}

  fail(field: string, reason: string): never {
    throw new AddressBookCorruptError(this.path, `${field}: ${reason}`);
  }

  object(v: unknown, field: string): Json {
    if (!isObject(v)) this.fail(field, "expected an object");
    return v;
  }

  string(o: Json, key: string, field: string): string {
    const v = o[key];
    if (typeof v !== "string") this.fail(`${field}.${key}`, "expected a string");
    return v;
  }

  integer(o: Json, key: string, field: string, min: number, max: number, fallback?: number): number {
    const v = o[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) this.fail(`${field}.${key}`, `expected an integer in [${min}, ${max}]`);
    return v;
  }

  time(o: Json, key: string, field: string): number {
    const v = o[key];
    if (v === undefined || v === null) return 0;
    if (typeof v !== "string") this.fail(`${field}.${key}`, "expected an RFC 3339 time string");
    const ms = parseTime(v);
    if (ms === null) this.fail(`${field}.${key}`, `"${v.slice(0, 40)}" is not an RFC 3339 time`);
    return ms;
  }

  address(v: unknown, field: string): AddressJson {
    const o = this.object(v, field);
    return { id: this.string(o, "id", field), ip: this.string(o, "ip", field), port: this.integer(o, "port", field, 0, 65_535) };
  }

  entry(v: unknown, field: string): StoredKnownAddress {
    const o = this.object(v, field);
    const addr = this.address(o["addr"], `${field}.addr`);
    const src = o["src"] === undefined || o["src"] === null ? addr : this.address(o["src"], `${field}.src`);
    const rawBuckets = o["buckets"] ?? [];
    if (!Array.isArray(rawBuckets)) this.fail(`${field}.buckets`, "expected an array");
    const buckets = rawBuckets.map((b: unknown, i) => {
      if (typeof b !== "number" || !Number.isInteger(b) || b < 0) this.fail(`${field}.buckets[${i}]`, "expected a bucket index");
      return b;
    });
    const bucketType = this.integer(o, "bucket_type", field, BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, BUCKET_TYPE_NEW) as StoredKnownAddress["bucketType"];
    return {
      addr,
      src,
      buckets,
      attempts: this.integer(o, "attempts", field, 0, 2 ** 31 - 1, 0),
      bucketType,
      lastAttemptMs: this.time(o, "last_attempt", field),
      lastSuccessMs: this.time(o, "last_success", field),
      lastBanTimeMs: this.time(o, "last_ban_time", field),
    };
  }

  list(o: Json, key: string, maxEntries: number): StoredKnownAddress[] {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(key, "expected an array");
    if (v.length > maxEntries) this.fail(key, `${v.length} entries exceed the limit of ${maxEntries}`);
    return v.map((e: unknown, i) => this.entry(e, `${key}[${i}]`));
  }
}

/**
 * Parses the file's text. `path` only names the file in errors. Lists longer
 * than `maxEntries` are corrupt: no book of ours ever writes them.
 */
export function decodeAddressBookFile(text: string, path: string, maxEntries: number): StoredAddressBook {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AddressBookCorruptError(path, `not JSON (${(err as Error).message})`, { cause: err });
  }
  const r = new Reader(path);
  const root = r.object(parsed, "top level");
  const key = r.string(root, "key", "top level");
  return { key, addrs: r.list(root, "addrs", maxEntries), banned: r.list(root, "banned", maxEntries) };
}
