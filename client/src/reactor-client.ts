/**
 * `ReactorClient`: one remote reactor of a Switchboard node — its events as
 * an rxjs Observable (or an async iterable, or an awaited handler), and its
 * commands as Promises — over one Attach stream.
 *
 * @module
 */
import { type SchedulerLike, Observable, Subject, filter } from "rxjs";
import { type ReconnectConfig, resolveReconnectConfig } from "./backoff.js";
import {
  DEFAULT_COMMAND_QUEUE_CAPACITY,
  DEFAULT_CREDIT_WINDOW_BYTES,
  DEFAULT_CREDIT_WINDOW_MESSAGES,
  DEFAULT_MAX_INFLIGHT_COMMAND_BYTES,
  DEFAULT_MAX_INFLIGHT_COMMANDS,
  TRACE_ENV_VAR,
} from "./defaults.js";
import { ConfigError, ProtocolError } from "./errors.js";
import { type CommandOutcome, Engine, type EngineStateName, type TransportLease } from "./internal/engine.js";
import { peerFromApi, peerRefToApi, peerStatusFromApi } from "./internal/convert.js";
import { type AttachTransport, type GrpcConnectionOptions, createGrpcAttachTransport } from "./transport.js";
import type { BroadcastResult, ChannelConfig, NodeInfo, PeerCounts, PeerInfo, PeerRef, PeerStatus, ReactorEvent, ReceiveEvent } from "./types.js";

/** Options of a {@link ReactorClient}. Only `target`, `name` and `channels` are required. */
export interface ReactorClientOptions extends GrpcConnectionOptions {
  /** The node's gRPC address: `host:port`, `tcp://host:port` or `unix:///path`. */
  readonly target: string;
  /** The reactor's name, unique per node (the node's `grpc.reactors` lists the names it waits for). */
  readonly name: string;
  /** The channels this reactor handles. */
  readonly channels: readonly ChannelConfig[];
  /**
   * How many events (and payload bytes) the node may send beyond what the
   * application has consumed. The SDK never grants more than consumed + window.
   * A number sets `messages` alone.
   * @default { messages: 256, bytes: 16 MiB }
   */
  readonly creditWindow?: number | { readonly messages?: number; readonly bytes?: number };
  /** Resume the session after a transport failure (no event lost or repeated). @default true */
  readonly resume?: boolean;
  /** Re-attach policy after a transient failure: a count, `false`, or a {@link ReconnectConfig}. @default unlimited, 100 ms doubling to 5 s */
  readonly reconnect?: number | false | ReconnectConfig;
  /** Commands on the wire and unanswered, at most. @default 1024 */
  readonly maxInflightCommands?: number;
  /** Payload bytes of commands on the wire and unanswered, at most (one larger command goes alone). @default 16 MiB */
  readonly maxInflightCommandBytes?: number;
  /** Commands waiting for the stream, at most; beyond it a command fails with `CommandQueueFullError`. @default 1024 */
  readonly commandQueueCapacity?: number;
  /** Replaces the gRPC transport (tests, custom channels). `target` and the gRPC options are then unused. */
  readonly transport?: AttachTransport;
  /** Scheduler of the reconnect timers (tests use a TestScheduler). @default asyncScheduler */
  readonly scheduler?: SchedulerLike;
  /** Traces state transitions: `true` to stderr, or a function. @default on when env SB_CLIENT_TRACE is set */
  readonly trace?: boolean | ((line: string) => void);
  /**
   * Where the client tells the person running the reactor what they should
   * know while nothing fails yet: that the node cannot be reached (at the
   * first failed attempt, then every 30 s while it lasts, naming the target
   * and the next retry; `warn`), and that it was reached again (`info`).
   * Any object with `warn` and `info` methods (a console, pino, winston...).
   * `false`: say nothing.
   * @default to stderr (`console.warn`, `console.error`)
   */
  readonly logger?: ReactorLogger | false;
}

/** The `logger` option of {@link ReactorClient}: a console, or any logger with these methods. */
export interface ReactorLogger {
  warn(message: string): void;
  info(message: string): void;
}

