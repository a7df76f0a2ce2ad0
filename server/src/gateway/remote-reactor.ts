/**
 * RemoteReactor: a Reactor of the Switch whose calls travel, as numbered
 * events, over a gRPC stream to a reactor in another process.
 *
 * Sessions. A session is a numbered sequence of events. The client
 * acknowledges them; unacknowledged events are kept. When the stream goes
 * away the session waits `resumeWindowMs` for the reactor to come back with
 * its token: then every unacknowledged event is sent again (same numbers) and
 * the session goes on. After the window, or when the session's bounded
 * buffer overflowed, a new session starts instead, with a snapshot: OnStart,
 * then InitPeer and AddPeer for every connected peer — still a word of the
 * grammar from the reactor's point of view.
 *
 * Credit. The client grants messages and bytes; an event is sent only while
 * at least one message and one byte of credit remain (a large message may
 * overdraw the byte credit by its own size, so no message can deadlock).
 *
 * Bounds. Receive events in the buffer (unsent + unacknowledged) are bounded
 * by `eventQueueMaxMessages` and `eventQueueMaxBytes`; when a message does not
 * fit, its channel's overflow policy applies (see {@link OverflowPolicy}).
 * Lifecycle events are never dropped (the grammar needs them); they are
 * bounded by the number of peer connections, and a session whose lifecycle
 * backlog still exceeds `lifecycleBacklogMax` is discarded (the stream, if
 * any, ends with RESOURCE_EXHAUSTED) and the reactor starts afresh.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Event } from "../gen/switchboard/gateway/v1/gateway.js";
import type { Envelope, Peer } from "../p2p/peer.js";
import type { Reactor, RemoveReason } from "../p2p/reactor.js";
import type { SwitchApi } from "../p2p/switch-api.js";
import type { ChannelDescriptor, FilledChannelDescriptor } from "../wire/mconnection/channel-descriptor.js";
import { formatDuration } from "../util/duration.js";
import { DEFAULT_EVENT_QUEUE_MAX_BYTES, DEFAULT_EVENT_QUEUE_MAX_MESSAGES, DEFAULT_RESUME_WINDOW_MS } from "./defaults.js";
import { EventQueueOverflowError } from "./errors.js";
import { peerInfoOf } from "./convert.js";

/** Removed connection IDs remembered per reactor, to tell "removed" from "unknown" in command errors. */
export const RECENTLY_REMOVED_MAX = 4096;

/** What happens to a Receive that does not fit the reactor's event queue. */
export type OverflowPolicy = "block" | "drop-newest" | "drop-oldest" | "disconnect-peer";

export interface RemoteChannel extends FilledChannelDescriptor {
  readonly overflowPolicy: OverflowPolicy;
}

export interface RemoteReactorLimits {
  /** Receive events buffered (unsent + unacknowledged). */
  readonly eventQueueMaxMessages: number;
  /** Payload bytes of buffered Receive events. */
  readonly eventQueueMaxBytes: number;
  /** How long a detached session may be resumed. */
  readonly resumeWindowMs: number;
  /** Most events in one stream message. */
  readonly maxBatchEvents: number;
  /** Most payload bytes in one stream message (one larger event still goes alone). */
  readonly maxBatchBytes: number;
  /** How long OnStop waits for the stream to take the last events. */
  readonly stopFlushTimeoutMs: number;
  /**
   * Peer lifecycle events (InitPeer, AddPeer, RemovePeer) buffered at most;
   * beyond it the session is discarded and the reactor starts afresh.
   */
  readonly lifecycleBacklogMax: number;
}

export const DEFAULT_REMOTE_REACTOR_LIMITS: RemoteReactorLimits = {
  eventQueueMaxMessages: DEFAULT_EVENT_QUEUE_MAX_MESSAGES,
  eventQueueMaxBytes: DEFAULT_EVENT_QUEUE_MAX_BYTES,
  resumeWindowMs: DEFAULT_RESUME_WINDOW_MS,
  maxBatchEvents: 256,
  maxBatchBytes: 1024 * 1024,
  stopFlushTimeoutMs: 5_000,
  lifecycleBacklogMax: 10_000,
};

/** Where a session's events go: one attached gRPC stream. */
export interface EventSink {
  /** Writes one batch; false when the transport wants us to wait for {@link RemoteReactor.drained}. */
  write(events: Event[]): boolean;
  /** Ends the stream cleanly (after OnStop). */
  end(): void;
  /** Ends the stream with an error status. */
  abort(code: "resource_exhausted", message: string): void;
}

