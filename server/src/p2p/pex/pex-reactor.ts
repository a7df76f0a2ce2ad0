/**
 * The PEX reactor: peer exchange on channel 0x00 and the loop that keeps the
 * node connected to enough outbound peers. Behaviour follows CometBFT v0.38
 * (`p2p/pex/pex_reactor.go`), so that a Go node never has a reason to ban us
 * and we treat Go nodes the way they treat each other.
 *
 * Receiving
 * - PexRequest: answered with `PexAddrs(book.getSelection())` (possibly
 *   empty). A peer's first two requests always pass; from the third on, each
 *   must come at least `ensurePeersPeriodMs / 3` (10 s) after the previous
 *   one, else the peer is stopped and banned for 24 h.
 * - PexAddrs: accepted only as the one reply to our outstanding request to
 *   that peer; anything else is unsolicited (stop + 24 h ban). An entry whose
 *   IP does not parse or whose port is ≥ 65536 gets the same treatment. The
 *   others go to the book with the peer as their source; the book drops what
 *   it does not want. A reply from a seed that added addresses wakes the
 *   ensure-peers loop.
 * - Bytes that do not decode stop the peer (no ban), with the decode problem
 *   as the reason.
 *
 * Sending
 * - One PexRequest to an outbound peer when it is added, if the book needs
 *   addresses (< 1000); then, while it still does, one to a random peer per
 *   ensure-peers period. Never more than one outstanding request per peer,
 *   and never a third request to a peer sooner than a Go node allows.
 * - An inbound peer is not asked; its advertised listen address is added to
 *   the book (the book refuses private IDs).
 *
 * Ensure peers: every `ensurePeersPeriodMs` (first run at once when the node
 * has no peers, else after a random 0..period delay), dial up to
 * `maxNumOutboundPeers − (outbound + dialing)` addresses picked from the
 * book, backing off 2^attempts s (+ up to 1 s) per address after failures and
 * banning a non-persistent address after more than 16. When the book still
 * needs addresses: reinstate expired bans, ask a random peer, and if nothing
 * could be picked, dial the seeds one at a time until one connects.
 *
 * Seed (crawler) mode (`seedMode`), as CometBFT's: no ensure-peers loop.
 * - At start, dial the configured seeds (one at a time until one connects),
 *   or, with none, crawl at once. Then every `crawlPeriodMs` (30 s):
 *   disconnect (gracefully) every non-persistent peer connected for at least
 *   `seedDisconnectWaitPeriodMs` (28 h), crawl, and forget crawl records
 *   older than 24 h.
 * - A crawl takes `book.getSelection()` and dials, one at a time, each
 *   address not connected and not crawled in the last
 *   `minTimeBetweenCrawlsMs` (2 min), with
 *   the same backoff and ban rules as ensure-peers, and asks each peer it
 *   connects to for addresses. One crawl runs at a time (a tick that finds
 *   one running skips it). Crawl dials go through the Switch and so count
 *   towards `max_num_outbound_peers` (CometBFT's seed has no bound there):
 *   a crawl stops for the round when the outbound slots are full.
 * - So that those slots keep turning over, a crawled peer is let go
 *   (gracefully) as soon as it has answered our PexRequest, and at the first
 *   round after its request has gone unanswered for `minTimeBetweenCrawlsMs`.
 *   CometBFT's seed keeps crawled peers for the whole wait period instead,
 *   which it can afford without an outbound bound; we keep the bound, and
 *   the peer is crawled again, at the earliest, once that same interval has
 *   passed. Persistent peers are never let go.
 * - An inbound peer's PexRequest is answered once with
 *   `book.getSelectionWithBias(30)` and the peer is then stopped with a
 *   flushing stop (`SwitchApi.flushStopPeer`): the reply reaches the wire
 *   before the connection closes. Further requests of that connection are
 *   ignored, without the rate rule. Outbound peers are treated as above.
 *
 * State and bounds: per-peer state exists from InitPeer to RemovePeer, so it
 * is bounded by the peer count. Dial-attempt records are bounded by the
 * book's capacity (oldest forgotten first), and so are a seed's crawl
 * records (also forgotten after 24 h). In-flight dials are bounded by
 * `maxNumOutboundPeers` (a crawl dials one address at a time). Every timer
 * is cleared in OnStop.
 */