/** The default `logger`: both to stderr, so that a program's stdout stays its own. */
const STDERR_LOGGER: ReactorLogger = {
  warn: (message) => console.warn(message),
  info: (message) => console.error(message),
};

/** Options of {@link ReactorClient.consume}. */
export interface ConsumeOptions {
  /** Aborting stops consuming (the promise resolves). */
  readonly signal?: AbortSignal;
}

interface Sink {
  next(event: ReactorEvent): void | PromiseLike<void>;
  complete(): void;
  error(err: Error): void;
}

function positiveInteger(value: number, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new ConfigError(`${field}: ${value} is not an integer in 1..${max}`);
  return value;
}

function unexpected(command: string, outcome: CommandOutcome): ProtocolError {
  return new ProtocolError(`${command}: the node answered with a result of kind ${outcome.$case}`);
}

/**
 * A remote reactor. Nothing happens on construction: the Attach stream opens
 * when the first consumer subscribes (to {@link events$}, {@link peers$},
 * {@link receive$}, {@link consume} or the async iterator) and is cancelled
 * when the last one leaves.
 *
 * **Multiple consumers share one stream.** The node allows one stream per
 * reactor name, so every consumer of one client sees the same events (like
 * rxjs `share()`): a late consumer sees the events from then on (use
 * {@link peers$} for the current peers). An event counts as consumed — and is
 * acknowledged, and its credit returned — when every consumer is done with
 * it: when `next` returned for Observable subscribers, when the promise
 * settled for {@link consume} handlers and async iteration.
 *
 * **Sessions.** After a transport failure the client re-attaches (see
 * `reconnect`) and resumes its session: the application sees every event once,
 * in order. When the node refuses the resume, a `session` event with
 * `resumed: false` and a `refusedReason` comes first, then a snapshot (`start`,
 * `initPeer` + `addPeer` per connected peer). Resubscribing after every
 * consumer left also resumes, within the node's resume window.
 *
 * **Commands** resolve with the node's answer or reject with a
 * {@link CommandError}. Issued while (re-)attaching, they wait for the session
 * — up to `commandQueueCapacity` of them; beyond it they fail at once with
 * `CommandQueueFullError`. Issued with no consumer, they fail with
 * `NotAttachedError`. A command on the wire when the stream breaks fails with
 * `CommandInterruptedError` (it is never re-sent on its own).
 *
 * @example
 * ```ts
 * import { ReactorClient } from "@switchboard/client";
 *
 * const PING = 0x70;
 * const reactor = new ReactorClient({ target: "127.0.0.1:26670", name: "app", channels: [{ id: PING, priority: 5, sendQueueCapacity: 100 }] });
 * reactor.events$.subscribe({
 *   next: (event) => {
 *     if (event.type === "addPeer") void reactor.send(event.peer, PING, new TextEncoder().encode("ping"));
 *     if (event.type === "receive") console.log(`${event.peer.id}: ${new TextDecoder().decode(event.message)}`);
 *   },
 *   // e.g. the node refused the reactor (its name is taken there): an AttachError saying what to do
 *   error: (err: unknown) => console.error(String(err)),
 * });
 * ```
 */
export class ReactorClient {
  private readonly engine: Engine;
  private readonly sinks = new Set<Sink>();
  private readonly peerChanges = new Subject<void>();

  /**
   * The reactor's events. Cold: subscribing opens the Attach stream (when no
   * other consumer has), unsubscribing the last consumer cancels it. Completes
   * after the node's `stop` event and the end of the stream; errors with an
   * `AttachError` when the node refuses the reactor or the reconnect attempts
   * run out.
   *
   * @example
   * ```ts
   * const subscription = reactor.events$.subscribe({
   *   next: (e) => console.log(e.type),
   *   complete: () => console.log("the node stopped"),
   *   error: (err: unknown) => console.error(String(err)), // an AttachError says what was wrong and what to do
   * });
   * // later: cancels the stream
   * subscription.unsubscribe();
   * ```
   */
  readonly events$: Observable<ReactorEvent>;

