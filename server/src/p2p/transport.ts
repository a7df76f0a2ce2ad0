/**
 * The TCP transport: listens and dials, and upgrades every raw socket into an
 * authenticated, encrypted connection with a validated NodeInfo, in
 * CometBFT's order (p2p/transport.go `upgrade`):
 *
 * 1. SecretConnection handshake (deadline `handshakeTimeoutMs`);
 * 2. outbound only: the authenticated key must hash to the dialed ID;
 * 3. NodeInfo exchange (a second, separate deadline);
 * 4. NodeInfo.Validate;
 * 5. the NodeInfo's ID must equal the authenticated ID;
 * 6. not ourselves;
 * 7. CompatibleWith.
 *
 * Any failure closes the socket; the peer is told nothing, as in CometBFT.
 * The transport owns nothing after the upgrade: the Switch takes the
 * connection.
 */
import { type AddressInfo, type Server, type Socket, connect, createServer } from "node:net";
import type { Logger } from "pino";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../wire/secret-connection/handshake.js";
import type { SecretConnection } from "../wire/secret-connection/secret-connection.js";
import { NodeInfoHandshake } from "../wire/node-info-exchange.js";
import { type NodeInfo, checkCompatible, validateNodeInfo } from "../wire/node-info.js";
import { WireError } from "../wire/errors.js";
import { ConnectionRejectedError, DialError, type RejectReason } from "./errors.js";
import { type HandshakeSlot, HandshakeSlots } from "./handshake-slots.js";
import { type NetAddress, formatNetAddress } from "./net-address.js";
import type { NodeKey } from "./node-key.js";

/** CometBFT's hard-coded handshake deadline (p2p/transport.go), the SecretConnection's own, applied to each of the two handshakes. */
export { DEFAULT_HANDSHAKE_TIMEOUT_MS };
/** CometBFT's hard-coded TCP dial deadline. */
export const DEFAULT_DIAL_TIMEOUT_MS = 1_000;
/** Handshakes in progress at once; beyond it new inbound sockets are closed at once. */
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 64;

/** An authenticated connection with a validated, compatible NodeInfo. */
export interface UpgradedConnection {
  /** The encrypted byte stream; the MConnection runs on it. */
  readonly conn: SecretConnection;
  /** What the remote said about itself. Its nodeId is the authenticated ID. */
  readonly nodeInfo: NodeInfo;
  /** The remote end of the TCP socket. */
  readonly socketHost: string;
  readonly socketPort: number;
  readonly outbound: boolean;
  /** The address we dialed (outbound only). */
  readonly dialedAddress: NetAddress | undefined;
  /**
   * The TCP socket under `conn`, seen only through its buffered byte counts
   * (for metrics: the SecretConnection owns the socket).
   */
  readonly rawSocket?: SocketBuffers;
}

/** What a socket holds in user space: ciphertext read and not yet opened, and written and not yet sent. */
export interface SocketBuffers {
  readonly readableLength: number;
  readonly writableLength: number;
}

export interface TransportOptions {
  readonly nodeKey: NodeKey;
  /** Our NodeInfo, read at each handshake. */
  readonly nodeInfo: () => NodeInfo;
  readonly logger: Logger;
  /** @default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS} */
  readonly handshakeTimeoutMs?: number;
  /** @default {@link DEFAULT_DIAL_TIMEOUT_MS} */
  readonly dialTimeoutMs?: number;
  /** @default {@link DEFAULT_MAX_CONCURRENT_HANDSHAKES} */
  readonly maxConcurrentHandshakes?: number;
}

/** Why an accept filter refused a socket. */
export interface AcceptRefusal {
  readonly reason: RejectReason;
  readonly detail: string;
}

/** Decides, before any handshake byte, whether to take an inbound socket. Returns why it refuses, or null. */
export type AcceptFilter = (remoteHost: string, remotePort: number) => AcceptRefusal | null;

export interface TransportEvents {
  /** A fully upgraded inbound connection. The receiver owns it from here. */
  onInbound(conn: UpgradedConnection): void;
  /** An inbound socket refused or failed before it became a connection (`remote`: the socket's peer address). */
  onInboundRejected?(remote: { readonly host: string; readonly port: number }, error: Error): void;
}

