/**
 * The callback style: a reactor written like CometBFT's Go `Reactor`
 * interface, run on a {@link ReactorClient}. Each callback may return a
 * promise; the next event waits for it (backpressure, as a Go reactor's
 * `Receive` holds up its peer until it returns).
 *
 * @module
 */
import { ReactorClient, type ReactorClientOptions } from "./reactor-client.js";
import type { Envelope, PeerInfo, ReactorEvent, SessionEvent } from "./types.js";

/**
 * CometBFT's `Reactor` calls (p2p/base_reactor.go), for a reactor in another
 * process. Every method is optional. Per connection the calls follow
 * `initPeer receive* [addPeer receive*] removePeer`, all between `onStart`
 * and `onStop`.
 */
export interface Reactor {
  /** The node started (also the first call of a fresh session after a refused resume). */
  onStart?(): void | Promise<void>;
  /** The node stopped; nothing follows. */
  onStop?(): void | Promise<void>;
  /** A new connection: set up per-peer state; do not send yet. */
  initPeer?(peer: PeerInfo): void | Promise<void>;
  /** The connection started: sending is allowed. */
  addPeer?(peer: PeerInfo): void | Promise<void>;
  /** The connection stopped (`reason` is empty for a graceful stop). */
  removePeer?(peer: PeerInfo, reason: string): void | Promise<void>;
  /** A message on one of the reactor's channels. */
  receive?(envelope: Envelope): void | Promise<void>;
  /**
   * The stream was (re)attached. When `session.resumed` is false after a
   * refused resume, drop per-peer state: a snapshot (`onStart`, `initPeer` +
   * `addPeer` per peer) follows.
   */
  onSession?(session: SessionEvent): void | Promise<void>;
}

/** A reactor started by {@link runReactor}. */
export interface RunningReactor {
  /** The client the reactor runs on, for commands (`send`, `broadcast`, ...). */
  readonly client: ReactorClient;
  /** Resolves when the node stopped (or {@link stop} was called); rejects with the stream's or a callback's error. */
  readonly done: Promise<void>;
  /** Leaves the stream. */
  stop(): void;
}

/** Calls the reactor method that matches `event`. */
export function dispatch(reactor: Reactor, event: ReactorEvent): void | Promise<void> {
  switch (event.type) {
    case "session":
      return reactor.onSession?.(event);
    case "start":
      return reactor.onStart?.();
    case "stop":
      return reactor.onStop?.();
    case "initPeer":
      return reactor.initPeer?.(event.peer);
    case "addPeer":
      return reactor.addPeer?.(event.peer);
    case "removePeer":
      return reactor.removePeer?.(event.peer, event.reason);
    case "receive":
      return reactor.receive?.({ src: event.peer, channelId: event.channelId, message: event.message });
  }
}

/**
 * Attaches a reactor written in the Go style and runs it until the node stops.
 * `reactor` may be a factory that gets the client, for commands.
 *
 * @example
 * ```ts
 * import { runReactor } from "@switchboard/client";
 *
 * const PING = 0x70;
 * const running = runReactor({ target: "127.0.0.1:26670", name: "app", channels: [{ id: PING, priority: 5 }] }, (sw) => ({
 *   addPeer: (peer) => sw.send(peer, PING, Uint8Array.of(1)).then(() => undefined),
 *   receive: async ({ src, message }) => {
 *     if (message[0] === 1) await sw.send(src, PING, Uint8Array.of(2));
 *   },
 * }));
 * await running.done;
 * ```
 */
export function runReactor(options: ReactorClientOptions | ReactorClient, reactor: Reactor | ((client: ReactorClient) => Reactor)): RunningReactor {
  const client = options instanceof ReactorClient ? options : new ReactorClient(options);
  const impl = typeof reactor === "function" ? reactor(client) : reactor;
  const abort = new AbortController();
  const done = client.consume((event) => dispatch(impl, event), { signal: abort.signal });
  return { client, done, stop: () => abort.abort() };
}
