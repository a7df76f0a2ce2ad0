/**
 * The address book: the peers we know of, which ones to dial, and which ones
 * to tell others about. Semantics follow CometBFT v0.38 (`p2p/pex/addrbook.go`,
 * itself from btcd); the code and its bounds are ours.
 *
 * Structure
 * - One entry per node ID. An entry sits in up to 4 of the 256 "new" buckets
 *   (addresses we heard of) or in exactly 1 of the 64 "old" buckets
 *   (addresses that proved good, see {@link AddressBook.markGood}). Every
 *   bucket holds at most 64 entries, so the book never holds more than
 *   256 × 64 + 64 × 64 = 20480 entries.
 * - Placement hashes the address's network group (an IPv4 /16, an IPv6 /32)
 *   and its source's group under a secret random key, so one source can only
 *   ever fill 32 new buckets, and an attacker cannot choose where its
 *   addresses land.
 *
 * When full
 * - A full new bucket evicts one entry to take a new one: the first "bad"
 *   entry (never connected after 3 tries, not tried for 7 days, or failing
 *   10 times without a success for 7 days), else the entry tried longest ago.
 * - A full old bucket demotes its entry tried longest ago to a new bucket to
 *   make room for the promoted one.
 * - The ban list is bounded ({@link DEFAULT_MAX_BANNED}); when full, the ban
 *   that ends soonest is forgotten.
 *
 * Bans (`markBad`) take the entry out of the book for 24 h by default; the
 * book then refuses the ID. `reinstateExpiredBans` puts expired ones back
 * into a new bucket. Unlike CometBFT we also remember a ban for an ID that
 * was not in the book, so that a misbehaving peer cannot be re-added by
 * gossip during its ban.
 *
 * Differences from CometBFT, all on the stricter side: node IDs must be
 * lower-case (an upper-case ID could never pass the dialed-ID check), port 0
 * is invalid (it cannot be dialed), and a bucket holds exactly 64 entries
 * (Go lets one more in).
 */
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { removeStaleTempFiles, writeFileAtomic } from "../../util/atomic-file.js";
import { type NetAddress, formatNetAddress } from "../net-address.js";
import {
  BUCKET_TYPE_NEW,
  BUCKET_TYPE_OLD,
  type StoredAddressBook,
  type StoredKnownAddress,
  decodeAddressBookFile,
  encodeAddressBookFile,
} from "./address-book-file.js";
import { type PexClock, type PexRandom, mathRandom, randomInt, shufflePrefix, systemPexClock } from "./clock.js";
import {
  BAD_MAX_FAILURES,
  BAD_MIN_SUCCESS_AGE_MS,
  BAD_MISSING_MS,
  BAD_NUM_RETRIES,
  BAD_RECENT_ATTEMPT_MS,
  DEFAULT_ADDRBOOK_SAVE_INTERVAL_MS,
  DEFAULT_ADDRBOOK_STRICT,
  DEFAULT_BAN_MS,
  DEFAULT_MAX_BANNED,
  DEFAULT_NEED_ADDRESS_THRESHOLD,
  GET_SELECTION_PERCENT,
  MAX_ADDRBOOK_FILE_BYTES,
  MAX_BOOK_ENTRIES,
  MAX_GET_SELECTION,
  MAX_NEW_BUCKETS_PER_ADDRESS,
  MAX_OUR_ADDRESSES,
  MIN_GET_SELECTION,
  NEW_BUCKETS_PER_GROUP,
  NEW_BUCKET_COUNT,
  NEW_BUCKET_SIZE,
  OLD_BUCKETS_PER_GROUP,
  OLD_BUCKET_COUNT,
  OLD_BUCKET_SIZE,
} from "./defaults.js";
import { AddressBookCorruptError, AddressBookIoError, PexConfigError } from "./errors.js";
import { type IpBytes, canonicalIp, formatIp, groupKey, invalidIpReason, nonRoutableReason, parseIp } from "./ip.js";

/** How long {@link AddressBook.hasGoodHost} reuses its set of good IPs before rebuilding it. */
const GOOD_HOSTS_REFRESH_MS = 1_000;

/** Why `addAddress` refused an address. */
export type AddressRejectReason =
  | "invalid_id"
  | "invalid_ip"
  | "invalid_port"
  | "invalid_source"
  | "banned"
  | "private"
  | "private_source"
  | "self"
  | "non_routable";

export type AddAddressResult =
  /** A new entry, or an existing new entry placed in one more bucket. */
  | { readonly status: "added" }
  /** Already known; nothing changed (old entries and their IPs are never replaced). */
  | { readonly status: "known" }
  | { readonly status: "rejected"; readonly reason: AddressRejectReason; readonly detail: string };