/** Optional observations for metrics. */
export interface RemoteReactorObserver {
  /** An event left the queue for the stream, `pendingMs` after it entered it. */
  eventSent?(reactor: string, pendingMs: number): void;
}

/** Counters for metrics and tests. */
export interface RemoteReactorStats {
  eventsSent: number;
  eventsResent: number;
  dropped: Record<"drop-newest" | "drop-oldest" | "disconnect-peer" | "no-session", number>;
  blocked: number;
  resumes: number;
  freshSessions: number;
}

type Pending =
  | { readonly t: "onStart" }
  | { readonly t: "onStop" }
  | { readonly t: "init"; readonly peer: Peer }
  | { readonly t: "add"; readonly peer: Peer }
  | { readonly t: "remove"; readonly peer: Peer; readonly reason: string }
  | { readonly t: "receive"; readonly peer: Peer; readonly channelId: number; readonly message: Uint8Array };

interface Entry {
  readonly p: Pending;
  /** performance.now() when it entered the queue. */
  readonly enqueuedMs: number;
  /** Assigned when first sent; kept when resent. */
  seq: number;
  /** Tombstone left by drop-oldest: skipped when sending. */
  dropped: boolean;
}

class Session {
  readonly token = randomBytes(18).toString("base64url");
  nextSeq = 1;
  /** Sent, not yet acknowledged, in order. */
  readonly unacked: Entry[] = [];
  /** Not yet sent on the current attachment, in order (resent entries first). */
  unsent: Entry[] = [];
  unsentHead = 0;
  receiveCount = 0;
  receiveBytes = 0;
  lifecycleCount = 0;
  expiry: NodeJS.Timeout | null = null;
}

export interface AttachResult {
  readonly token: string;
  readonly resumed: boolean;
  readonly resumeRefusedReason: string;
  readonly nextEventSeq: number;
}

export class RemoteReactor implements Reactor {
  private sw: SwitchApi | null = null;
  private session: Session | null = null;
  private sink: EventSink | null = null;
  private waitingDrain = false;
  private creditMessages = 0;
  private creditBytes = 0;
  private started = false;
  private stopping = false;
  private stopped = false;
  private stopWaiter: (() => void) | null = null;
  /** Peer connections this reactor has been told about (InitPeer without RemovePeer yet). */
  private readonly connections = new Map<string, { peer: Peer; added: boolean }>();
  /** The last removed connection IDs, bounded by {@link RECENTLY_REMOVED_MAX}. */
  private readonly recentlyRemoved = new Set<string>();
  private readonly blockWaiters: { readonly entry: Entry; readonly resolve: () => void }[] = [];
  private readonly channelById = new Map<number, RemoteChannel>();

  /** How many removed connection IDs are remembered (at most {@link RECENTLY_REMOVED_MAX}). */
  get removedConnectionsRemembered(): number {
    return this.recentlyRemoved.size;
  }

  readonly stats: RemoteReactorStats = {
    eventsSent: 0,
    eventsResent: 0,
    dropped: { "drop-newest": 0, "drop-oldest": 0, "disconnect-peer": 0, "no-session": 0 },
    blocked: 0,
    resumes: 0,
    freshSessions: 0,
  };

  constructor(
    readonly name: string,
    readonly channels: readonly RemoteChannel[],
    private readonly limits: RemoteReactorLimits,
    private readonly logger: Logger,
    private readonly observer: RemoteReactorObserver = {},
  ) {
    for (const c of channels) this.channelById.set(c.id, c);
  }

  // ---------------------------------------------------------------- Reactor

  getChannels(): readonly ChannelDescriptor[] {
    return this.channels;
  }

  setSwitch(sw: SwitchApi): void {
    this.sw = sw;
  }

  /**
   * What the Switch handed this reactor in `setSwitch`: the same contract an
   * in-process reactor gets, and all that the reactor's commands may use.
   */
  get switchApi(): SwitchApi {
    if (this.sw === null) throw new Error(`reactor "${this.name}" has not been added to a Switch`);
    return this.sw;
  }

  onStart(): void {
    this.started = true;
    this.push({ t: "onStart" });
  }

