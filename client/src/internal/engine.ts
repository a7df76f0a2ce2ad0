/**
 * The SDK's core: one reactor's Attach stream as an explicit state machine.
 *
 *   idle ──start()──▶ connecting ──Registered──▶ attached
 *     ▲                   │  ▲                      │
 *     │      transient    │  └──── timer ─────┐     │ transient failure
 *     │      failure      └────────────────▶ backoff ◀┘
 *     │                                        │ attempts exhausted / fatal status
 *     └──stop()── (any)        finishing ◀─────┴── or OnStop + end of stream
 *                                  │ queue drained
 *                                  ▼
 *                                idle (hooks.finished)
 *
 * Delivery. Events go into a queue and are handed to `hooks.deliver` one at a
 * time; an event is consumed when `deliver` returned (or its promise settled).
 * Only then is it acknowledged and its credit (1 message, its payload bytes)
 * granted back. Credit accounting keeps, at every moment,
 *   credit the node holds + events held here (queued or being delivered) <= window
 * so the application never holds more than its window.
 *
 * Sessions. Events are numbered per session. On a transport failure the
 * queue (unacknowledged, so the node keeps them) is dropped and the engine
 * re-attaches with its token; the node resends what was not acknowledged and
 * anything numbered at or below the last delivered event is discarded. When
 * the node refuses the resume, a fresh session starts: numbering restarts and
 * a `session` event tells the application.
 *
 * Commands. The engine registers with `batch_results`, so the node may answer
 * several commands in one ResultBatch; each result settles its command as a
 * lone CommandResult would. (The gRPC transport, not the engine, coalesces
 * what the engine writes into RequestBatches.)
 *
 * @internal
 */
import { type SchedulerLike, type Subscription, Subject, asyncScheduler, timer } from "rxjs";
import type { AttachRequest, AttachResponse, Command, CommandResult, Event as ApiEvent, Registered } from "../gen/switchboard/gateway/v1/gateway.js";
import { Backoff, type ResolvedReconnectConfig } from "../backoff.js";
import { UNREACHABLE_WARNING_INTERVAL_MS } from "../defaults.js";
import { AttachError, CommandError, CommandInterruptedError, CommandQueueFullError, NotAttachedError, ProtocolError, Status, reasonName, statusName, tidyDetails } from "../errors.js";
import type { AttachTransport } from "../transport.js";
import type { ChannelConfig, NodeInfo, PeerInfo, ReactorEvent } from "../types.js";
import { bareShell, channelToApi, nodeInfoFromApi, peerFromApi } from "./convert.js";
import { FALLBACK_LIMITS, type ProtocolLimits, commandOverLimit, commandPayloadBytes, limitsFromRegistered } from "./outbox.js";

export type EngineStateName = "idle" | "connecting" | "attached" | "backoff" | "finishing";

export interface EngineConfig {
  readonly name: string;
  readonly channels: readonly ChannelConfig[];
  readonly window: { readonly messages: number; readonly bytes: number };
  readonly resume: boolean;
  readonly reconnect: ResolvedReconnectConfig;
  readonly maxInflightCommands: number;
  readonly maxInflightCommandBytes: number;
  readonly commandQueueCapacity: number;
  readonly scheduler: SchedulerLike | undefined;
  readonly trace: ((line: string) => void) | undefined;
  /** The node's address, for messages ("the node at 127.0.0.1:26670"); empty when unknown (a custom transport). */
  readonly target: string;
  /** Where messages for a person go (the node cannot be reached, and is again); undefined: nowhere. */
  readonly logger: EngineLogger | undefined;
}

/** Messages for the person running the reactor. */
export interface EngineLogger {
  warn(message: string): void;
  info(message: string): void;
}