export type BucketType = "new" | "old";

/** A read-only view of one entry. Times are ms since the epoch, 0 = never. */
export interface KnownAddressInfo {
  readonly addr: NetAddress;
  readonly src: NetAddress;
  readonly bucketType: BucketType;
  readonly buckets: readonly number[];
  readonly attempts: number;
  readonly lastAttemptMs: number;
  readonly lastSuccessMs: number;
  /** End of the last ban; 0 if never banned. */
  readonly lastBanTimeMs: number;
}

export interface AddressBookOptions {
  /** Where the book is saved; null keeps it in memory only. @default null */
  readonly filePath?: string | null;
  /** `addr_book_strict`: refuse non-routable addresses (private, loopback, link-local...). @default true */
  readonly strict?: boolean;
  /** `private_peer_ids`: never stored, and neither is anything they tell us. */
  readonly privateIds?: Iterable<string>;
  /** Below this size the book wants more addresses. @default 1000 */
  readonly needAddressThreshold?: number;
  /** Interval between saves while started. @default 120000 */
  readonly saveIntervalMs?: number;
  /** Bans remembered at once. @default 4096 */
  readonly maxBanned?: number;
  /** Bucket placement key (hex). Random by default; a loaded file brings its own. For tests. */
  readonly key?: string;
  readonly logger: Logger;
  readonly clock?: PexClock;
  readonly random?: PexRandom;
}

interface Entry {
  readonly addr: NetAddress;
  readonly addrKey: string;
  readonly ip: IpBytes;
  readonly src: NetAddress;
  readonly srcIp: IpBytes;
  buckets: number[];
  bucketType: BucketType;
  attempts: number;
  lastAttemptMs: number;
  lastSuccessMs: number;
  lastBanTimeMs: number;
}

interface Ban {
  readonly addr: NetAddress;
  readonly src: NetAddress;
  readonly attempts: number;
  readonly lastAttemptMs: number;
  readonly lastSuccessMs: number;
  bannedUntilMs: number;
}

const ID_PATTERN = /^[0-9a-f]{40}$/;

type Checked = { ok: true; addr: NetAddress; ip: IpBytes } | { ok: false; reason: AddressRejectReason; detail: string };

/** Validates an address and rewrites its IP in canonical form. */
function checkAddress(addr: NetAddress): Checked {
  if (!ID_PATTERN.test(addr.id)) return { ok: false, reason: "invalid_id", detail: `node ID "${addr.id.slice(0, 64)}" is not 40 lower-case hex characters` };
  const ip = parseIp(addr.host);
  if (ip === null) return { ok: false, reason: "invalid_ip", detail: `"${addr.host.slice(0, 64)}" is not an IP address` };
  const invalid = invalidIpReason(ip);
  if (invalid !== null) return { ok: false, reason: "invalid_ip", detail: invalid };
  if (!Number.isInteger(addr.port) || addr.port < 1 || addr.port > 65_535) return { ok: false, reason: "invalid_port", detail: `port ${addr.port} cannot be dialed` };
  return { ok: true, addr: { id: addr.id, host: formatIp(ip), port: addr.port }, ip };
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new PexConfigError(field, `must be a positive integer, got ${value}`);
  return value;
}

export class AddressBook {
  private readonly filePath: string | null;
  private readonly strict: boolean;
  private readonly privateIds: Set<string>;
  private readonly needAddressThreshold: number;
  private readonly saveIntervalMs: number;
  private readonly maxBanned: number;
  private readonly logger: Logger;
  private readonly clock: PexClock;
  private readonly random: PexRandom;
  private key: string;

  private readonly byId = new Map<string, Entry>();
  /** The IPs of old-bucket entries, for {@link hasGoodHost}. */
  private goodHosts: { readonly at: number; readonly hosts: ReadonlySet<string> } | null = null;
  private readonly newBuckets: Map<string, Entry>[];
  private readonly oldBuckets: Map<string, Entry>[];
  private nNew = 0;
  private nOld = 0;
  private readonly banned = new Map<string, Ban>();
  private readonly ourAddrs = new Set<string>();
  private readonly ourIds = new Set<string>();

  private state: "created" | "started" | "stopped" = "created";
  private stopRequested = false;
  private saveTimer: { cancel(): void } | null = null;
  private saveChain: Promise<void> = Promise.resolve();