import type { Logger } from "pino";
import type { ChannelDescriptor } from "../../wire/mconnection/channel-descriptor.js";
import { AlreadyConnectedError, ConnectionRejectedError, OutboundLimitError, SwitchStoppingError } from "../errors.js";
import { type NetAddress, formatNetAddress, parseHostPort, parseNetAddress } from "../net-address.js";
import type { Peer } from "../peer.js";
import type { Envelope, Reactor, RemoveReason } from "../reactor.js";
import type { SwitchApi } from "../switch-api.js";
import type { AddressBook } from "./address-book.js";
import { type PexClock, type PexRandom, type PexTimer, mathRandom, randomInt, systemPexClock } from "./clock.js";
import {
  CRAWL_RECORD_MAX_AGE_MS,
  DEFAULT_BAN_MS,
  DEFAULT_CRAWL_PEER_PERIOD_MS,
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
  DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS,
  DEFAULT_SEED_MODE,
  MAX_CRAWL_RECORDS,
  MAX_SEED_DIAL_SKIPPED_PERIODS,
  DEFAULT_MAX_NUM_OUTBOUND_PEERS,
  DEFAULT_PERSISTENT_PEERS_MAX_DIAL_PERIOD_MS,
  DIAL_BACKOFF_JITTER_MS,
  MAX_ATTEMPTS_TO_DIAL,
  MAX_DIAL_ATTEMPT_RECORDS,
  PEX_CHANNEL_ID,
  PEX_CHANNEL_PRIORITY,
  PEX_RECV_MESSAGE_CAPACITY_BYTES,
  PEX_SEND_QUEUE_CAPACITY,
  PEER_MIN_REQUEST_INTERVAL_MS,
  REQUEST_INTERVAL_DIVISOR,
  SEED_SELECTION_BIAS_PERCENT,
} from "./defaults.js";
import { PexConfigError, PexRequestTooSoonError, PexUnsolicitedAddrsError } from "./errors.js";
import { formatIp, parseIp } from "./ip.js";
import { addressesFromProto, decodePexMessage, encodePexAddrs, encodePexRequest } from "./pex-messages.js";

export interface PexReactorOptions {
  /** The book this reactor fills and dials from. The reactor starts and stops it. */
  readonly addressBook: AddressBook;
  /** `seeds`: `id@host:port` addresses dialed when the book has nothing to dial. */
  readonly seeds?: readonly string[];
  /** `seed_mode`: crawl and answer once instead of keeping outbound peers (see the file comment). @default false */
  readonly seedMode?: boolean;
  /** Seed mode: period of the crawl loop (CometBFT's `crawlPeerPeriod`). @default 30000 */
  readonly crawlPeriodMs?: number;
  /** Seed mode: an address is crawled at most once in this long (`minTimeBetweenCrawls`). @default 120000 */
  readonly minTimeBetweenCrawlsMs?: number;
  /** Seed mode: non-persistent peers are disconnected once connected this long (`SeedDisconnectWaitPeriod`). @default 100800000 (28 h) */
  readonly seedDisconnectWaitPeriodMs?: number;
  /** Period of the ensure-peers loop; also sets the request rate limit (a third of it). @default 30000 */
  readonly ensurePeersPeriodMs?: number;
  /** `max_num_outbound_peers`; must match the Switch's. @default 10 */
  readonly maxNumOutboundPeers?: number;
  /** IDs of `persistent_peers`: never banned for failed dials, backoff capped by the next option. */
  readonly persistentPeerIds?: Iterable<string>;
  /** `persistent_peers_max_dial_period`; 0 = no cap. @default 0 */
  readonly persistentPeersMaxDialPeriodMs?: number;
  readonly logger: Logger;
  readonly clock?: PexClock;
  readonly random?: PexRandom;
}

/** What we track per peer connection, from InitPeer to RemovePeer. */
interface PeerState {
  readonly connectionId: string;
  /** A PexRequest of ours awaits its one reply. */
  requestOutstanding: boolean;
  /** Requests we sent (saturates at 2: only "two or more" matters). */
  requestsSent: number;
  lastRequestSentMs: number;
  /** Requests received (saturates at 2). */
  requestsReceived: number;
  lastRequestReceivedMs: number;
  /** When InitPeer was called, on our clock: a seed disconnects peers by it. */
  readonly connectedAtMs: number;
  /** Seed mode: this inbound peer got its one reply and its flushing stop is under way. */
  seedReplySent: boolean;
}

interface DialRecord {
  readonly attempts: number;
  readonly lastDialedMs: number;
}

/** Why `dialPeer` did not dial or did not connect. */
export type DialOutcome = "connected" | "too_early" | "max_attempts" | "already_connected" | "failed" | "self" | "stopped";

function nonNegativeInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new PexConfigError(field, `must be a non-negative integer, got ${value}`);
  return value;
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new PexConfigError(field, `must be a positive integer, got ${value}`);
  return value;
}

/** The peer's advertised listen address, when its host is an IP literal. */
export function advertisedAddress(peer: Peer): NetAddress | null {
  try {
    const { host, port } = parseHostPort(peer.nodeInfo.listenAddr);
    const ip = parseIp(host);
    return ip === null ? null : { id: peer.id, host: formatIp(ip), port };
  } catch {
    return null;
  }
}

export class PexReactor implements Reactor {
  private sw: SwitchApi | null = null;
  private readonly book: AddressBook;
  private readonly seeds: readonly NetAddress[];
  private readonly ensurePeersPeriodMs: number;
  private readonly minReceiveRequestIntervalMs: number;
  private readonly maxNumOutboundPeers: number;
  private readonly persistentIds: ReadonlySet<string>;
  private readonly persistentMaxDialPeriodMs: number;
  private readonly seedMode: boolean;
  private readonly crawlPeriodMs: number;
  private readonly minTimeBetweenCrawlsMs: number;
  private readonly seedDisconnectWaitPeriodMs: number;
  private readonly logger: Logger;
  private readonly clock: PexClock;
  private readonly random: PexRandom;

  private readonly peers = new Map<string, PeerState>();
  private readonly dialAttempts = new Map<string, DialRecord>();
  private readonly dialing = new Set<string>();
  private running = false;
  private ensureTimer: PexTimer | null = null;
  private wakeTimer: PexTimer | null = null;
  private seedDialInFlight = false;
  /** Periods to skip before the next seed dial, and how many are left (MAX_SEED_DIAL_SKIPPED_PERIODS). */
  private seedDialSkip = 0;
  private seedDialSkipLeft = 0;
  /** Seed mode: node ID → when we last crawled (or tried to crawl) it, least recent first. */
  private readonly crawled = new Map<string, number>();
  private crawlInFlight = false;
  private readonly background = new Set<Promise<unknown>>();

  constructor(options: PexReactorOptions) {
    this.book = options.addressBook;
    this.seeds = (options.seeds ?? []).map((s) => parseNetAddress(s));
    this.ensurePeersPeriodMs = nonNegativeInteger("ensurePeersPeriodMs", options.ensurePeersPeriodMs ?? DEFAULT_ENSURE_PEERS_PERIOD_MS);
    if (this.ensurePeersPeriodMs < REQUEST_INTERVAL_DIVISOR) throw new PexConfigError("ensurePeersPeriodMs", `must be at least ${REQUEST_INTERVAL_DIVISOR}`);
    this.minReceiveRequestIntervalMs = Math.floor(this.ensurePeersPeriodMs / REQUEST_INTERVAL_DIVISOR);
    this.maxNumOutboundPeers = nonNegativeInteger("maxNumOutboundPeers", options.maxNumOutboundPeers ?? DEFAULT_MAX_NUM_OUTBOUND_PEERS);
    this.persistentIds = new Set([...(options.persistentPeerIds ?? [])].map((s) => s.toLowerCase()));
    this.persistentMaxDialPeriodMs = nonNegativeInteger(
      "persistentPeersMaxDialPeriodMs",
      options.persistentPeersMaxDialPeriodMs ?? DEFAULT_PERSISTENT_PEERS_MAX_DIAL_PERIOD_MS,
    );
    this.seedMode = options.seedMode ?? DEFAULT_SEED_MODE;
    this.crawlPeriodMs = positiveInteger("crawlPeriodMs", options.crawlPeriodMs ?? DEFAULT_CRAWL_PEER_PERIOD_MS);
    this.minTimeBetweenCrawlsMs = nonNegativeInteger("minTimeBetweenCrawlsMs", options.minTimeBetweenCrawlsMs ?? DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS);
    this.seedDisconnectWaitPeriodMs = nonNegativeInteger(
      "seedDisconnectWaitPeriodMs",
      options.seedDisconnectWaitPeriodMs ?? DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS,
    );
    this.logger = options.logger.child({ module: "pex" });
    this.clock = options.clock ?? systemPexClock;
    this.random = options.random ?? mathRandom;
  }

  // ---------------------------------------------------------------- Reactor