export interface EngineHooks {
  /** Hands one event to the application; a returned promise holds back the next event (and the credit) until it settles. */
  deliver(event: ReactorEvent): void | PromiseLike<void>;
  /** The stream is over for good: completed after OnStop (no error) or failed. The engine is idle again. */
  finished(error: Error | undefined): void;
  /** The peers map changed (after an event was delivered). */
  peersChanged?(): void;
}

/** The transport for one activation (from start() to stop()/finished), and how to release it. */
export interface TransportLease {
  readonly transport: AttachTransport;
  release(): void;
}

type CommandKind = NonNullable<Command["kind"]>;
export type CommandOutcome = NonNullable<CommandResult["kind"]>;

interface WaitingCommand {
  readonly kind: CommandKind;
  readonly label: string;
  readonly bytes: number;
  readonly resolve: (outcome: CommandOutcome) => void;
  readonly reject: (err: Error) => void;
}

type QueueItem =
  | { readonly t: "node"; readonly sessionId: number; readonly seq: bigint; readonly bytes: number; readonly event: ApiEvent }
  | { readonly t: "local"; readonly sessionId: number; readonly event: ReactorEvent };

interface Attempt {
  readonly requests: Subject<AttachRequest>;
  subscription: Subscription | null;
  /** Set when the transport terminated (error or complete). */
  over: boolean;
}

type State =
  | { readonly name: "idle" }
  | { readonly name: "connecting"; readonly attempt: Attempt }
  | { readonly name: "attached"; readonly attempt: Attempt }
  | { readonly name: "backoff"; readonly timer: Subscription }
  | { readonly name: "finishing"; readonly error: Error | undefined };

/** Codes after which re-attaching may help. */
const TRANSIENT: ReadonlySet<number> = new Set([Status.UNAVAILABLE, Status.CANCELLED, Status.UNKNOWN, Status.INTERNAL, Status.DEADLINE_EXCEEDED, Status.ABORTED, Status.RESOURCE_EXHAUSTED]);

const ALREADY_EXISTS: number = Status.ALREADY_EXISTS;
const UNAVAILABLE: number = Status.UNAVAILABLE;

const ZERO = { messages: 0, bytes: 0 };

function payloadBytes(e: ApiEvent): number {
  return e.kind?.$case === "receive" ? e.kind.value.message.length : 0;
}