  onStop(): Promise<void> {
    this.stopping = true;
    this.push({ t: "onStop" });
    for (const w of this.blockWaiters.splice(0)) w.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.stopWaiter = null;
        this.stopped = true;
        const sink = this.sink;
        this.sink = null;
        sink?.end();
        const expiry = this.session?.expiry;
        if (expiry !== undefined && expiry !== null) clearTimeout(expiry);
        resolve();
      };
      const timer = setTimeout(finish, this.limits.stopFlushTimeoutMs);
      this.stopWaiter = finish;
      // Nobody attached: nothing to flush.
      if (this.sink === null) finish();
      else this.pump();
    });
  }

  /** True once OnStop has been delivered (or given up on). */
  get isStopped(): boolean {
    return this.stopped;
  }

  initPeer(peer: Peer): void {
    this.connections.set(peer.connectionId, { peer, added: false });
    this.push({ t: "init", peer });
  }

  addPeer(peer: Peer): void {
    const c = this.connections.get(peer.connectionId);
    if (c !== undefined) c.added = true;
    this.push({ t: "add", peer });
  }

  removePeer(peer: Peer, reason: RemoveReason): void {
    this.connections.delete(peer.connectionId);
    this.recentlyRemoved.add(peer.connectionId);
    if (this.recentlyRemoved.size > RECENTLY_REMOVED_MAX) {
      const oldest = this.recentlyRemoved.values().next();
      if (oldest.done !== true) this.recentlyRemoved.delete(oldest.value);
    }
    this.push({ t: "remove", peer, reason: reason?.message ?? "" });
  }

  receive(env: Envelope): void | Promise<void> {
    const s = this.session;
    if (s === null) {
      this.stats.dropped["no-session"]++;
      return;
    }
    // The envelope's bytes are ours to keep (Envelope.message): queued without a copy.
    const entry: Entry = { p: { t: "receive", peer: env.src, channelId: env.channelId, message: env.message }, enqueuedMs: performance.now(), seq: 0, dropped: false };
    const size = env.message.length;
    if (this.fits(s, size)) {
      this.enqueue(s, entry);
      this.pump();
      return;
    }
    const policy = this.channelById.get(env.channelId)?.overflowPolicy ?? "block";
    switch (policy) {
      case "block":
        this.stats.blocked++;
        return new Promise<void>((resolve) => {
          this.blockWaiters.push({ entry, resolve });
        });
      case "drop-newest":
        this.stats.dropped["drop-newest"]++;
        return;
      case "drop-oldest":
        if (this.dropOldestUnsent(s, env.channelId, size)) {
          this.stats.dropped["drop-oldest"]++;
          this.enqueue(s, entry);
          this.pump();
        } else {
          this.stats.dropped["drop-newest"]++;
        }
        return;
      case "disconnect-peer":
        this.stats.dropped["disconnect-peer"]++;
        this.sw?.stopPeerForError(env.src, new EventQueueOverflowError(this.name, env.channelId));
        return;
    }
  }

  // ---------------------------------------------------------------- streams

  /** True while a stream is attached. */
  get attached(): boolean {
    return this.sink !== null;
  }

  /** True when `connectionId` was one of the last removed connections (so a command can say "removed"). */
  wasRemoved(connectionId: string): boolean {
    return this.recentlyRemoved.has(connectionId);
  }

  /** The connection a command names, if this reactor knows it (InitPeer seen, RemovePeer not yet). */
  connection(connectionId: string): Peer | undefined {
    return this.connections.get(connectionId)?.peer;
  }

  channel(id: number): RemoteChannel | undefined {
    return this.channelById.get(id);
  }

  /** Events buffered in the current session (for metrics). */
  queueDepth(): { messages: number; bytes: number; lifecycle: number } {
    const s = this.session;
    return s === null ? { messages: 0, bytes: 0, lifecycle: 0 } : { messages: s.receiveCount, bytes: s.receiveBytes, lifecycle: s.lifecycleCount };
  }

  /** Credit left (for metrics). */
  credit(): { messages: number; bytes: number } {
    return { messages: this.creditMessages, bytes: this.creditBytes };
  }

  /**
   * Attaches a stream. With the token of the current, unexpired session the
   * session resumes; otherwise a fresh session starts with a snapshot.
   */
  attach(sink: EventSink, sessionToken: string, initialCredit: { messages: number; bytes: number }): AttachResult {
    // The caller writes Registered, then calls drained() to let events flow.
    if (this.sink !== null) throw new Error(`reactor "${this.name}" already has a stream attached`);
    this.sink = sink;
    // Nothing is written until the caller has sent Registered and calls drained().
    this.waitingDrain = true;
    this.creditMessages = initialCredit.messages;
    this.creditBytes = initialCredit.bytes;
    const s = this.session;
    if (sessionToken !== "" && s !== null && s.token === sessionToken) {
      if (s.expiry !== null) clearTimeout(s.expiry);
      s.expiry = null;
      // Everything unacknowledged goes out again, with its number, before what was never sent.
      const resend = s.unacked.splice(0);
      this.stats.eventsResent += resend.length;
      s.unsent = [...resend, ...s.unsent.slice(s.unsentHead)];
      s.unsentHead = 0;
      this.stats.resumes++;
      const next = resend[0]?.seq ?? s.nextSeq;
      this.logger.info({ resent: resend.length }, "reactor resumed its session");
      return { token: s.token, resumed: true, resumeRefusedReason: "", nextEventSeq: next };
    }
    let refused = "";
    if (sessionToken !== "") {
      refused = s === null || s.token !== sessionToken ? "unknown or expired session (outside the resume window, or its buffer overflowed)" : "";
    }
    const fresh = this.startFreshSession();
    this.logger.info({ refused: refused || undefined }, "reactor attached with a fresh session");
    return { token: fresh.token, resumed: false, resumeRefusedReason: refused, nextEventSeq: 1 };
  }

  /**
   * The stream went away: keep the session for the resume window, and say so
   * at once ("reactor stream dropped", with why and the window), not only
   * when the window ends. `why` and `client` (the gRPC peer) are for the log.
   */
  detach(sink: EventSink, why: string, client?: string): void {
    if (this.sink !== sink) return;
    this.sink = null;
    this.waitingDrain = false;
    if (this.stopWaiter !== null) {
      this.stopWaiter();
      return;
    }
    const s = this.session;
    if (s === null) return;
    const window = formatDuration(this.limits.resumeWindowMs);
    this.logger.info(
      { why, client, resume_window: window, unacked_events: s.unacked.length, queued_events: s.unsent.length - s.unsentHead },
      `reactor stream dropped: its session is kept for the resume window (${window}); messages for it wait meanwhile`,
    );
    s.expiry = setTimeout(() => {
      if (this.session === s && this.sink === null) {
        this.logger.info({ resume_window: window }, "resume window passed: session discarded");
        this.discardSession();
      }
    }, this.limits.resumeWindowMs);
    s.expiry.unref();
  }

  /** The transport can take more: continue sending. */
  drained(): void {
    this.waitingDrain = false;
    this.pump();
  }

  grantCredit(messages: number, bytes: number): void {
    this.creditMessages += messages;
    this.creditBytes += bytes;
    this.pump();
  }

  /**
   * Acknowledges every event up to `seq`. Returns an error message when
   * `seq` is beyond the last event sent.
   */
  ack(seq: number): string | null {
    const s = this.session;
    if (s === null) return null;
    if (seq >= s.nextSeq) return `ack ${seq} is beyond the last event sent (${s.nextSeq - 1})`;
    let n = 0;
    while (n < s.unacked.length && (s.unacked[n] as Entry).seq <= seq) {
      this.release(s, (s.unacked[n] as Entry).p);
      n++;
    }
    if (n > 0) s.unacked.splice(0, n);
    this.admitWaiters();
    return null;
  }

  // ---------------------------------------------------------------- internals

  private fits(s: Session, size: number): boolean {
    if (s.receiveCount === 0) return true; // one message always fits, however large
    return s.receiveCount + 1 <= this.limits.eventQueueMaxMessages && s.receiveBytes + size <= this.limits.eventQueueMaxBytes;
  }

  private enqueue(s: Session, entry: Entry): void {
    if (entry.p.t === "receive") {
      s.receiveCount++;
      s.receiveBytes += entry.p.message.length;
    } else {
      s.lifecycleCount++;
    }
    s.unsent.push(entry);
  }

  private release(s: Session, p: Pending): void {
    if (p.t === "receive") {
      s.receiveCount--;
      s.receiveBytes -= p.message.length;
    } else {
      s.lifecycleCount--;
    }
  }

  private push(p: Pending): void {
    const s = this.session;
    if (s === null) return; // no session: the next one starts with a snapshot
    this.enqueue(s, { p, enqueuedMs: performance.now(), seq: 0, dropped: false });
    if (s.lifecycleCount > this.limits.lifecycleBacklogMax) {
      this.logger.warn({ backlog: s.lifecycleCount }, "reactor fell behind on peer events: session discarded");
      const sink = this.sink;
      this.sink = null;
      this.discardSession();
      sink?.abort("resource_exhausted", `reactor "${this.name}" fell behind: more than ${this.limits.lifecycleBacklogMax} unacknowledged peer events; re-attach for a fresh session`);
      return;
    }
    this.pump();
  }

  private dropOldestUnsent(s: Session, channelId: number, size: number): boolean {
    // Free room by tombstoning the oldest unsent messages of this channel.
    let freedCount = 0;
    for (let i = s.unsentHead; i < s.unsent.length; i++) {
      const e = s.unsent[i] as Entry;
      if (e.dropped || e.seq !== 0 || e.p.t !== "receive" || e.p.channelId !== channelId) continue;
      e.dropped = true;
      this.release(s, e.p);
      freedCount++;
      if (this.fits(s, size)) return true;
    }
    return freedCount > 0 && this.fits(s, size);
  }

  private admitWaiters(): void {
    const s = this.session;
    while (this.blockWaiters.length > 0) {
      const w = this.blockWaiters[0] as (typeof this.blockWaiters)[number];
      const p = w.entry.p as Extract<Pending, { t: "receive" }>;
      if (s !== null && this.connections.has(p.peer.connectionId)) {
        if (!this.fits(s, p.message.length)) break;
        this.enqueue(s, w.entry);
      }
      // A waiter whose peer was removed meanwhile is released without its message:
      // nothing may follow that peer's RemovePeer.
      this.blockWaiters.shift();
      w.resolve();
    }
    this.pump();
  }

  private startFreshSession(): Session {
    this.discardSession();
    const s = new Session();
    this.session = s;
    this.stats.freshSessions++;
    if (this.started) {
      this.enqueue(s, { p: { t: "onStart" }, enqueuedMs: performance.now(), seq: 0, dropped: false });
      for (const { peer, added } of this.connections.values()) {
        this.enqueue(s, { p: { t: "init", peer }, enqueuedMs: performance.now(), seq: 0, dropped: false });
        if (added) this.enqueue(s, { p: { t: "add", peer }, enqueuedMs: performance.now(), seq: 0, dropped: false });
      }
      if (this.stopping) this.enqueue(s, { p: { t: "onStop" }, enqueuedMs: performance.now(), seq: 0, dropped: false });
    }
    this.admitWaiters();
    return s;
  }

  private discardSession(): void {
    const s = this.session;
    if (s?.expiry) clearTimeout(s.expiry);
    this.session = null;
    // Peers held back by this session's full queue are released; their messages are gone with it.
    for (const w of this.blockWaiters.splice(0)) {
      this.stats.dropped["no-session"]++;
      w.resolve();
    }
  }

  private pump(): void {
    const s = this.session;
    const sink = this.sink;
    if (s === null || sink === null || this.waitingDrain) return;
    const ignoreCredit = this.stopping;
    while (s.unsentHead < s.unsent.length) {
      const batch: Event[] = [];
      let batchBytes = 0;
      while (s.unsentHead < s.unsent.length && batch.length < this.limits.maxBatchEvents) {
        const e = s.unsent[s.unsentHead] as Entry;
        if (e.dropped) {
          s.unsentHead++;
          continue;
        }
        const size = e.p.t === "receive" ? e.p.message.length : 0;
        if (!ignoreCredit && (this.creditMessages < 1 || this.creditBytes < 1)) break;
        if (batch.length > 0 && batchBytes + size > this.limits.maxBatchBytes) break;
        if (e.seq === 0) e.seq = s.nextSeq++;
        batch.push(toEvent(e));
        this.observer.eventSent?.(this.name, performance.now() - e.enqueuedMs);
        batchBytes += size;
        this.creditMessages--;
        this.creditBytes -= size;
        s.unacked.push(e);
        s.unsentHead++;
      }
      if (s.unsentHead > 1024 && s.unsentHead * 2 > s.unsent.length) {
        s.unsent = s.unsent.slice(s.unsentHead);
        s.unsentHead = 0;
      }
      if (batch.length === 0) break;
      this.stats.eventsSent += batch.length;
      if (!sink.write(batch)) {
        this.waitingDrain = true;
        return;
      }
    }
    if (this.stopWaiter !== null && s.unsentHead >= s.unsent.length) this.stopWaiter();
  }
}

function toEvent(e: Entry): Event {
  const seq = BigInt(e.seq);
  const p = e.p;
  switch (p.t) {
    case "onStart":
      return { seq, kind: { $case: "onStart", value: {} } };
    case "onStop":
      return { seq, kind: { $case: "onStop", value: {} } };
    case "init":
      return { seq, kind: { $case: "initPeer", value: { peer: peerInfoOf(p.peer) } } };
    case "add":
      return { seq, kind: { $case: "addPeer", value: { connectionId: p.peer.connectionId, peerId: p.peer.id } } };
    case "remove":
      return { seq, kind: { $case: "removePeer", value: { connectionId: p.peer.connectionId, peerId: p.peer.id, reason: p.reason } } };
    case "receive":
      return {
        seq,
        kind: { $case: "receive", value: { connectionId: p.peer.connectionId, peerId: p.peer.id, channelId: p.channelId, message: p.message } },
      };
  }
}