  getChannels(): readonly ChannelDescriptor[] {
    return [
      {
        id: PEX_CHANNEL_ID,
        priority: PEX_CHANNEL_PRIORITY,
        sendQueueCapacity: PEX_SEND_QUEUE_CAPACITY,
        recvMessageCapacity: PEX_RECV_MESSAGE_CAPACITY_BYTES,
      },
    ];
  }

  setSwitch(sw: SwitchApi): void {
    this.sw = sw;
  }

  /** Starts the address book (loading its file) and the ensure-peers loop, or a seed's crawl loop. */
  async onStart(): Promise<void> {
    await this.book.start();
    this.running = true;
    // Deferred to a timer so that the Switch has finished starting when we first dial.
    this.ensureTimer = this.clock.setTimeout(() => {
      this.ensureTimer = null;
      if (this.seedMode) this.firstCrawl();
      else this.firstEnsure();
    }, 0);
  }

  /** Clears every timer and stops the address book, which saves it. */
  async onStop(): Promise<void> {
    this.running = false;
    this.ensureTimer?.cancel();
    this.ensureTimer = null;
    this.wakeTimer?.cancel();
    this.wakeTimer = null;
    this.peers.clear();
    this.crawled.clear();
    await this.book.stop();
  }

  initPeer(peer: Peer): void {
    this.peers.set(peer.id, newPeerState(peer, this.clock.now()));
  }

  addPeer(peer: Peer): void {
    if (peer.isOutbound()) {
      // Its address is in the book already (we dialed it from there, or from config).
      if (this.book.needMoreAddrs()) this.requestAddrs(peer);
      return;
    }
    // An inbound peer is its own source. We do not ask it for addresses: we
    // trust inbound peers less, and ensure-peers will ask someone.
    const addr = advertisedAddress(peer);
    if (addr === null) {
      this.logger.debug({ peer_id: peer.id, listen_addr: peer.nodeInfo.listenAddr }, "inbound peer advertises no IP listen address; not added to the book");
      return;
    }
    const result = this.book.addAddress(addr, addr);
    if (result.status === "rejected") this.logger.debug({ peer_id: peer.id, reason: result.reason, detail: result.detail }, "inbound peer's address not added");
  }

  removePeer(peer: Peer, _reason: RemoveReason): void {
    if (this.peers.get(peer.id)?.connectionId === peer.connectionId) this.peers.delete(peer.id);
  }

  receive(envelope: Envelope): void | Promise<void> {
    if (envelope.channelId !== PEX_CHANNEL_ID) return;
    const peer = envelope.src;
    let msg;
    try {
      msg = decodePexMessage(envelope.message);
    } catch (err) {
      this.sw?.stopPeerForError(peer, err as Error);
      return;
    }
    if (msg.kind === "request") return this.onRequest(peer);
    this.onAddrs(peer, msg.addrs);
  }

  // ---------------------------------------------------------------- receiving

  private stateOf(peer: Peer): PeerState {
    const st = this.peers.get(peer.id);
    if (st?.connectionId === peer.connectionId) return st;
    // Only when a peer is used without InitPeer; RemovePeer still cleans it up.
    const fresh = newPeerState(peer, this.clock.now());
    this.peers.set(peer.id, fresh);
    return fresh;
  }

  /** Stops the peer for `reason` and bans the address we know it by. */
  private punish(peer: Peer, reason: Error): void {
    this.logger.info({ peer_id: peer.id, reason: reason.message }, "stopping and banning peer");
    this.sw?.stopPeerForError(peer, reason);
    this.book.markBad(peer.socketAddress, DEFAULT_BAN_MS);
  }

  private async onRequest(peer: Peer): Promise<void> {
    const st = this.stateOf(peer);
    if (this.seedMode && !peer.isOutbound()) {
      await this.answerAsSeed(peer, st);
      return;
    }
    const now = this.clock.now();
    if (st.requestsReceived >= 2) {
      const since = now - st.lastRequestReceivedMs;
      if (since < this.minReceiveRequestIntervalMs) {
        this.punish(peer, new PexRequestTooSoonError(peer.id, since, this.minReceiveRequestIntervalMs));
        return;
      }
    }
    // The first request passes untimed; timing starts with the second.
    if (st.requestsReceived >= 1) st.lastRequestReceivedMs = now;
    st.requestsReceived = Math.min(2, st.requestsReceived + 1);
    await this.sendAddrs(peer, this.book.getSelection());
  }