  /**
   * The connected peers (after `addPeer`, before `removePeer`), by node ID, as
   * the application has seen them: emits the current map at once and after
   * every change. Subscribing holds the stream open like any consumer.
   *
   * @example
   * ```ts
   * reactor.peers$.subscribe((peers) => console.log(`${peers.size} peers: ${[...peers.keys()].join(", ")}`));
   * ```
   */
  readonly peers$: Observable<ReadonlyMap<string, PeerInfo>>;

  constructor(options: ReactorClientOptions) {
    if (typeof options.name !== "string" || options.name === "") throw new ConfigError("name: required");
    if (options.transport === undefined && (typeof options.target !== "string" || options.target === "")) throw new ConfigError("target: required (host:port or unix:///path)");
    const given = typeof options.creditWindow === "number" ? { messages: options.creditWindow } : (options.creditWindow ?? {});
    const window = {
      messages: positiveInteger(given.messages ?? DEFAULT_CREDIT_WINDOW_MESSAGES, "creditWindow.messages", 0xffff_ffff),
      bytes: positiveInteger(given.bytes ?? DEFAULT_CREDIT_WINDOW_BYTES, "creditWindow.bytes"),
    };
    const reconnect = resolveReconnectConfig(options.reconnect);
    const traceOption = options.trace ?? (process.env[TRACE_ENV_VAR] !== undefined && process.env[TRACE_ENV_VAR] !== "");
    const trace = typeof traceOption === "function" ? traceOption : traceOption ? (line: string) => console.error(line) : undefined;
    const openTransport = (): TransportLease => {
      if (options.transport !== undefined) return { transport: options.transport, release: () => undefined };
      const grpc = createGrpcAttachTransport(options.target, {
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        ...(options.channelOptions === undefined ? {} : { channelOptions: options.channelOptions }),
        ...(options.token === undefined ? {} : { token: options.token }),
        reconnectDelayMs: reconnect.initialDelayMs,
        maxReconnectDelayMs: reconnect.maxDelayMs,
      });
      return { transport: grpc.transport, release: () => grpc.close() };
    };
    this.engine = new Engine(
      {
        name: options.name,
        channels: [...options.channels],
        window,
        resume: options.resume ?? true,
        reconnect,
        maxInflightCommands: positiveInteger(options.maxInflightCommands ?? DEFAULT_MAX_INFLIGHT_COMMANDS, "maxInflightCommands"),
        maxInflightCommandBytes: positiveInteger(options.maxInflightCommandBytes ?? DEFAULT_MAX_INFLIGHT_COMMAND_BYTES, "maxInflightCommandBytes"),
        commandQueueCapacity: positiveInteger(options.commandQueueCapacity ?? DEFAULT_COMMAND_QUEUE_CAPACITY, "commandQueueCapacity"),
        scheduler: options.scheduler,
        trace,
        target: typeof options.target === "string" ? options.target : "",
        logger: options.logger === false ? undefined : (options.logger ?? STDERR_LOGGER),
      },
      openTransport,
      {
        deliver: (event) => this.deliver(event),
        finished: (error) => this.finished(error),
        peersChanged: () => this.peerChanges.next(),
      },
    );

    this.events$ = new Observable<ReactorEvent>((subscriber) => {
      const sink: Sink = {
        next: (event) => subscriber.next(event),
        complete: () => subscriber.complete(),
        error: (err) => subscriber.error(err),
      };
      this.addSink(sink);
      return () => this.removeSink(sink);
    });

    this.peers$ = new Observable<ReadonlyMap<string, PeerInfo>>((subscriber) => {
      subscriber.next(new Map(this.engine.peers));
      const changes = this.peerChanges.subscribe(() => subscriber.next(new Map(this.engine.peers)));
      const events = this.events$.subscribe({ error: (err: unknown) => subscriber.error(err), complete: () => subscriber.complete() });
      return () => {
        changes.unsubscribe();
        events.unsubscribe();
      };
    });
  }

  /** The state of the stream: `idle` (no consumer), `connecting`, `attached`, `backoff` (waiting to re-attach) or `finishing`. */
  get state(): EngineStateName {
    return this.engine.stateName;
  }