  constructor(options: AddressBookOptions) {
    this.filePath = options.filePath ?? null;
    this.strict = options.strict ?? DEFAULT_ADDRBOOK_STRICT;
    this.privateIds = new Set([...(options.privateIds ?? [])].map((s) => s.toLowerCase()));
    this.needAddressThreshold = positiveInteger("needAddressThreshold", options.needAddressThreshold ?? DEFAULT_NEED_ADDRESS_THRESHOLD);
    this.saveIntervalMs = positiveInteger("saveIntervalMs", options.saveIntervalMs ?? DEFAULT_ADDRBOOK_SAVE_INTERVAL_MS);
    this.maxBanned = positiveInteger("maxBanned", options.maxBanned ?? DEFAULT_MAX_BANNED);
    this.logger = options.logger.child({ module: "addrbook" });
    this.clock = options.clock ?? systemPexClock;
    this.random = options.random ?? mathRandom;
    this.key = options.key ?? randomBytes(12).toString("hex");
    if (this.key.length === 0) throw new PexConfigError("key", "must not be empty");
    this.newBuckets = Array.from({ length: NEW_BUCKET_COUNT }, () => new Map<string, Entry>());
    this.oldBuckets = Array.from({ length: OLD_BUCKET_COUNT }, () => new Map<string, Entry>());
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads the file (a missing one is an empty book; a corrupt one rejects
   * with {@link AddressBookCorruptError}) and starts saving every
   * `saveIntervalMs`. Once only; later calls do nothing.
   */
  async start(): Promise<void> {
    if (this.state !== "created") return;
    await this.load();
    if (this.stopRequested) return; // stopped while loading
    this.state = "started";
    this.armSaveTimer();
  }

  /** Stops the periodic save and saves one last time. Errors of that save reject. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.stopRequested = true;
    const wasStarted = this.state === "started";
    this.state = "stopped";
    this.saveTimer?.cancel();
    this.saveTimer = null;
    if (wasStarted) await this.save();
  }

  /** True while started. */
  get isRunning(): boolean {
    return this.state === "started";
  }

  private armSaveTimer(): void {
    this.saveTimer = this.clock.setTimeout(() => {
      this.saveTimer = null;
      this.save().then(
        () => undefined,
        (err: unknown) => {
          this.logger.error({ err }, "failed to save address book");
        },
      ).finally(() => {
        if (this.state === "started") this.armSaveTimer();
      });
    }, this.saveIntervalMs);
  }

  // ---------------------------------------------------------------- configuration

  /** Records one of our own addresses (and its ID): neither is ever added. Bounded by {@link MAX_OUR_ADDRESSES}. */
  addOurAddress(addr: NetAddress): void {
    if (this.ourAddrs.size >= MAX_OUR_ADDRESSES) {
      this.logger.warn({ addr: formatNetAddress(addr) }, `not recording our address: already ${MAX_OUR_ADDRESSES} recorded`);
      return;
    }
    const checked = checkAddress(addr);
    this.ourAddrs.add(formatNetAddress(checked.ok ? checked.addr : addr));
    this.ourIds.add(addr.id.toLowerCase());
    this.removeById(addr.id.toLowerCase());
  }

  /** True when `addr` is one of ours (by address or by ID). */
  isOurAddress(addr: NetAddress): boolean {
    const checked = checkAddress(addr);
    return this.ourIds.has(addr.id) || this.ourAddrs.has(formatNetAddress(checked.ok ? checked.addr : addr));
  }

  /** Adds `private_peer_ids` after construction; entries with those IDs are removed. */
  addPrivateIds(ids: Iterable<string>): void {
    for (const id of ids) {
      const lower = id.toLowerCase();
      this.privateIds.add(lower);
      this.removeById(lower);
    }
  }

  // ---------------------------------------------------------------- queries

  /** Entries in the book (new + old); banned addresses are not counted. */
  get size(): number {
    return this.nNew + this.nOld;
  }

  get newCount(): number {
    return this.nNew;
  }

  get oldCount(): number {
    return this.nOld;
  }

  get bannedCount(): number {
    return this.banned.size;
  }

  /** True when the book has fewer than `needAddressThreshold` (1000) entries. */
  needMoreAddrs(): boolean {
    return this.size < this.needAddressThreshold;
  }

  isEmpty(): boolean {
    return this.size === 0;
  }

  hasAddress(addr: NetAddress): boolean {
    return this.byId.has(addr.id);
  }

  /** True for an address in an old bucket (it connected and proved good). */
  isGood(id: string): boolean {
    return this.byId.get(id)?.bucketType === "old";
  }

  /**
   * True when an address in an old bucket (it connected and proved good)
   * has this IP. Asked for every inbound connection (handshake slots), so
   * the set of IPs is rebuilt at most once a second, not per call.
   */
  hasGoodHost(host: string): boolean {
    const now = this.clock.now();
    if (this.goodHosts === null || now - this.goodHosts.at >= GOOD_HOSTS_REFRESH_MS) {
      const hosts = new Set<string>();
      for (const e of this.byId.values()) if (e.bucketType === "old") hosts.add(formatIp(e.ip));
      this.goodHosts = { at: now, hosts };
    }
    const ip = canonicalIp(host);
    return ip !== null && this.goodHosts.hosts.has(ip);
  }

  /** True while a ban of this ID has not expired. */
  isBanned(id: string): boolean {
    const ban = this.banned.get(id);
    return ban !== undefined && ban.bannedUntilMs > this.clock.now();
  }

  /** A snapshot of the entry for `id`. */
  get(id: string): KnownAddressInfo | undefined {
    const e = this.byId.get(id);
    return e === undefined ? undefined : info(e);
  }

  /** Snapshots of every entry, for diagnostics and tests. */
  entries(): KnownAddressInfo[] {
    return [...this.byId.values()].map(info);
  }

  /** How many entries each bucket holds, for diagnostics and tests. */
  bucketSizes(): { readonly new: number[]; readonly old: number[] } {
    return { new: this.newBuckets.map((b) => b.size), old: this.oldBuckets.map((b) => b.size) };
  }

  // ---------------------------------------------------------------- adding and removing

  /**
   * Adds `addr`, learned from `src`, to a new bucket. Refuses invalid,
   * banned, private, own and (when strict) non-routable addresses. An address
   * already in new buckets is added to one more with a probability that
   * halves with each bucket it is in (at most 4); an old one is left alone,
   * so gossip cannot move a proven node ID to another IP.
   */
  addAddress(addr: NetAddress, src: NetAddress): AddAddressResult {
    const checked = checkAddress(addr);
    if (!checked.ok) return rejected(checked.reason, checked.detail);
    const srcIp = parseIp(src.host);
    if (srcIp === null) return rejected("invalid_source", `source host "${src.host.slice(0, 64)}" is not an IP address`);
    return this.insert(checked.addr, checked.ip, { id: src.id, host: formatIp(srcIp), port: src.port }, srcIp, null);
  }

  private insert(addr: NetAddress, ip: IpBytes, src: NetAddress, srcIp: IpBytes, stats: Ban | null): AddAddressResult {
    const ban = this.banned.get(addr.id);
    if (ban !== undefined) {
      if (ban.bannedUntilMs > this.clock.now()) return rejected("banned", `banned until ${new Date(ban.bannedUntilMs).toISOString()}`);
      this.banned.delete(addr.id);
    }
    if (this.privateIds.has(addr.id)) return rejected("private", `${addr.id} is a private peer`);
    if (this.privateIds.has(src.id)) return rejected("private_source", `learned from private peer ${src.id}`);
    if (this.ourIds.has(addr.id) || this.ourAddrs.has(formatNetAddress(addr))) return rejected("self", "our own address");
    if (this.strict) {
      const why = nonRoutableReason(ip);
      if (why !== null) return rejected("non_routable", `${why} (addr_book_strict is on)`);
    }
    const existing = this.byId.get(addr.id);
    if (existing !== undefined) {
      if (existing.bucketType === "old") return { status: "known" };
      if (existing.buckets.length >= MAX_NEW_BUCKETS_PER_ADDRESS) return { status: "known" };
      // The more buckets it is in, the less likely it joins another.
      if (randomInt(this.random, 2 * existing.buckets.length) !== 0) return { status: "known" };
      const bucket = this.calcNewBucket(existing.ip, srcIp);
      if (existing.buckets.includes(bucket)) return { status: "known" };
      this.addToNewBucket(existing, bucket);
      return { status: "added" };
    }
    const entry: Entry = {
      addr,
      addrKey: formatNetAddress(addr),
      ip,
      src,
      srcIp,
      buckets: [],
      bucketType: "new",
      attempts: stats?.attempts ?? 0,
      lastAttemptMs: stats?.lastAttemptMs ?? this.clock.now(),
      lastSuccessMs: stats?.lastSuccessMs ?? 0,
      lastBanTimeMs: stats?.bannedUntilMs ?? 0,
    };
    this.addToNewBucket(entry, this.calcNewBucket(ip, srcIp));
    return { status: "added" };
  }

  /** Forgets the entry with `addr.id` (bans are kept). */
  removeAddress(addr: NetAddress): void {
    this.removeById(addr.id);
  }

  private removeById(id: string): void {
    const e = this.byId.get(id);
    if (e !== undefined) this.removeFromAllBuckets(e);
  }

  // ---------------------------------------------------------------- marking

  /** The peer proved good: reset its attempts, record the success, move it to an old bucket. */
  markGood(id: string): void {
    const e = this.byId.get(id);
    if (e === undefined) return;
    const now = this.clock.now();
    e.lastAttemptMs = now;
    e.lastSuccessMs = now;
    e.attempts = 0;
    if (e.bucketType === "new") this.moveToOld(e);
  }

  /** A dial of `addr` failed: count it. */
  markAttempt(addr: NetAddress): void {
    const e = this.byId.get(addr.id);
    if (e === undefined) return;
    e.lastAttemptMs = this.clock.now();
    e.attempts++;
  }

  /**
   * Bans `addr.id` for `banMs` (24 h by default): the entry leaves the book
   * and the ID is refused until the ban expires. A longer running ban is
   * never shortened.
   */
  markBad(addr: NetAddress, banMs: number = DEFAULT_BAN_MS): void {
    const until = this.clock.now() + Math.max(0, banMs);
    const existingBan = this.banned.get(addr.id);
    const e = this.byId.get(addr.id);
    if (e !== undefined) this.removeFromAllBuckets(e);
    if (existingBan !== undefined) {
      existingBan.bannedUntilMs = Math.max(existingBan.bannedUntilMs, until);
      return;
    }
    if (this.banned.size >= this.maxBanned) this.forgetSoonestBan();
    this.banned.set(
      addr.id,
      e === undefined
        ? { addr, src: addr, attempts: 0, lastAttemptMs: 0, lastSuccessMs: 0, bannedUntilMs: until }
        : { addr: e.addr, src: e.src, attempts: e.attempts, lastAttemptMs: e.lastAttemptMs, lastSuccessMs: e.lastSuccessMs, bannedUntilMs: Math.max(until, e.lastBanTimeMs) },
    );
    this.logger.info({ addr: formatNetAddress(addr), until: new Date(until).toISOString() }, "address banned");
  }

  private forgetSoonestBan(): void {
    let soonest: [string, Ban] | undefined;
    for (const item of this.banned) if (soonest === undefined || item[1].bannedUntilMs < soonest[1].bannedUntilMs) soonest = item;
    if (soonest !== undefined) this.banned.delete(soonest[0]);
  }

  /**
   * Puts every address whose ban has expired back into a new bucket (through
   * the usual filters; one that no longer passes them is dropped). Returns
   * how many were reinstated.
   */
  reinstateExpiredBans(): number {
    const now = this.clock.now();
    let reinstated = 0;
    for (const [id, ban] of [...this.banned]) {
      if (ban.bannedUntilMs > now) continue;
      this.banned.delete(id);
      const checked = checkAddress(ban.addr);
      const srcIp = parseIp(ban.src.host);
      if (!checked.ok || srcIp === null) continue;
      const result = this.insert(checked.addr, checked.ip, { ...ban.src, host: formatIp(srcIp) }, srcIp, ban);
      if (result.status === "added") {
        reinstated++;
        this.logger.info({ addr: formatNetAddress(ban.addr) }, "reinstated banned address");
      }
    }
    return reinstated;
  }

  // ---------------------------------------------------------------- picking

  /**
   * A random address to dial, from an old or a new bucket; `biasTowardsNewPct`
   * (0..100) says how much to prefer new ones. Null when the chosen kind has
   * none (so a caller tries a few times).
   */
  pickAddress(biasTowardsNewPct: number): NetAddress | null {
    if (this.size === 0) return null;
    const bias = Math.min(100, Math.max(0, biasTowardsNewPct));
    const oldCorrelation = Math.sqrt(this.nOld) * (100 - bias);
    const newCorrelation = Math.sqrt(this.nNew) * bias;
    const pickOld = (oldCorrelation + newCorrelation) * this.random.float() < oldCorrelation;
    if ((pickOld && this.nOld === 0) || (!pickOld && this.nNew === 0)) return null;
    const buckets = (pickOld ? this.oldBuckets : this.newBuckets).filter((b) => b.size > 0);
    const bucket = buckets[randomInt(this.random, buckets.length)];
    if (bucket === undefined) return null;
    let index = randomInt(this.random, bucket.size);
    for (const e of bucket.values()) {
      if (index-- === 0) return e.addr;
    }
    return null;
  }

  /** How many addresses a selection holds: max(min(32, size), size × 23 %), at most 250. */
  selectionSize(): number {
    const size = this.size;
    return Math.min(MAX_GET_SELECTION, Math.max(Math.min(MIN_GET_SELECTION, size), Math.floor((size * GET_SELECTION_PERCENT) / 100)));
  }

  /** A random selection of the book, new and old alike, for a PEX reply. */
  getSelection(): NetAddress[] {
    const n = this.selectionSize();
    if (n === 0) return [];
    const all = [...this.byId.values()];
    shufflePrefix(this.random, all, n);
    return all.slice(0, n).map((e) => e.addr);
  }

  /**
   * A random selection in which about `biasTowardsNewPct` % are new
   * addresses, placed first (more when there are too few old ones).
   */
  getSelectionWithBias(biasTowardsNewPct: number): NetAddress[] {
    const n = this.selectionSize();
    if (n === 0) return [];
    const bias = Math.min(100, Math.max(0, biasTowardsNewPct));
    const wantNew = Math.max(Math.round((bias / 100) * n), n - this.nOld);
    const fresh = this.randomOfType("new", wantNew);
    const old = this.randomOfType("old", n - fresh.length);
    return [...fresh, ...old].map((e) => e.addr);
  }

  private randomOfType(type: BucketType, count: number): Entry[] {
    if (count <= 0) return [];
    const all = [...this.byId.values()].filter((e) => e.bucketType === type);
    shufflePrefix(this.random, all, count);
    return all.slice(0, count);
  }

  // ---------------------------------------------------------------- buckets

  private hash64(...parts: (string | Uint8Array)[]): bigint {
    const h = createHmac("sha256", this.key);
    for (const p of parts) {
      h.update(p);
      h.update("\u0000"); // a separator, so that the parts cannot run into each other
    }
    return h.digest().readBigUInt64BE(0);
  }

  private calcNewBucket(ip: IpBytes, srcIp: IpBytes): number {
    const srcGroup = groupKey(srcIp, this.strict);
    const slot = this.hash64("new", groupKey(ip, this.strict), srcGroup) % BigInt(NEW_BUCKETS_PER_GROUP);
    return Number(this.hash64("new", srcGroup, slot.toString()) % BigInt(NEW_BUCKET_COUNT));
  }

  private calcOldBucket(e: Entry): number {
    const slot = this.hash64("old", e.addrKey) % BigInt(OLD_BUCKETS_PER_GROUP);
    return Number(this.hash64("old", groupKey(e.ip, this.strict), slot.toString()) % BigInt(OLD_BUCKET_COUNT));
  }

  private addToNewBucket(e: Entry, index: number): void {
    const bucket = this.newBuckets[index] as Map<string, Entry>;
    if (bucket.has(e.addrKey)) return;
    if (bucket.size >= NEW_BUCKET_SIZE) this.expireNew(index);
    bucket.set(e.addrKey, e);
    e.buckets.push(index);
    if (e.buckets.length === 1) {
      this.nNew++;
      this.byId.set(e.addr.id, e);
    }
  }

  /** Adds to an old bucket; false when it is full. */
  private addToOldBucket(e: Entry, index: number): boolean {
    const bucket = this.oldBuckets[index] as Map<string, Entry>;
    if (bucket.has(e.addrKey)) return true;
    if (bucket.size >= OLD_BUCKET_SIZE) return false;
    bucket.set(e.addrKey, e);
    e.buckets = [index];
    this.nOld++;
    this.byId.set(e.addr.id, e);
    return true;
  }

  private removeFromBucket(e: Entry, index: number): void {
    const bucket = (e.bucketType === "new" ? this.newBuckets : this.oldBuckets)[index];
    bucket?.delete(e.addrKey);
    const before = e.buckets.length;
    e.buckets = e.buckets.filter((b) => b !== index);
    if (before > 0 && e.buckets.length === 0) this.forget(e);
  }

  private removeFromAllBuckets(e: Entry): void {
    const buckets = e.bucketType === "new" ? this.newBuckets : this.oldBuckets;
    for (const index of e.buckets) buckets[index]?.delete(e.addrKey);
    if (e.buckets.length > 0) this.forget(e);
    e.buckets = [];
  }

  private forget(e: Entry): void {
    if (e.bucketType === "new") this.nNew--;
    else this.nOld--;
    if (this.byId.get(e.addr.id) === e) this.byId.delete(e.addr.id);
  }

  /** Makes room in a full new bucket: drop a bad entry, else the one tried longest ago. */
  private expireNew(index: number): void {
    const bucket = this.newBuckets[index] as Map<string, Entry>;
    const now = this.clock.now();
    for (const e of bucket.values()) {
      if (isBad(e, now)) {
        this.removeFromBucket(e, index);
        return;
      }
    }
    const oldest = pickOldest(bucket);
    if (oldest !== undefined) this.removeFromBucket(oldest, index);
  }

  /** Promotes a new entry to an old bucket, demoting that bucket's oldest entry if it is full. */
  private moveToOld(e: Entry): void {
    this.removeFromAllBuckets(e);
    e.bucketType = "old";
    const index = this.calcOldBucket(e);
    if (this.addToOldBucket(e, index)) return;
    const bucket = this.oldBuckets[index] as Map<string, Entry>;
    const oldest = pickOldest(bucket);
    if (oldest !== undefined) {
      this.removeFromBucket(oldest, index);
      oldest.bucketType = "new";
      this.addToNewBucket(oldest, this.calcNewBucket(oldest.ip, oldest.srcIp));
    }
    this.addToOldBucket(e, index);
  }

  // ---------------------------------------------------------------- persistence

  /** The book as its file stores it. */
  snapshot(): StoredAddressBook {
    const toStored = (e: Entry): StoredKnownAddress => ({
      addr: { id: e.addr.id, ip: e.addr.host, port: e.addr.port },
      src: { id: e.src.id, ip: e.src.host, port: e.src.port },
      buckets: [...e.buckets],
      attempts: e.attempts,
      bucketType: e.bucketType === "new" ? BUCKET_TYPE_NEW : BUCKET_TYPE_OLD,
      lastAttemptMs: e.lastAttemptMs,
      lastSuccessMs: e.lastSuccessMs,
      lastBanTimeMs: e.lastBanTimeMs,
    });
    const banned = [...this.banned.values()].map(
      (b): StoredKnownAddress => ({
        addr: { id: b.addr.id, ip: b.addr.host, port: b.addr.port },
        src: { id: b.src.id, ip: b.src.host, port: b.src.port },
        buckets: [],
        attempts: b.attempts,
        bucketType: BUCKET_TYPE_NEW,
        lastAttemptMs: b.lastAttemptMs,
        lastSuccessMs: b.lastSuccessMs,
        lastBanTimeMs: b.bannedUntilMs,
      }),
    );
    return { key: this.key, addrs: [...this.byId.values()].map(toStored), banned };
  }

  /**
   * Writes the book atomically (temp file, fsync, rename). Saves never
   * overlap: a save requested during another one runs after it. Does
   * nothing for an in-memory book.
   */
  save(): Promise<void> {
    const path = this.filePath;
    if (path === null) return Promise.resolve();
    const run = async (): Promise<void> => {
      const text = encodeAddressBookFile(this.snapshot());
      try {
        await mkdir(dirname(path), { recursive: true });
        await writeFileAtomic(path, text);
      } catch (err) {
        throw new AddressBookIoError(path, "write", { cause: err });
      }
      this.logger.debug({ path, size: this.size }, "address book saved");
    };
    const next = this.saveChain.then(run, run);
    this.saveChain = next.catch(() => undefined);
    return next;
  }

  private async load(): Promise<void> {
    const path = this.filePath;
    if (path === null) return;
    await removeStaleTempFiles(path);
    let text: string;
    try {
      const st = await stat(path);
      if (st.size > MAX_ADDRBOOK_FILE_BYTES) throw new AddressBookCorruptError(path, `${st.size} bytes exceed the limit of ${MAX_ADDRBOOK_FILE_BYTES}`);
      text = await readFile(path, "utf8");
    } catch (err) {
      if (err instanceof AddressBookCorruptError) throw err;
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        this.logger.info({ path }, "no address book file yet; starting empty");
        return;
      }
      throw new AddressBookIoError(path, "read", { cause: err });
    }
    const stored = decodeAddressBookFile(text, path, MAX_BOOK_ENTRIES);
    if (stored.key.length === 0) throw new AddressBookCorruptError(path, "key: must not be empty");
    this.restore(stored);
    this.logger.info({ path, size: this.size, banned: this.banned.size }, "address book loaded");
  }