export interface UpgradeOptions {
  readonly nodeKey: NodeKey;
  readonly ourNodeInfo: NodeInfo;
  readonly handshakeTimeoutMs: number;
  /** Outbound only: the ID we dialed. */
  readonly expectedId?: string;
  readonly signal?: AbortSignal;
}

function toRejection(reason: ConnectionRejectedError["reason"], err: unknown, peerId?: string): ConnectionRejectedError {
  if (err instanceof ConnectionRejectedError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new ConnectionRejectedError(reason, detail, peerId === undefined ? { cause: err } : { cause: err, peerId });
}

/**
 * Upgrades a connected socket. On failure the socket is destroyed and a
 * {@link ConnectionRejectedError} says why.
 */
export function upgradeConnection(socket: Socket, options: UpgradeOptions): Promise<UpgradedConnection> {
  return startUpgrade(socket, options).result;
}

/** An upgrade in progress (what the transport keeps to abort it). */
interface Upgrade {
  readonly result: Promise<UpgradedConnection>;
  readonly abort: (reason: Error) => void;
}

function startUpgrade(socket: Socket, options: UpgradeOptions): Upgrade {
  const outbound = options.expectedId !== undefined;
  const socketHost = socket.remoteAddress ?? "";
  const socketPort = socket.remotePort ?? 0;
  const expectedId = options.expectedId?.toLowerCase();
  // Steps 1–3 as one state machine on the socket's reads (wire/node-info-exchange.ts): the SecretConnection
  // handshake, the dialed-ID check once the remote is authenticated, then the NodeInfo exchange under its own
  // deadline. The SecretConnection is built only once the remote's NodeInfo is in.
  const handshake = new NodeInfoHandshake(socket, options.nodeKey.privateKey, options.ourNodeInfo, {
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    nodeInfoTimeoutMs: options.handshakeTimeoutMs,
    signals: [options.signal],
    onAuthenticated: (remoteId) => {
      if (expectedId !== undefined && remoteId !== expectedId) {
        throw new ConnectionRejectedError("auth_failure", `dialed ${options.expectedId ?? ""} but the peer authenticated as ${remoteId}`, { peerId: remoteId });
      }
    },
  });
  return {
    result: finishUpgrade(socket, handshake, options, { socketHost, socketPort, outbound }),
    abort: (reason) => {
      handshake.abort(reason);
    },
  };
}

async function finishUpgrade(
  socket: Socket,
  handshake: NodeInfoHandshake,
  options: UpgradeOptions,
  { socketHost, socketPort, outbound }: { socketHost: string; socketPort: number; outbound: boolean },
): Promise<UpgradedConnection> {
  let conn: SecretConnection;
  let theirs: NodeInfo;
  try {
    ({ conn, nodeInfo: theirs } = await handshake.result);
  } catch (err) {
    socket.destroy();
    const remoteId = handshake.authenticatedId;
    // Before authentication the handshake failed; after it, the ID check or the NodeInfo exchange.
    throw remoteId === null ? toRejection("handshake_failed", err) : toRejection("auth_failure", err, remoteId);
  }
  // From here on the refusals name the authenticated ID.
  const remoteId = conn.remoteNodeId;
  try {
    try {
      validateNodeInfo(theirs);
    } catch (err) {
      throw toRejection("node_info_invalid", err, remoteId);
    }
    if (theirs.nodeId !== remoteId) {
      throw new ConnectionRejectedError("auth_failure", `NodeInfo says ${theirs.nodeId} but the peer authenticated as ${remoteId}`, { peerId: remoteId });
    }
    if (theirs.nodeId === options.ourNodeInfo.nodeId) {
      throw new ConnectionRejectedError("self", "connected to ourselves", { peerId: remoteId });
    }
    try {
      checkCompatible(options.ourNodeInfo, theirs);
    } catch (err) {
      throw toRejection("incompatible", err, remoteId);
    }
    return { conn, nodeInfo: theirs, socketHost, socketPort, outbound, dialedAddress: undefined, rawSocket: socket };
  } catch (err) {
    conn.destroy();
    socket.destroy();
    throw err instanceof ConnectionRejectedError ? err : toRejection(err instanceof WireError ? "auth_failure" : "handshake_failed", err, remoteId);
  }
}

type AbortHandler = (reason: Error) => void;

/**
 * Aborts many operations in progress from one listener per signal, however
 * many operations watch it: the transport's own signal (closing) and a
 * dialer's signal (the Switch's lifetime) are shared by every handshake, so
 * no handshake adds an `'abort'` listener or builds a combined signal.
 */
class AbortFanout {
  private readonly groups = new Map<AbortSignal, { readonly handlers: Set<AbortHandler>; readonly onAbort: () => void }>();

  /** Calls `handler` with the signal's reason if it aborts before the returned function is called. */
  watch(signal: AbortSignal, handler: AbortHandler): () => void {
    let group = this.groups.get(signal);
    if (group === undefined) {
      const handlers = new Set<AbortHandler>();
      const onAbort = (): void => {
        this.groups.delete(signal);
        const reason = asError(signal.reason);
        for (const h of handlers) h(reason);
      };
      group = { handlers, onAbort };
      this.groups.set(signal, group);
      signal.addEventListener("abort", onAbort, { once: true });
    }
    const { handlers, onAbort } = group;
    handlers.add(handler);
    return () => {
      handlers.delete(handler);
      // A signal no operation watches keeps no listener of ours.
      if (handlers.size === 0 && this.groups.get(signal)?.handlers === handlers) {
        this.groups.delete(signal);
        signal.removeEventListener("abort", onAbort);
      }
    };
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`, { cause: reason });
}

/** Listens for and dials peers; hands upgraded connections to its owner. */
export class Transport {
  private server: Server | null = null;
  private readonly handshakeTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly maxConcurrentHandshakes: number;
  /** Inbound handshakes in progress, shared out by address and network (handshake-slots.ts). */
  private readonly inboundSlots: HandshakeSlots;
  /** The socket of each inbound handshake in progress, to close it if its slot is evicted. */
  private readonly inboundSockets = new Map<HandshakeSlot, Socket>();
  private outboundHandshakes = 0;
  private closed = false;
  private readonly pendingSockets = new Set<Socket>();
  private readonly abort = new AbortController();
  /** Every handshake in progress watches `abort` (and a dial its caller's signal) through this: one listener per signal. */
  private readonly aborts = new AbortFanout();
  private acceptFilter: AcceptFilter = () => null;
  private preferredHost: (host: string) => boolean = () => false;

  constructor(private readonly options: TransportOptions) {
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    this.maxConcurrentHandshakes = options.maxConcurrentHandshakes ?? DEFAULT_MAX_CONCURRENT_HANDSHAKES;
    this.inboundSlots = new HandshakeSlots(this.maxConcurrentHandshakes);
  }

  /** Number of inbound and outbound handshakes under way. */
  get handshakesInProgress(): number {
    return this.inboundSlots.inUse + this.outboundHandshakes;
  }

  /** Inbound handshakes evicted for a newcomer since start (handshake-slots.ts). */
  get handshakeEvictions(): number {
    return this.inboundSlots.evictions;
  }

  /** Installs the filter applied to each inbound socket before its handshake. */
  setAcceptFilter(filter: AcceptFilter): void {
    this.acceptFilter = filter;
  }

  /**
   * Installs the test for hosts whose inbound handshakes may use the
   * reserved slots and evict ordinary ones (persistent peers' hosts,
   * addresses the address book knows to be good).
   */
  setPreferredHost(test: (host: string) => boolean): void {
    this.preferredHost = test;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async listen(host: string, port: number, events: TransportEvents): Promise<{ host: string; port: number }> {
    if (this.server !== null) throw new Error("transport is already listening");
    const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 });
    server.on("connection", (socket) => {
      this.onSocket(socket, events);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.options.logger.error({ err }, "listener error"));
    const addr = server.address() as AddressInfo;
    return { host: addr.address, port: addr.port };
  }

  private onSocket(socket: Socket, events: TransportEvents): void {
    const remoteHost = socket.remoteAddress ?? "";
    const remotePort = socket.remotePort ?? 0;
    const remote = { host: remoteHost, port: remotePort };
    // The receiver logs and counts refusals (the Switch: "inbound peer rejected").
    const reject = (error: Error): void => {
      socket.destroy();
      events.onInboundRejected?.(remote, error);
    };
    if (this.closed) {
      socket.destroy();
      return;
    }
    const refusal = this.acceptFilter(remoteHost, remotePort);
    if (refusal !== null) {
      reject(new ConnectionRejectedError(refusal.reason, refusal.detail));
      return;
    }
    const admission = this.inboundSlots.admit(remoteHost, this.preferredHost(remoteHost));
    if ("refused" in admission) {
      reject(new ConnectionRejectedError("too_many_handshakes", admission.refused));
      return;
    }
    const slot = admission.slot;
    if (admission.evicted !== null) {
      // Its handshake fails on the closed socket and is reported as evicted below.
      this.inboundSockets.get(admission.evicted)?.destroy();
    }
    this.inboundSockets.set(slot, socket);
    this.pendingSockets.add(socket);
    socket.on("error", () => {
      /* reported through the handshake */
    });
    const upgrade = startUpgrade(socket, {
      nodeKey: this.options.nodeKey,
      ourNodeInfo: this.options.nodeInfo(),
      handshakeTimeoutMs: this.handshakeTimeoutMs,
    });
    const unwatch = this.aborts.watch(this.abort.signal, upgrade.abort);
    upgrade.result
      .then(
        (conn) => {
          if (this.closed) {
            conn.conn.destroy();
            return;
          }
          events.onInbound(conn);
        },
        (err: unknown) => {
          const why = slot.evictedBecause;
          if (why !== null) reject(new ConnectionRejectedError("handshake_evicted", `its handshake slot went to a newcomer: ${why}`));
          else reject(err instanceof Error ? err : new Error(String(err)));
        },
      )
      .finally(() => {
        unwatch();
        this.inboundSlots.release(slot);
        this.inboundSockets.delete(slot);
        this.pendingSockets.delete(socket);
      });
  }

  /** Dials `addr` and upgrades the connection, checking that the peer is who we dialed. */
  async dial(addr: NetAddress, signal?: AbortSignal): Promise<UpgradedConnection> {
    if (this.closed) throw new DialError(formatNetAddress(addr), "transport is closed");
    // Ours and the caller's, watched through the fan-out: no listener and no combined signal per dial.
    const signals = signal === undefined ? [this.abort.signal] : [this.abort.signal, signal];
    const socket = await this.connectTcp(addr, signals);
    this.outboundHandshakes++;
    this.pendingSockets.add(socket);
    const upgrade = startUpgrade(socket, {
      nodeKey: this.options.nodeKey,
      ourNodeInfo: this.options.nodeInfo(),
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      expectedId: addr.id,
    });
    const unwatch = this.watchAll(signals, upgrade.abort);
    try {
      const conn = await upgrade.result;
      return { ...conn, dialedAddress: addr };
    } finally {
      unwatch();
      this.outboundHandshakes--;
      this.pendingSockets.delete(socket);
    }
  }

  /** Calls `handler` once if any of `signals` aborts (an aborted one at once), until the returned function is called. */
  private watchAll(signals: readonly AbortSignal[], handler: AbortHandler): () => void {
    let called = false;
    const once = (reason: Error): void => {
      if (called) return;
      called = true;
      handler(reason);
    };
    const unwatches = signals.map((s) => this.aborts.watch(s, once));
    const aborted = signals.find((s) => s.aborted);
    if (aborted !== undefined) once(asError(aborted.reason));
    return () => {
      for (const u of unwatches) u();
    };
  }

  private connectTcp(addr: NetAddress, signals: readonly AbortSignal[]): Promise<Socket> {
    const label = formatNetAddress(addr);
    return new Promise<Socket>((resolve, reject) => {
      if (signals.some((s) => s.aborted)) {
        reject(new DialError(label, "aborted"));
        return;
      }
      const socket = connect({ host: addr.host, port: addr.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 30_000 });
      const timer = setTimeout(() => {
        fail(new DialError(label, `no TCP connection within ${this.dialTimeoutMs} ms`));
      }, this.dialTimeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        unwatch();
        socket.off("connect", onConnect);
        socket.off("error", onError);
      };
      const fail = (err: Error): void => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const unwatch = this.watchAll(signals, () => {
        fail(new DialError(label, "aborted"));
      });
      const onError = (err: Error): void => {
        fail(new DialError(label, err.message, { cause: err }));
      };
      const onConnect = (): void => {
        cleanup();
        socket.on("error", () => {
          /* reported through the handshake */
        });
        resolve(socket);
      };
      socket.once("connect", onConnect);
      socket.once("error", onError);
    });
  }

  /** Stops listening and aborts every handshake in progress. Established connections are the Switch's to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error("transport closed"));
    for (const s of this.pendingSockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server !== null) {
      await new Promise<void>((resolve) => server.close(() => {
        resolve();
      }));
    }
  }
}