  /**
   * A seed answers an inbound peer once, then lets it go once the answer is
   * on the wire. A request that arrives while that stop is under way is
   * ignored, as CometBFT does.
   */
  private async answerAsSeed(peer: Peer, st: PeerState): Promise<void> {
    if (st.seedReplySent) return;
    st.seedReplySent = true;
    await this.sendAddrs(peer, this.book.getSelectionWithBias(SEED_SELECTION_BIAS_PERCENT));
    const sw = this.sw;
    if (sw === null) return;
    // Not awaited: the flush may take a while, and this peer's delivery need not wait for it.
    sw.flushStopPeer(peer).catch((err: unknown) => {
      this.logger.debug({ peer_id: peer.id, err }, "flushing stop failed");
    });
  }

  private async sendAddrs(peer: Peer, addrs: readonly NetAddress[]): Promise<void> {
    try {
      const queued = await peer.send(PEX_CHANNEL_ID, encodePexAddrs(addrs));
      if (!queued) this.logger.debug({ peer_id: peer.id }, "PexAddrs not sent (peer stopped, channel missing or queue full)");
    } catch (err) {
      this.logger.debug({ peer_id: peer.id, err }, "PexAddrs send failed");
    }
  }

  private onAddrs(peer: Peer, raw: Parameters<typeof addressesFromProto>[0]): void {
    let addrs: NetAddress[];
    try {
      addrs = addressesFromProto(raw);
    } catch (err) {
      this.punish(peer, err as Error);
      return;
    }
    const st = this.stateOf(peer);
    if (!st.requestOutstanding) {
      this.punish(peer, new PexUnsolicitedAddrsError(peer.id));
      return;
    }
    st.requestOutstanding = false;
    const src = advertisedAddress(peer) ?? { id: peer.id, host: peer.remoteHost, port: peer.remotePort };
    let added = 0;
    const rejected: Record<string, number> = {};
    for (const addr of addrs) {
      const result = this.book.addAddress(addr, src);
      if (result.status === "added") added++;
      else if (result.status === "rejected") rejected[result.reason] = (rejected[result.reason] ?? 0) + 1;
    }
    this.logger.debug({ peer_id: peer.id, received: addrs.length, added, rejected, book_size: this.book.size }, "received addresses");
    // A seed's crawled peer has given what it was dialed for: free its outbound slot for the crawl.
    if (this.seedMode) {
      this.releaseCrawled(peer, "answered the crawl");
      return;
    }
    // New addresses from a seed are dialed without waiting for the next period. An answer that adds nothing (a
    // seed that knows only us) wakes nothing: the wake-up would find nothing to dial and dial the seed again, in a
    // loop as fast as the seed answers.
    if (added > 0 && this.seeds.some((s) => s.id === peer.id)) {
      this.seedDialSkip = 0;
      this.seedDialSkipLeft = 0;
      this.wake();
    }
  }

  /** Seed mode: gracefully stops an outbound, non-persistent peer we dialed to crawl (or a configured seed). */
  private releaseCrawled(peer: Peer, why: string): void {
    const sw = this.sw;
    if (sw === null || !peer.isOutbound() || peer.isPersistent()) return;
    if (!this.crawled.has(peer.id) && !this.seeds.some((s) => s.id === peer.id)) return;
    this.logger.debug({ peer_id: peer.id, why }, "seed: letting a crawled peer go");
    sw.stopPeerGracefully(peer);
  }

  // ---------------------------------------------------------------- requesting

  /**
   * Sends a PexRequest to `peer` unless one is outstanding, or unless it
   * would be a third request sooner than a Go peer accepts.
   */
  requestAddrs(peer: Peer): void {
    const st = this.stateOf(peer);
    if (st.requestOutstanding) return;
    const now = this.clock.now();
    if (st.requestsSent >= 2 && now - st.lastRequestSentMs < PEER_MIN_REQUEST_INTERVAL_MS) return;
    st.requestOutstanding = true;
    st.requestsSent = Math.min(2, st.requestsSent + 1);
    st.lastRequestSentMs = now;
    const clear = (): void => {
      if (this.peers.get(peer.id) === st) st.requestOutstanding = false;
    };
    peer.send(PEX_CHANNEL_ID, encodePexRequest()).then(
      (queued) => {
        if (!queued) clear();
      },
      (err: unknown) => {
        this.logger.debug({ peer_id: peer.id, err }, "PexRequest send failed");
        clear();
      },
    );
  }

  // ---------------------------------------------------------------- ensure peers