  /** The node's NodeInfo from the last registration; null before the first. */
  get nodeInfo(): NodeInfo | null {
    return this.engine.currentNodeInfo;
  }

  /** The connected peers right now (see {@link peers$}). */
  get peers(): ReadonlyMap<string, PeerInfo> {
    return new Map(this.engine.peers);
  }

  /**
   * The messages received on one channel.
   *
   * @example
   * ```ts
   * reactor.receive$(0x70).subscribe(({ peer, message }) => console.log(peer.id, message.length));
   * ```
   */
  receive$(channelId: number): Observable<ReceiveEvent> {
    return this.events$.pipe(filter((e): e is ReceiveEvent => e.type === "receive" && e.channelId === channelId));
  }

  /**
   * Consumes events with real backpressure: the next event (and the credit
   * that lets the node send more) waits until `handler`'s promise settles.
   * Resolves when the node stopped (after its `stop` event) or `signal`
   * aborts; rejects with the stream's error or the first error of `handler`.
   *
   * @example
   * ```ts
   * await reactor.consume(async (event) => {
   *   if (event.type === "receive") await db.save(event.message); // the node waits for us
   * });
   * ```
   */
  consume(handler: (event: ReactorEvent) => void | PromiseLike<void>, options: ConsumeOptions = {}): Promise<void> {
    const signal = options.signal;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      let done = false;
      const finish = (err: unknown): void => {
        if (done) return;
        done = true;
        signal?.removeEventListener("abort", onAbort);
        this.removeSink(sink);
        if (err === undefined) resolve();
        else reject(err instanceof Error ? err : new Error("consume handler failed", { cause: err }));
      };
      const onAbort = (): void => finish(undefined);
      const sink: Sink = {
        next: (event) => {
          if (done) return;
          let result: void | PromiseLike<void>;
          try {
            result = handler(event);
          } catch (err) {
            finish(err ?? new Error("handler threw"));
            return;
          }
          if (result === undefined || typeof result.then !== "function") return;
          return Promise.resolve(result).then(undefined, (err: unknown) => finish(err ?? new Error("handler rejected")));
        },
        complete: () => finish(undefined),
        error: (err) => finish(err),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.addSink(sink);
    });
  }

  /**
   * Iterates the events with backpressure: the next event is taken (and
   * acknowledged) when the loop asks for it. Leaving the loop leaves the stream.
   *
   * @example
   * ```ts
   * for await (const event of reactor) {
   *   if (event.type === "stop") break;
   * }
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<ReactorEvent, undefined> {
    let release: (() => void) | null = null;
    let waiter: { resolve: (r: IteratorResult<ReactorEvent, undefined>) => void; reject: (err: Error) => void } | null = null;
    let pending: ReactorEvent | null = null;
    let ended: { error: Error | undefined } | null = null;
    let started = false;
    const sink: Sink = {
      next: (event) =>
        new Promise<void>((resolve) => {
          release = resolve;
          if (waiter !== null) {
            const w = waiter;
            waiter = null;
            w.resolve({ value: event, done: false });
          } else pending = event;
        }),
      complete: () => end(undefined),
      error: (err) => end(err),
    };
    const end = (error: Error | undefined): void => {
      if (ended !== null) return;
      ended = { error };
      const w = waiter;
      waiter = null;
      if (w === null) return;
      if (error === undefined) w.resolve({ value: undefined, done: true });
      else w.reject(error);
    };
    const releasePrevious = (): void => {
      const r = release;
      release = null;
      r?.();
    };
    return {
      next: () => {
        releasePrevious();
        if (pending !== null) {
          const value = pending;
          pending = null;
          return Promise.resolve({ value, done: false });
        }
        if (ended !== null) return ended.error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(ended.error);
        const p = new Promise<IteratorResult<ReactorEvent, undefined>>((resolve, reject) => {
          waiter = { resolve, reject };
        });
        if (!started) {
          started = true;
          this.addSink(sink);
        }
        return p;
      },
      return: () => {
        releasePrevious();
        end(undefined);
        this.removeSink(sink);
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // ------------------------------------------------------------ commands

  /**
   * Queues `message` for `peer` on `channelId`, waiting up to `timeoutMs`
   * (default: the node's 10 s) for room in the channel's send queue.
   * Resolves with whether it was queued (CometBFT's `Send`).
   *
   * @example
   * ```ts
   * const queued = await reactor.send(event.peer, 0x70, bytes, { timeoutMs: 1_000 });
   * ```
   */
  async send(peer: PeerRef, channelId: number, message: Uint8Array, options: { readonly timeoutMs?: number } = {}): Promise<boolean> {
    const out = await this.engine.command({ $case: "send", value: { ...peerRefToApi(peer), channelId, message, timeoutMs: options.timeoutMs ?? 0 } }, "send");
    if (out.$case !== "send") throw unexpected("send", out);
    return out.value.queued;
  }

  /**
   * Queues `message` only if the channel has room now (CometBFT's `TrySend`).
   *
   * @example
   * ```ts
   * if (!(await reactor.trySend(peer, 0x70, bytes))) console.warn("peer is slow, dropped");
   * ```
   */
  async trySend(peer: PeerRef, channelId: number, message: Uint8Array): Promise<boolean> {
    const out = await this.engine.command({ $case: "trySend", value: { ...peerRefToApi(peer), channelId, message } }, "trySend");
    if (out.$case !== "send") throw unexpected("trySend", out);
    return out.value.queued;
  }

  /**
   * Sends `message` to every connected peer; resolves with one result per peer.
   *
   * @example
   * ```ts
   * const results = await reactor.broadcast(0x70, bytes);
   * console.log(results.filter((r) => r.queued).length, "peers queued it");
   * ```
   */
  async broadcast(channelId: number, message: Uint8Array): Promise<BroadcastResult[]> {
    const out = await this.engine.command({ $case: "broadcast", value: { channelId, message } }, "broadcast");
    if (out.$case !== "broadcast") throw unexpected("broadcast", out);
    return out.value.results.map((r) => ({ peerId: r.peerId, queued: r.queued }));
  }

  /**
   * Disconnects a misbehaving peer. Persistent peers are redialled unless `noReconnect`.
   *
   * @example
   * ```ts
   * await reactor.stopPeerForError(event.peer, "sent an invalid block");
   * ```
   */
  async stopPeerForError(peer: PeerRef, reason: string, options: { readonly noReconnect?: boolean } = {}): Promise<void> {
    const out = await this.engine.command({ $case: "stopPeerForError", value: { ...peerRefToApi(peer), reason, noReconnect: options.noReconnect ?? false } }, "stopPeerForError");
    if (out.$case !== "done") throw unexpected("stopPeerForError", out);
  }

  /**
   * Disconnects a peer without blame. With `flush`, what is already queued to
   * the peer is written out first (CometBFT's `Peer.FlushStop`, as a seed
   * does after answering PEX): from the call on the peer takes no new sends
   * and delivers no more messages, and the promise resolves once it is
   * removed (within the node's flush-stop timeout, 10 s).
   *
   * @example
   * ```ts
   * await reactor.send(event.peer, 0x00, addrs);
   * await reactor.stopPeerGracefully(event.peer, { flush: true }); // addrs reach the peer first
   * ```
   */
  async stopPeerGracefully(peer: PeerRef, options: { readonly flush?: boolean } = {}): Promise<void> {
    const out = await this.engine.command(
      { $case: "stopPeerGracefully", value: { ...peerRefToApi(peer), flush: options.flush ?? false } },
      "stopPeerGracefully",
    );
    if (out.$case !== "done") throw unexpected("stopPeerGracefully", out);
  }

  /**
   * Tells the node's address book the peer is useful.
   *
   * @example
   * ```ts
   * await reactor.markPeerAsGood(event.peer);
   * ```
   */
  async markPeerAsGood(peer: PeerRef): Promise<void> {
    const out = await this.engine.command({ $case: "markPeerAsGood", value: peerRefToApi(peer) }, "markPeerAsGood");
    if (out.$case !== "done") throw unexpected("markPeerAsGood", out);
  }

  /**
   * Dials `id@host:port` addresses in the background (watch for `addPeer`).
   *
   * @example
   * ```ts
   * await reactor.dialPeers(["e0f1...@10.0.0.2:26656"], { persistent: true });
   * ```
   */
  async dialPeers(addresses: readonly string[], options: { readonly persistent?: boolean } = {}): Promise<void> {
    const out = await this.engine.command({ $case: "dialPeers", value: { addresses: [...addresses], persistent: options.persistent ?? false } }, "dialPeers");
    if (out.$case !== "done") throw unexpected("dialPeers", out);
  }

  /**
   * Reads the per-peer store shared by the node's reactors; undefined when the key is not set.
   *
   * @example
   * ```ts
   * const height = await reactor.getPeerData(peer, "height");
   * ```
   */
  async getPeerData(peer: PeerRef, key: string): Promise<Uint8Array | undefined> {
    const out = await this.engine.command({ $case: "getPeerData", value: { ...peerRefToApi(peer), key } }, "getPeerData");
    if (out.$case !== "peerData") throw unexpected("getPeerData", out);
    return out.value.found ? out.value.value : undefined;
  }

  /**
   * Writes the per-peer store shared by the node's reactors.
   *
   * @example
   * ```ts
   * await reactor.setPeerData(peer, "height", new TextEncoder().encode("42"));
   * ```
   */
  async setPeerData(peer: PeerRef, key: string, value: Uint8Array): Promise<void> {
    const out = await this.engine.command({ $case: "setPeerData", value: { ...peerRefToApi(peer), key, value } }, "setPeerData");
    if (out.$case !== "done") throw unexpected("setPeerData", out);
  }

  /**
   * Lists the node's connected peers, as the node sees them now.
   *
   * @example
   * ```ts
   * for (const p of await reactor.listPeers()) console.log(p.id, p.outbound ? "out" : "in");
   * ```
   */
  async listPeers(): Promise<PeerInfo[]> {
    const out = await this.engine.command({ $case: "listPeers", value: {} }, "listPeers");
    if (out.$case !== "peers") throw unexpected("listPeers", out);
    return out.value.peers.map(peerFromApi);
  }

  /**
   * Counts peers as CometBFT's `NumPeers` does.
   *
   * @example
   * ```ts
   * const { outbound, inbound, dialing } = await reactor.numPeers();
   * ```
   */
  async numPeers(): Promise<PeerCounts> {
    const out = await this.engine.command({ $case: "numPeers", value: {} }, "numPeers");
    if (out.$case !== "numPeers") throw unexpected("numPeers", out);
    return { outbound: out.value.outbound, inbound: out.value.inbound, dialing: out.value.dialing };
  }

  /**
   * Describes one connected peer with its connection status.
   *
   * @example
   * ```ts
   * const status = await reactor.getPeer(peerId);
   * console.log(status.sendRate, "B/s");
   * ```
   */
  async getPeer(peerId: string): Promise<PeerStatus> {
    const out = await this.engine.command({ $case: "getPeer", value: { peerId } }, "getPeer");
    if (out.$case !== "peer") throw unexpected("getPeer", out);
    return peerStatusFromApi(out.value);
  }

  // ------------------------------------------------------------ consumers

  private addSink(sink: Sink): void {
    this.sinks.add(sink);
    if (this.sinks.size === 1) this.engine.start();
  }

  private removeSink(sink: Sink): void {
    if (this.sinks.delete(sink) && this.sinks.size === 0) this.engine.stop();
  }

  private deliver(event: ReactorEvent): void | PromiseLike<void> {
    let waits: PromiseLike<void>[] | undefined;
    for (const sink of [...this.sinks]) {
      const r = sink.next(event);
      if (r !== undefined) (waits ??= []).push(r);
    }
    if (waits === undefined) return;
    return Promise.all(waits).then(() => undefined);
  }

  private finished(error: Error | undefined): void {
    const sinks = [...this.sinks];
    this.sinks.clear();
    for (const sink of sinks) {
      if (error === undefined) sink.complete();
      else sink.error(error);
    }
  }
}