  /**
   * Replaces the book's content with `stored`. Entries keep their buckets
   * when those are valid and have room; otherwise they are placed again.
   * Entries that fail today's filters (invalid, private, ours, non-routable
   * under strict) are skipped and counted in the log.
   */
  restore(stored: StoredAddressBook): void {
    for (const b of this.newBuckets) b.clear();
    for (const b of this.oldBuckets) b.clear();
    this.byId.clear();
    this.banned.clear();
    this.nNew = 0;
    this.nOld = 0;
    this.key = stored.key;
    let skipped = 0;
    for (const s of stored.addrs) {
      const e = this.entryFromStored(s);
      if (e === null || this.byId.has(e.addr.id) || this.filterReason(e) !== null) {
        skipped++;
        continue;
      }
      if (!this.placeRestored(e, s.buckets)) skipped++;
    }
    for (const s of stored.banned) {
      if (this.banned.size >= this.maxBanned) {
        skipped++;
        continue;
      }
      this.banned.set(s.addr.id, {
        addr: { id: s.addr.id, host: s.addr.ip, port: s.addr.port },
        src: { id: s.src.id, host: s.src.ip, port: s.src.port },
        attempts: s.attempts,
        lastAttemptMs: s.lastAttemptMs,
        lastSuccessMs: s.lastSuccessMs,
        bannedUntilMs: s.lastBanTimeMs,
      });
    }
    if (skipped > 0) this.logger.warn({ skipped }, "address book entries skipped while loading");
  }