  private firstEnsure(): void {
    if (!this.running) return;
    const counts = this.sw?.numPeers();
    const busy = counts !== undefined && counts.outbound + counts.inbound + counts.dialing > 0;
    // A node with no peers dials at once (through the seeds if need be);
    // one with peers waits a random part of the period, against thundering herds.
    if (!busy) {
      this.tick();
      return;
    }
    this.ensureTimer = this.clock.setTimeout(() => {
      this.ensureTimer = null;
      this.tick();
    }, randomInt(this.random, this.ensurePeersPeriodMs));
  }

  private tick(): void {
    if (!this.running) return;
    this.safeEnsurePeers(true);
    this.ensureTimer = this.clock.setTimeout(() => {
      this.ensureTimer = null;
      this.tick();
    }, this.ensurePeersPeriodMs);
  }

  /** Runs ensure-peers soon, outside the period, without asking a peer for addresses. A seed has no such loop. */
  private wake(): void {
    if (!this.running || this.seedMode || this.wakeTimer !== null) return;
    this.wakeTimer = this.clock.setTimeout(() => {
      this.wakeTimer = null;
      this.safeEnsurePeers(false);
    }, 0);
  }

  private safeEnsurePeers(periodElapsed: boolean): void {
    try {
      this.ensurePeers(periodElapsed);
    } catch (err) {
      this.logger.error({ err }, "ensure peers failed");
    }
  }

  /**
   * One round of ensure-peers (see the file comment). `periodElapsed` is
   * false for a wake-up, which then does not ask a peer for addresses.
   */
  ensurePeers(periodElapsed: boolean): void {
    const sw = this.sw;
    if (!this.running || sw === null) return;
    const counts = sw.numPeers();
    const numToDial = this.maxNumOutboundPeers - (counts.outbound + counts.dialing);
    this.logger.debug({ outbound: counts.outbound, inbound: counts.inbound, dialing: counts.dialing, numToDial, book_size: this.book.size }, "ensure peers");
    if (numToDial <= 0) return;

    // Prefer proven addresses while we have few connections: bias 10..90 % towards new ones.
    const newBias = Math.min(counts.outbound, 8) * 10 + 10;
    const connected = sw.peers();
    const toDial = new Map<string, NetAddress>();
    for (let i = 0; i < numToDial * 3 && toDial.size < numToDial; i++) {
      const addr = this.book.pickAddress(newBias);
      if (addr === null || toDial.has(addr.id) || connected.has(addr.id) || this.dialing.has(addr.id)) continue;
      toDial.set(addr.id, addr);
    }
    for (const addr of toDial.values()) {
      if (this.dialing.size >= this.maxNumOutboundPeers) break;
      this.track(this.dialPeer(addr));
    }

    if (this.book.needMoreAddrs()) this.book.reinstateExpiredBans();
    if (this.book.needMoreAddrs()) {
      const list = connected.list().filter((p) => p.hasChannel(PEX_CHANNEL_ID));
      const peer = list[randomInt(this.random, list.length)];
      if (peer !== undefined && periodElapsed) this.requestAddrs(peer);
      // Also dial a seed when there was nothing to dial (some peers do not do PEX), backing off while the seeds
      // bring nothing new.
      if (toDial.size === 0 && periodElapsed) {
        if (this.seedDialSkipLeft > 0) {
          this.seedDialSkipLeft--;
        } else {
          this.dialSeeds();
          this.seedDialSkipLeft = this.seedDialSkip;
          this.seedDialSkip = Math.min(Math.max(1, this.seedDialSkip * 2), MAX_SEED_DIAL_SKIPPED_PERIODS);
        }
      }
    }
  }

  /** Addresses with failed-dial records (bounded by the book's capacity). */
  get dialAttemptRecordCount(): number {
    return this.dialAttempts.size;
  }

  /** Failed dials recorded for `addr`'s backoff (0 when none or after a success). */
  attemptsToDial(addr: NetAddress): number {
    return this.dialAttempts.get(formatNetAddress(addr))?.attempts ?? 0;
  }