/** "100 ms", "1.6 s", "32 s". */
function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${ms < 10_000 ? Number((ms / 1000).toFixed(1)) : Math.round(ms / 1000)} s`;
}

/**
 * What to do about a refusal or failure with this code, when the SDK knows;
 * `details` is the node's message (it names what is taken).
 */
export function attachHint(code: number, details: string, name: string, target: string): string | undefined {
  if (code === ALREADY_EXISTS) {
    if (/\bchannel 0x[0-9a-f]+/i.test(details)) {
      return "Another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor.";
    }
    return `The name "${name}" is taken on that node (by another process, or by another client in this one): stop that reactor, or give this one another name.`;
  }
  if (code === UNAVAILABLE) return `Check that the node is running and that ${target === "" ? "the target" : target} is its grpc.laddr.`;
  return undefined;
}

function asServiceError(err: unknown): { code: number; details: string; reason: string | undefined } | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; details?: unknown; message?: unknown; metadata?: { get?: (k: string) => unknown[] } };
  if (typeof e.code !== "number") return undefined;
  const details = typeof e.details === "string" ? e.details : typeof e.message === "string" ? e.message : "";
  const raw = typeof e.metadata?.get === "function" ? e.metadata.get("switchboard-error-reason")[0] : undefined;
  return { code: e.code, details, reason: typeof raw === "string" ? raw : undefined };
}

export class Engine {
  private state: State = { name: "idle" };
  private lease: TransportLease | null = null;
  private readonly backoff: Backoff;
  /** Attach calls opened since the last Registered (for messages). */
  private connectAttempts = 0;
  /** Failed attempts to reach the node since it was last reached (null: none), and when they were reported. */
  private unreachable: { attempts: number; readonly sinceMs: number; warnedAtMs: number | null } | null = null;

  // ---- session
  private token = "";
  private sessionId = 0;
  private nodeInfo: NodeInfo | null = null;
  /** Highest seq queued or delivered in this session: anything at or below it is a duplicate. */
  private lastQueuedSeq = 0n;
  /** Highest seq handed to the application in this session. */
  private lastDeliveredSeq = 0n;
  /** Highest seq the application finished with in this session (what may be acknowledged). */
  private lastConsumedSeq = 0n;
  private pendingAck: bigint | null = null;
  private stopSeen = false;

  // ---- delivery and credit
  private readonly queue: QueueItem[] = [];
  private queueHead = 0;
  private delivering: QueueItem | null = null;
  /** Node events received and not yet consumed (queued or being delivered). */
  private held = { ...ZERO };
  /** Credit to withhold because more than the window was held when we (re)registered. */
  private debt = { ...ZERO };
  /** Credit earned and not yet sent. */
  private pendingGrant = { ...ZERO };
  /** Earned credit is sent once it reaches a quarter of the window (or when the queue runs dry). */
  private readonly flushThreshold: { readonly messages: number; readonly bytes: number };

  // ---- peers, as the application has seen them
  private readonly connections = new Map<string, PeerInfo>();
  private readonly added = new Map<string, PeerInfo>();

  // ---- commands
  private readonly waiting: WaitingCommand[] = [];
  private readonly inflight = new Map<bigint, WaitingCommand>();
  private inflightBytes = 0;
  private nextRequestId = 1n;

  constructor(
    private readonly config: EngineConfig,
    private readonly openTransport: () => TransportLease,
    private readonly hooks: EngineHooks,
  ) {
    this.backoff = new Backoff(config.reconnect);
    this.flushThreshold = { messages: Math.max(1, Math.floor(config.window.messages / 4)), bytes: Math.max(1, Math.floor(config.window.bytes / 4)) };
  }

  get stateName(): EngineStateName {
    return this.state.name;
  }

  /** What the node accepts (Registered's limits); the fallback until a node tells. */
  private limits: ProtocolLimits = FALLBACK_LIMITS;
  /** The session's NodeInfo, once registered. */
  get currentNodeInfo(): NodeInfo | null {
    return this.nodeInfo;
  }

  /** Peers after AddPeer and before RemovePeer, by node ID, as delivered to the application. */
  get peers(): ReadonlyMap<string, PeerInfo> {
    return this.added;
  }

  /** Credit accounting, for tests and metrics. */
  get creditState(): { held: { messages: number; bytes: number }; debt: { messages: number; bytes: number } } {
    return { held: { ...this.held }, debt: { ...this.debt } };
  }

  // ------------------------------------------------------------ lifecycle

  /** Opens the stream (idle only). */
  start(): void {
    if (this.state.name !== "idle") return;
    this.lease = this.openTransport();
    this.backoff.reset();
    this.unreachable = null;
    this.connectAttempts = 0;
    this.connect();
  }

  /** Cancels everything and returns to idle; the session token is kept for a later resume. */
  stop(): void {
    if (this.state.name === "idle") return;
    this.trace(`stop in ${this.state.name}`);
    this.abandonStream();
    // An event still in a handler that was abandoned counts as consumed: a later consumer must not wait for it.
    const inHandler = this.delivering;
    if (inHandler !== null) this.consumed(inHandler, false);
    this.dropQueue();
    this.rejectAll(() => new NotAttachedError("the reactor client stopped: nobody is subscribed to its events"));
    this.transition({ name: "idle" });
    this.releaseLease();
  }

  private transition(next: State): void {
    this.trace(`${this.state.name} -> ${next.name}`);
    this.state = next;
  }

  private trace(line: string): void {
    this.config.trace?.(`[switchboard-client ${this.config.name}] ${line}`);
  }

  /** "the node at 127.0.0.1:26670" (or "the node" when the target is unknown). */
  private get where(): string {
    return this.config.target === "" ? "the node" : `the node at ${this.config.target}`;
  }

  private now(): number {
    return (this.config.scheduler ?? asyncScheduler).now();
  }

  /**
   * An attempt to attach found the node unreachable: tells the logger at the
   * first failure, then at most every UNREACHABLE_WARNING_INTERVAL_MS while
   * it lasts, with the next retry.
   */
  private reportUnreachable(details: string, delayMs: number): void {
    const now = this.now();
    const u = (this.unreachable ??= { attempts: 0, sinceMs: now, warnedAtMs: null });
    u.attempts++;
    if (u.warnedAtMs !== null && now - u.warnedAtMs < UNREACHABLE_WARNING_INTERVAL_MS) return;
    u.warnedAtMs = now;
    const name = this.config.name;
    const why = `UNAVAILABLE: ${tidyDetails(details)}`;
    const left = this.config.reconnect.count - this.backoff.attempts;
    const retry = `retrying in ${seconds(delayMs)}${Number.isFinite(left) ? ` (then ${left} more ${left === 1 ? "attempt" : "attempts"} at most)` : ""}`;
    this.config.logger?.warn(
      u.attempts === 1
        ? `reactor "${name}": cannot reach ${this.where} (${why}). ${attachHint(UNAVAILABLE, details, name, this.config.target) ?? ""} ${retry[0]?.toUpperCase() ?? ""}${retry.slice(1)}; this is reported again every ${seconds(UNREACHABLE_WARNING_INTERVAL_MS)} while it lasts.`
        : `reactor "${name}": still cannot reach ${this.where} after ${u.attempts} attempts in ${seconds(now - u.sinceMs)} (${why}); ${retry}.`,
    );
  }

  /** Registered: says so if the node had been reported unreachable. */
  private reached(): void {
    const u = this.unreachable;
    this.unreachable = null;
    if (u?.warnedAtMs == null) return;
    this.config.logger?.info(`reactor "${this.config.name}": reached ${this.where} after ${u.attempts} failed ${u.attempts === 1 ? "attempt" : "attempts"} in ${seconds(this.now() - u.sinceMs)}.`);
  }

  private releaseLease(): void {
    const lease = this.lease;
    this.lease = null;
    lease?.release();
  }

  private connect(): void {
    const lease = this.lease;
    if (lease === null) return;
    const attempt: Attempt = { requests: new Subject<AttachRequest>(), subscription: null, over: false };
    this.connectAttempts++;
    this.transition({ name: "connecting", attempt });
    // Credit: what the window allows beyond the events still held here.
    const initial = { messages: Math.max(0, this.config.window.messages - this.held.messages), bytes: Math.max(0, this.config.window.bytes - this.held.bytes) };
    this.debt = { messages: Math.max(0, this.held.messages - this.config.window.messages), bytes: Math.max(0, this.held.bytes - this.config.window.bytes) };
    this.pendingGrant = { ...ZERO };
    const sessionToken = this.config.resume ? this.token : "";
    const sub = lease.transport(attempt.requests.asObservable()).subscribe({
      next: (res) => this.onResponse(attempt, res),
      error: (err: unknown) => this.onStreamOver(attempt, err, false),
      complete: () => this.onStreamOver(attempt, undefined, true),
    });
    if (attempt.over) {
      sub.unsubscribe();
      return;
    }
    attempt.subscription = sub;
    this.trace(`register (resume ${sessionToken === "" ? "no" : "yes"}, credit ${initial.messages} msgs / ${initial.bytes} bytes)`);
    attempt.requests.next({
      msg: {
        $case: "register",
        value: {
          reactorName: this.config.name,
          channels: this.config.channels.map(channelToApi),
          sessionToken,
          initialCredit: { messages: initial.messages, bytes: BigInt(initial.bytes) },
          batchResults: true,
        },
      },
    });
  }

  /** Unsubscribes from the current attempt (cancelling the call). */
  private abandonStream(): void {
    const s = this.state;
    if (s.name === "connecting" || s.name === "attached") {
      s.attempt.over = true;
      s.attempt.subscription?.unsubscribe();
      s.attempt.requests.complete();
    } else if (s.name === "backoff") {
      s.timer.unsubscribe();
    }
  }

  private currentAttempt(): Attempt | null {
    const s = this.state;
    return s.name === "connecting" || s.name === "attached" ? s.attempt : null;
  }

  private write(req: AttachRequest): void {
    this.currentAttempt()?.requests.next(req);
  }

  // ------------------------------------------------------------ responses

  private onResponse(attempt: Attempt, res: AttachResponse): void {
    if (attempt.over || this.currentAttempt() !== attempt) return;
    const m = res.msg;
    try {
      switch (m?.$case) {
        case "registered":
          this.onRegistered(m.value);
          break;
        case "events":
          for (const e of m.value.events) this.onEvent(e);
          break;
        case "result":
          this.onResult(m.value);
          break;
        case "results":
          for (const r of m.value.results) this.onResult(r);
          break;
        case undefined:
          break;
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.trace(`protocol error: ${err.message}`);
      attempt.over = true;
      attempt.subscription?.unsubscribe();
      this.fail(err);
      return;
    }
    this.pump();
  }

  private onRegistered(r: Registered): void {
    const s = this.state;
    if (s.name !== "connecting") throw new ProtocolError(`Registered arrived in state ${s.name}`);
    const asked = this.config.resume && this.token !== "";
    if (r.resumed) {
      if (!asked) throw new ProtocolError("the node resumed a session that was not asked for");
      if (r.nextEventSeq - 1n > this.lastQueuedSeq) {
        throw new ProtocolError(`resumed at event ${r.nextEventSeq} but only events up to ${this.lastQueuedSeq} were received: a gap`);
      }
    } else {
      this.sessionId++;
      this.lastQueuedSeq = this.lastDeliveredSeq = this.lastConsumedSeq = r.nextEventSeq - 1n;
      this.pendingAck = null;
      this.stopSeen = false;
    }
    this.token = r.sessionToken;
    this.nodeInfo = nodeInfoFromApi(r.nodeInfo);
    this.limits = limitsFromRegistered(r.limits);
    this.transition({ name: "attached", attempt: s.attempt });
    this.connectAttempts = 0;
    this.reached();
    this.trace(`registered: resumed ${r.resumed}${r.resumeRefusedReason === "" ? "" : `, refused: ${r.resumeRefusedReason}`}, next seq ${r.nextEventSeq}`);
    if (this.config.reconnect.resetOnSuccess) this.backoff.reset();
    this.queue.push({ t: "local", sessionId: this.sessionId, event: { type: "session", resumed: r.resumed, refusedReason: r.resumeRefusedReason, nodeInfo: this.nodeInfo } });
    this.flush();
    this.sendCommands();
  }

  private onEvent(e: ApiEvent): void {
    if (this.state.name !== "attached") throw new ProtocolError("events arrived before Registered");
    const bytes = payloadBytes(e);
    if (e.seq <= this.lastQueuedSeq) {
      // Resent after a resume, and already here: consumed by being dropped.
      this.trace(`duplicate event ${e.seq} dropped`);
      this.grant(1, bytes);
      if (e.seq <= this.lastConsumedSeq) this.pendingAck = this.lastConsumedSeq;
      return;
    }
    if (e.seq !== this.lastQueuedSeq + 1n) throw new ProtocolError(`event ${e.seq} follows event ${this.lastQueuedSeq}: a gap`);
    this.lastQueuedSeq = e.seq;
    this.held.messages++;
    this.held.bytes += bytes;
    if (e.kind?.$case === "onStop") this.stopSeen = true;
    this.queue.push({ t: "node", sessionId: this.sessionId, seq: e.seq, bytes, event: e });
  }

  private onResult(r: CommandResult): void {
    const c = this.inflight.get(r.requestId);
    if (c === undefined) {
      this.trace(`result for unknown request ${r.requestId} ignored`);
      return;
    }
    this.inflight.delete(r.requestId);
    this.inflightBytes -= c.bytes;
    if (r.error !== undefined) c.reject(new CommandError(c.label, r.error.code, reasonName(r.error.reason), r.error.message));
    else if (r.kind === undefined) c.reject(new ProtocolError(`${c.label}: a result with neither error nor outcome`));
    else c.resolve(r.kind);
    this.sendCommands();
  }

  private onStreamOver(attempt: Attempt, err: unknown, completed: boolean): void {
    if (attempt.over) return;
    attempt.over = true;
    if (this.currentAttempt() !== attempt) return;
    if (this.stopSeen) {
      // OnStop arrived: whatever ends the stream now, the reactor's life is complete.
      this.trace(`stream over after OnStop (${completed ? "ok" : "error"})`);
      this.rejectAll(() => new NotAttachedError("the node stopped"));
      this.transition({ name: "finishing", error: undefined });
      this.pump();
      return;
    }
    const st = completed ? { code: Status.UNAVAILABLE, details: "the node ended the stream without OnStop", reason: undefined } : asServiceError(err);
    const wasAttached = this.state.name === "attached";
    const transient = st !== undefined && (TRANSIENT.has(st.code) || (st.code === ALREADY_EXISTS && this.token !== "" && this.backoff.attempts < 3));
    this.trace(`stream over: ${st === undefined ? String(err) : `${statusName(st.code)} ${st.details}`}${transient ? "" : " (fatal)"}`);
    const delay = transient ? this.backoff.next() : null;
    const toError = (): Error => {
      if (st === undefined) return err instanceof Error ? err : new ProtocolError(String(err));
      const name = this.config.name;
      // A refusal, or the last of the attempts: a message for the person running the reactor.
      const attempts = this.connectAttempts;
      const what = wasAttached
        ? transient
          ? `reactor "${name}": the stream to ${this.where} broke and no re-attach attempt is left (see the reconnect option)`
          : `reactor "${name}": ${this.where} ended the stream`
        : transient
          ? `reactor "${name}": could not attach to ${this.where} (gave up after ${attempts} ${attempts === 1 ? "attempt" : "attempts"}; see the reconnect option)`
          : `reactor "${name}": ${this.where} refused it`;
      return new AttachError(st.code, st.details, st.reason === undefined ? undefined : reasonName(st.reason), what, { hint: attachHint(st.code, st.details, name, this.config.target) });
    };
    if (delay === null) {
      this.fail(toError());
      return;
    }
    if (!wasAttached && st?.code === UNAVAILABLE) this.reportUnreachable(st.details, delay);
    // Transient: drop what was not delivered (the node keeps it: unacknowledged) and try again.
    this.dropQueue();
    for (const c of this.inflight.values()) {
      c.reject(new CommandInterruptedError(`${c.label}: the stream broke before the node answered (${st?.details ?? "cut"}); it may or may not have run`));
    }
    this.inflight.clear();
    this.inflightBytes = 0;
    this.pendingGrant = { ...ZERO };
    this.trace(`re-attach in ${delay} ms (attempt ${this.backoff.attempts}${wasAttached ? ", was attached" : ""})`);
    const t = timer(delay, this.config.scheduler ?? asyncScheduler).subscribe(() => {
      if (this.state.name === "backoff") this.connect();
    });
    this.transition({ name: "backoff", timer: t });
  }

  /** The stream failed for good: drop what is queued, reject commands, report. */
  private fail(err: Error): void {
    this.abandonStream();
    this.dropQueue();
    this.rejectAll(() => err);
    this.transition({ name: "finishing", error: err });
    this.pump();
  }

  private dropQueue(): void {
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const item = this.queue[i] as QueueItem;
      if (item.t === "node") {
        this.held.messages--;
        this.held.bytes -= item.bytes;
      }
    }
    this.queue.length = 0;
    this.queueHead = 0;
    // Everything not delivered will be resent (if resumed): accept it again.
    this.lastQueuedSeq = this.lastDeliveredSeq;
  }

  // ------------------------------------------------------------ delivery

  private pump(): void {
    while (this.delivering === null && this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead++] as QueueItem;
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        // A queue that never empties (a slow consumer under steady load) sheds its consumed prefix.
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.delivering = item;
      let result: void | PromiseLike<void>;
      try {
        const event = this.toReactorEvent(item);
        result = this.hooks.deliver(event);
      } catch (err) {
        // deliver() reports application errors itself; anything here is ours.
        this.delivering = null;
        throw err;
      }
      if (result !== undefined && typeof result.then === "function") {
        this.flush();
        const settled = (): void => {
          // stop() may have settled it already (the consumer left without finishing).
          if (this.delivering === item) this.consumed(item, true);
        };
        result.then(settled, settled);
        return;
      }
      // A consumer that left during deliver() made stop() settle it already.
      if (this.delivering === item) this.consumed(item, false);
    }
    if (this.delivering === null) {
      this.flush();
      this.maybeFinish();
    }
  }

  private consumed(item: QueueItem, resumePump: boolean): void {
    this.delivering = null;
    if (item.t === "node") {
      this.held.messages--;
      this.held.bytes -= item.bytes;
      this.grant(1, item.bytes);
      if (item.sessionId === this.sessionId && item.seq > this.lastConsumedSeq) {
        this.lastConsumedSeq = item.seq;
        this.pendingAck = item.seq;
      }
    }
    if (this.pendingGrant.messages >= this.flushThreshold.messages || this.pendingGrant.bytes >= this.flushThreshold.bytes) this.flush();
    if (resumePump) this.pump();
  }

  /** Turns a queued item into the application's event, updating the peer tables (in delivery order). */
  private toReactorEvent(item: QueueItem): ReactorEvent {
    if (item.t === "local") {
      if (item.event.type === "session" && !item.event.resumed) {
        const hadPeers = this.added.size > 0;
        this.connections.clear();
        this.added.clear();
        if (hadPeers) this.hooks.peersChanged?.();
      }
      return item.event;
    }
    this.lastDeliveredSeq = item.seq;
    const seq = item.seq;
    const k = item.event.kind;
    const lookup = (connectionId: string, peerId: string): PeerInfo => this.connections.get(connectionId) ?? bareShell(peerId, connectionId);
    switch (k?.$case) {
      case "onStart":
        return { type: "start", seq };
      case "onStop":
        return { type: "stop", seq };
      case "initPeer": {
        const peer = peerFromApi(k.value.peer ?? { peerId: "", connectionId: "", outbound: false, persistent: false, unconditional: false, remoteAddress: "", socketAddress: "", nodeInfo: undefined });
        this.connections.set(peer.connectionId, peer);
        return { type: "initPeer", seq, peer };
      }
      case "addPeer": {
        const peer = lookup(k.value.connectionId, k.value.peerId);
        this.added.set(peer.id, peer);
        this.hooks.peersChanged?.();
        return { type: "addPeer", seq, peer };
      }
      case "receive":
        return { type: "receive", seq, peer: lookup(k.value.connectionId, k.value.peerId), channelId: k.value.channelId, message: k.value.message };
      case "removePeer": {
        const peer = lookup(k.value.connectionId, k.value.peerId);
        this.connections.delete(k.value.connectionId);
        if (this.added.get(peer.id)?.connectionId === peer.connectionId) {
          this.added.delete(peer.id);
          this.hooks.peersChanged?.();
        }
        return { type: "removePeer", seq, peer, reason: k.value.reason };
      }
      case undefined:
        throw new ProtocolError(`event ${seq} has no kind`);
    }
  }

  /** Earns credit back; it goes to the node with the next flush while a Register is out. */
  private grant(messages: number, bytes: number): void {
    const dm = Math.min(this.debt.messages, messages);
    const db = Math.min(this.debt.bytes, bytes);
    this.debt.messages -= dm;
    this.debt.bytes -= db;
    if (this.currentAttempt() === null) return; // the next Register computes its credit from what is held
    this.pendingGrant.messages += messages - dm;
    this.pendingGrant.bytes += bytes - db;
  }

  private flush(): void {
    if (this.currentAttempt() === null) return;
    const g = this.pendingGrant;
    if (g.messages > 0 || g.bytes > 0) {
      this.pendingGrant = { ...ZERO };
      this.write({ msg: { $case: "credit", value: { messages: g.messages, bytes: BigInt(g.bytes) } } });
    }
    if (this.state.name === "attached" && this.pendingAck !== null) {
      const seq = this.pendingAck;
      this.pendingAck = null;
      this.write({ msg: { $case: "ack", value: { eventSeq: seq } } });
    }
  }

  private maybeFinish(): void {
    const s = this.state;
    if (s.name !== "finishing" || this.delivering !== null || this.queueHead < this.queue.length) return;
    this.transition({ name: "idle" });
    this.releaseLease();
    this.hooks.finished(s.error);
  }

  // ------------------------------------------------------------ commands

  /** Runs a command: at once when attached, else after (re)registration; bounded by the queue. */
  command(kind: CommandKind, label: string): Promise<CommandOutcome> {
    const s = this.state.name;
    if (s === "idle" || s === "finishing") {
      return Promise.reject(new NotAttachedError(`${label}: the reactor is not attached: subscribe to events$ (or consume) first`));
    }
    if (this.waiting.length >= this.config.commandQueueCapacity) {
      return Promise.reject(new CommandQueueFullError(`${label}: ${this.config.commandQueueCapacity} commands are already waiting (commandQueueCapacity)`));
    }
    const over = commandOverLimit({ requestId: 0n, kind }, this.limits);
    if (over !== null) {
      // The node would end the stream for it: refuse it here, as the node refuses a command it can read.
      return Promise.reject(new CommandError(label, Status.INVALID_ARGUMENT, over.reason, over.message));
    }
    return new Promise<CommandOutcome>((resolve, reject) => {
      this.waiting.push({ kind, label, bytes: commandPayloadBytes(kind), resolve, reject });
      this.sendCommands();
    });
  }

  private sendCommands(): void {
    while (this.state.name === "attached" && this.waiting.length > 0 && this.inflight.size < this.config.maxInflightCommands) {
      const c = this.waiting[0] as WaitingCommand;
      if (this.inflight.size > 0 && this.inflightBytes + c.bytes > this.config.maxInflightCommandBytes) return;
      this.waiting.shift();
      // Checked again against the limits of the node it goes to: it may have waited for this Registered.
      const over = commandOverLimit({ requestId: 0n, kind: c.kind }, this.limits);
      if (over !== null) {
        c.reject(new CommandError(c.label, Status.INVALID_ARGUMENT, over.reason, over.message));
        continue;
      }
      const requestId = this.nextRequestId++;
      this.inflight.set(requestId, c);
      this.inflightBytes += c.bytes;
      this.write({ msg: { $case: "command", value: { requestId, kind: c.kind } } });
    }
  }

  private rejectAll(error: () => Error): void {
    const all = [...this.inflight.values(), ...this.waiting.splice(0)];
    this.inflight.clear();
    this.inflightBytes = 0;
    for (const c of all) c.reject(error());
  }

  /** Commands waiting and in flight, for tests and metrics. */
  get commandCounts(): { waiting: number; inflight: number } {
    return { waiting: this.waiting.length, inflight: this.inflight.size };
  }
}