  private entryFromStored(s: StoredKnownAddress): Entry | null {
    const checked = checkAddress({ id: s.addr.id, host: s.addr.ip, port: s.addr.port });
    const srcIp = parseIp(s.src.ip);
    if (!checked.ok || srcIp === null) return null;
    return {
      addr: checked.addr,
      addrKey: formatNetAddress(checked.addr),
      ip: checked.ip,
      src: { id: s.src.id, host: formatIp(srcIp), port: s.src.port },
      srcIp,
      buckets: [],
      bucketType: s.bucketType === BUCKET_TYPE_OLD ? "old" : "new",
      attempts: s.attempts,
      lastAttemptMs: s.lastAttemptMs,
      lastSuccessMs: s.lastSuccessMs,
      lastBanTimeMs: s.lastBanTimeMs,
    };
  }

  private filterReason(e: Entry): string | null {
    if (this.banned.has(e.addr.id)) return "banned";
    if (this.privateIds.has(e.addr.id) || this.privateIds.has(e.src.id)) return "private";
    if (this.ourIds.has(e.addr.id) || this.ourAddrs.has(e.addrKey)) return "self";
    if (this.strict && nonRoutableReason(e.ip) !== null) return "non_routable";
    return null;
  }

  private placeRestored(e: Entry, storedBuckets: readonly number[]): boolean {
    if (e.bucketType === "old") {
      const first = storedBuckets[0];
      if (first !== undefined && first < OLD_BUCKET_COUNT && this.addToOldBucket(e, first)) return true;
      if (this.addToOldBucket(e, this.calcOldBucket(e))) return true;
      e.bucketType = "new";
    }
    for (const index of storedBuckets.slice(0, MAX_NEW_BUCKETS_PER_ADDRESS)) {
      if (index < NEW_BUCKET_COUNT && !e.buckets.includes(index) && (this.newBuckets[index] as Map<string, Entry>).size < NEW_BUCKET_SIZE) {
        this.addToNewBucket(e, index);
      }
    }
    if (e.buckets.length === 0) this.addToNewBucket(e, this.calcNewBucket(e.ip, e.srcIp));
    return e.buckets.length > 0;
  }
}