  /** Dials one address from the book, with backoff and the ban after too many failures. */
  async dialPeer(addr: NetAddress): Promise<DialOutcome> {
    const sw = this.sw;
    if (!this.running || sw === null) return "stopped";
    const key = formatNetAddress(addr);
    const record = this.dialAttempts.get(key);
    const attempts = record?.attempts ?? 0;
    const persistent = this.persistentIds.has(addr.id);
    if (!persistent && attempts > MAX_ATTEMPTS_TO_DIAL) {
      this.book.markBad(addr, DEFAULT_BAN_MS);
      return "max_attempts";
    }
    if (record !== undefined && attempts > 0) {
      let backoffMs = 2 ** attempts * 1000 + this.random.float() * DIAL_BACKOFF_JITTER_MS;
      if (persistent && this.persistentMaxDialPeriodMs > 0) backoffMs = Math.min(backoffMs, this.persistentMaxDialPeriodMs);
      if (this.clock.now() - record.lastDialedMs < backoffMs) return "too_early";
    }
    this.dialing.add(addr.id);
    try {
      await sw.dialPeerWithAddress(key);
      this.dialAttempts.delete(key);
      return "connected";
    } catch (err) {
      if (!this.isRunning()) return "stopped"; // stopped while dialing
      if (err instanceof AlreadyConnectedError || err instanceof OutboundLimitError) return "already_connected";
      if (err instanceof SwitchStoppingError) return "stopped";
      if (err instanceof ConnectionRejectedError && err.reason === "self") {
        // We dialed ourselves: forget the address and never add it again.
        this.book.removeAddress(addr);
        this.book.addOurAddress(addr);
        this.dialAttempts.delete(key);
        return "self";
      }
      this.book.markAttempt(addr);
      this.recordAttempt(key, attempts + 1);
      this.logger.debug({ addr: key, attempts: attempts + 1, err: (err as Error).message }, "dial failed");
      return "failed";
    } finally {
      this.dialing.delete(addr.id);
    }
  }

  private recordAttempt(key: string, attempts: number): void {
    this.dialAttempts.delete(key); // re-inserted last: the map's order is least recently dialed first
    if (this.dialAttempts.size >= MAX_DIAL_ATTEMPT_RECORDS) {
      const oldest = this.dialAttempts.keys().next().value;
      if (oldest !== undefined) this.dialAttempts.delete(oldest);
    }
    this.dialAttempts.set(key, { attempts, lastDialedMs: this.clock.now() });
  }

  /** Dials the seeds in random order, one at a time, until one connects. One such run at a time. */
  private dialSeeds(): void {
    const sw = this.sw;
    if (this.seeds.length === 0 || this.seedDialInFlight || sw === null) return;
    this.seedDialInFlight = true;
    const order = [...this.seeds];
    for (let i = order.length - 1; i > 0; i--) {
      const j = randomInt(this.random, i + 1);
      [order[i], order[j]] = [order[j] as NetAddress, order[i] as NetAddress];
    }
    this.track(
      (async () => {
        try {
          for (const seed of order) {
            if (!this.running) return;
            try {
              await sw.dialPeerWithAddress(formatNetAddress(seed));
              return;
            } catch (err) {
              if (err instanceof AlreadyConnectedError || err instanceof SwitchStoppingError) return;
              this.logger.warn({ seed: formatNetAddress(seed), err: (err as Error).message }, "error dialing seed");
            }
          }
          this.logger.warn({ seeds: order.length }, "could not connect to any seed");
        } finally {
          this.seedDialInFlight = false;
        }
      })(),
    );
  }

  // ---------------------------------------------------------------- seed mode: crawling

  /** A seed's first round: ask the configured seeds, or crawl the book if there are none. */
  private firstCrawl(): void {
    if (!this.running) return;
    if (this.seeds.length > 0) this.dialSeeds();
    else this.crawl();
    this.scheduleCrawl();
  }

  private scheduleCrawl(): void {
    this.ensureTimer = this.clock.setTimeout(() => {
      this.ensureTimer = null;
      if (!this.running) return;
      try {
        this.crawlRound();
      } catch (err) {
        this.logger.error({ err }, "crawl round failed");
      }
      this.scheduleCrawl();
    }, this.crawlPeriodMs);
  }

  /** One period of a seed: disconnect old peers and crawled peers that did not answer, crawl, forget stale crawl records. */
  crawlRound(): void {
    this.attemptDisconnects();
    this.releaseSilentCrawled();
    this.crawl();
    this.cleanupCrawlRecords();
  }

  /** Lets go of each crawled peer whose PexRequest has waited `minTimeBetweenCrawlsMs` for its answer. */
  private releaseSilentCrawled(): void {
    const sw = this.sw;
    if (sw === null) return;
    const now = this.clock.now();
    for (const peer of sw.peers().list()) {
      const st = this.peers.get(peer.id);
      if (st?.connectionId !== peer.connectionId || !st.requestOutstanding) continue;
      if (now - st.lastRequestSentMs < this.minTimeBetweenCrawlsMs) continue;
      this.releaseCrawled(peer, "no answer to the crawl");
    }
  }

  /** Gracefully stops every non-persistent peer connected for at least the seed's wait period. */
  private attemptDisconnects(): void {
    const sw = this.sw;
    if (sw === null) return;
    const now = this.clock.now();
    for (const peer of sw.peers().list()) {
      if (peer.isPersistent()) continue;
      const st = this.peers.get(peer.id);
      const connectedAtMs = st?.connectionId === peer.connectionId ? st.connectedAtMs : now;
      if (now - connectedAtMs < this.seedDisconnectWaitPeriodMs) continue;
      this.logger.debug({ peer_id: peer.id, connected_ms: now - connectedAtMs }, "seed: disconnecting peer after the wait period");
      sw.stopPeerGracefully(peer);
    }
  }

  /** Starts a crawl of `book.getSelection()` unless one is running. */
  private crawl(): void {
    if (this.crawlInFlight) {
      this.logger.debug("seed: previous crawl still running; skipping this one");
      return;
    }
    const addrs = this.book.getSelection();
    this.crawlInFlight = true;
    this.track(
      this.crawlAddresses(addrs).finally(() => {
        this.crawlInFlight = false;
      }),
    );
  }

  /** Dials each address not crawled recently, one at a time, and asks those it connects to for addresses. */
  private async crawlAddresses(addrs: readonly NetAddress[]): Promise<void> {
    for (const addr of addrs) {
      const sw = this.sw;
      if (!this.isRunning() || sw === null) return;
      const now = this.clock.now();
      const last = this.crawled.get(addr.id);
      if (last !== undefined && now - last < this.minTimeBetweenCrawlsMs) continue;
      // Connected or being dialed: nothing to crawl (the Switch would refuse the dial).
      if (sw.peers().has(addr.id) || this.dialing.has(addr.id)) continue;
      const counts = sw.numPeers();
      if (counts.outbound + counts.dialing >= this.maxNumOutboundPeers && !this.persistentIds.has(addr.id)) {
        this.logger.debug({ outbound: counts.outbound, dialing: counts.dialing }, "seed: outbound slots full; crawl stops for this round");
        return;
      }
      this.recordCrawl(addr.id, now);
      const outcome = await this.dialPeer(addr);
      if (outcome !== "connected") {
        this.logger.debug({ addr: formatNetAddress(addr), outcome }, "seed: crawl dial did not connect");
        continue;
      }
      const peer = sw.peers().get(addr.id);
      if (peer !== undefined) this.requestAddrs(peer);
    }
  }

  private recordCrawl(id: string, nowMs: number): void {
    this.crawled.delete(id); // re-inserted last: the map's order is least recently crawled first
    if (this.crawled.size >= MAX_CRAWL_RECORDS) {
      const oldest = this.crawled.keys().next().value;
      if (oldest !== undefined) this.crawled.delete(oldest);
    }
    this.crawled.set(id, nowMs);
  }

  /** Forgets addresses not crawled for 24 h: they have left the book. */
  private cleanupCrawlRecords(): void {
    const now = this.clock.now();
    for (const [id, at] of this.crawled) {
      if (now - at <= CRAWL_RECORD_MAX_AGE_MS) break; // least recent first: the rest are newer
      this.crawled.delete(id);
    }
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  // ---------------------------------------------------------------- introspection

  /** True between OnStart and OnStop. (A method, so that reads after an await are not narrowed away.) */
  isRunning(): boolean {
    return this.running;
  }

  /** Peers with PEX state; always at most the number of peers between InitPeer and RemovePeer. */
  get trackedPeerCount(): number {
    return this.peers.size;
  }

  /** Seed mode: crawl records held (at most {@link MAX_CRAWL_RECORDS}). */
  get crawlRecordCount(): number {
    return this.crawled.size;
  }

  /** True in seed (crawler) mode. */
  get isSeed(): boolean {
    return this.seedMode;
  }

  /** True while a PexRequest of ours to `peerId` awaits its reply. */
  hasOutstandingRequest(peerId: string): boolean {
    return this.peers.get(peerId)?.requestOutstanding === true;
  }

  /** Resolves when every dial this reactor started has settled. For tests and shutdown. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }
}

function newPeerState(peer: Peer, nowMs: number): PeerState {
  return {
    connectionId: peer.connectionId,
    requestOutstanding: false,
    requestsSent: 0,
    lastRequestSentMs: 0,
    requestsReceived: 0,
    lastRequestReceivedMs: 0,
    connectedAtMs: nowMs,
    seedReplySent: false,
  };
}