function rejected(reason: AddressRejectReason, detail: string): AddAddressResult {
  return { status: "rejected", reason, detail };
}

function info(e: Entry): KnownAddressInfo {
  return {
    addr: e.addr,
    src: e.src,
    bucketType: e.bucketType,
    buckets: [...e.buckets],
    attempts: e.attempts,
    lastAttemptMs: e.lastAttemptMs,
    lastSuccessMs: e.lastSuccessMs,
    lastBanTimeMs: e.lastBanTimeMs,
  };
}

function pickOldest(bucket: Map<string, Entry>): Entry | undefined {
  let oldest: Entry | undefined;
  for (const e of bucket.values()) if (oldest === undefined || e.lastAttemptMs < oldest.lastAttemptMs) oldest = e;
  return oldest;
}

/**
 * A new entry not worth keeping (CometBFT's `isBad`): not tried in the last
 * minute, and either not tried for 7 days, or never connected after 3 tries,
 * or failing 10 times with no success in 7 days. Old entries are never bad.
 */
function isBad(e: Entry, now: number): boolean {
  if (e.bucketType === "old") return false;
  if (e.lastAttemptMs > now - BAD_RECENT_ATTEMPT_MS) return false;
  if (e.lastAttemptMs < now - BAD_MISSING_MS) return true;
  if (e.lastSuccessMs === 0 && e.attempts >= BAD_NUM_RETRIES) return true;
  return e.lastSuccessMs < now - BAD_MIN_SUCCESS_AGE_MS && e.attempts >= BAD_MAX_FAILURES;
}
