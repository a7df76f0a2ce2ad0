/**
 * A Peer: one authenticated connection to a remote node, with its MConnection,
 * its metadata, the key-value store reactors share for it, and the bounded
 * queue that delivers its messages to reactors in order.
 *
 * What blocks what (see server/docs/ARCHITECTURE.md):
 * - Messages of this peer are delivered one at a time, in arrival order. A
 *   reactor whose `receive` returns a pending promise holds back this peer's
 *   later messages, for every reactor; other peers are not affected.
 * - Held-back messages wait in the inbound queue, bounded by
 *   `inboundQueueMaxBytes` and `inboundQueueMaxMessages`. While the queue is
 *   over either bound the MConnection stops reading from the socket (TCP
 *   back-pressure to the remote); it resumes below half of both bounds.
 *   Until then the connection keeps reading, so pings and pongs keep flowing
 *   even while a reactor is slow.
 */
import type { Logger } from "pino";
import type { ChannelDescriptor } from "../wire/mconnection/channel-descriptor.js";
import { MConnection, type MConnectionConfig, type ConnectionStatus } from "../wire/mconnection/mconnection.js";
import type { NodeInfo } from "../wire/node-info.js";
import { P2PError } from "./errors.js";
import type { NetAddress } from "./net-address.js";
import type { UpgradedConnection } from "./transport.js";

/** Default bound on bytes of received messages waiting for reactors, per peer. */
export const DEFAULT_INBOUND_QUEUE_MAX_BYTES = 4 * 1024 * 1024;
/** Default bound on received messages waiting for reactors, per peer. */
export const DEFAULT_INBOUND_QUEUE_MAX_MESSAGES = 4096;
/** Default bound on keys in a peer's key-value store. */
export const DEFAULT_PEER_DATA_MAX_KEYS = 256;

/** A message received from a peer on one channel. */
export interface Envelope {
  readonly src: Peer;
  readonly channelId: number;
  /**
   * The reassembled message bytes, owned by the receiving reactor: a fresh
   * array per message that nothing else holds or reuses, so a reactor may
   * keep it without copying (and must not expect others to see changes).
   */
  readonly message: Uint8Array;
}

/** Whoever handles a channel's messages: the reactor that registered it. */
export interface MessageReceiver {
  receive(envelope: Envelope): void | Promise<void>;
}

/** A reactor's `set` on a peer whose key-value store is full. */
export class PeerDataFullError extends P2PError {
  readonly code = "peer_data_full";
  constructor(peerId: string, maxKeys: number) {
    super(`peer ${peerId}: key-value store is full (${maxKeys} keys)`);
  }
}

/** A reactor threw, or its receive promise rejected, while handling a message. */
export class ReactorReceiveError extends P2PError {
  readonly code = "reactor_receive_failed";
  constructor(channelId: number, options?: ErrorOptions) {
    super(`reactor failed to handle a message on channel 0x${channelId.toString(16).padStart(2, "0")}`, options);
  }
}

/**
 * The peer's lifecycle, traced on every transition:
 * `created` → `running` → (`flushing` →) `stopped`. A `flushing` peer is
 * being stopped by {@link Peer.flushStop}: it takes no new sends and
 * delivers nothing more to reactors, but is still in the Switch's peer set.
 */
export type PeerState = "created" | "running" | "flushing" | "stopped";

export interface PeerOptions {
  readonly connection: UpgradedConnection;
  /** A process-unique identifier of this connection; a reconnect gets a new one. */
  readonly connectionId: string;
  /** Our channels, in registration order. */
  readonly channels: readonly ChannelDescriptor[];
  readonly reactorsByChannel: ReadonlyMap<number, MessageReceiver>;
  readonly mconnConfig: Partial<MConnectionConfig>;
  readonly persistent: boolean;
  readonly unconditional: boolean;
  /** The address to reach this peer at: the dialed one, or the one it advertises. */
  readonly socketAddress: NetAddress;
  readonly inboundQueueMaxBytes?: number;
  readonly inboundQueueMaxMessages?: number;
  readonly dataMaxKeys?: number;
  readonly logger: Logger;
  /** Called once when the connection fails or a reactor fails on its message. */
  readonly onError: (peer: Peer, error: Error) => void;
}

interface Pending {
  readonly channelId: number;
  readonly message: Uint8Array;
}

/** Slots the inbound queue starts with (and shrinks back to once empty): an idle peer holds no more. */
const INBOUND_QUEUE_INITIAL_SLOTS = 16;

/**
 * The inbound queue's storage: a FIFO ring that holds exactly the messages
 * not yet delivered. A slot is cleared the moment its message is taken, so
 * a delivered message is never kept alive by the queue (an array with a
 * moving head would keep every delivered message until it is compacted, and
 * under a steady flow it never empties). The ring doubles when full and goes
 * back to its initial size when it empties, so its slots never outnumber the
 * largest backlog since the queue was last empty.
 */
class InboundQueue {
  private ring: (Pending | undefined)[] = new Array<Pending | undefined>(INBOUND_QUEUE_INITIAL_SLOTS);
  private head = 0;
  private count = 0;
  private byteCount = 0;

  /** Messages waiting. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the messages waiting. */
  get bytes(): number {
    return this.byteCount;
  }

  push(item: Pending): void {
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count) % this.ring.length] = item;
    this.count++;
    this.byteCount += item.message.length;
  }

  /** The oldest message, removed from the queue; undefined when empty. */
  shift(): Pending | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head] as Pending;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.byteCount -= item.message.length;
    if (this.count === 0) this.reset();
    return item;
  }

  clear(): void {
    this.reset();
  }

  private reset(): void {
    if (this.ring.length > INBOUND_QUEUE_INITIAL_SLOTS) this.ring = new Array<Pending | undefined>(INBOUND_QUEUE_INITIAL_SLOTS);
    else this.ring.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.byteCount = 0;
  }

  private grow(): void {
    const old = this.ring;
    const next = new Array<Pending | undefined>(old.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.ring = next;
    this.head = 0;
  }
}

/**
 * Bytes held in the buffers of one connection, outside the inbound queue
 * (see server/docs/LIMITS.md for each bound). Receiving, from the socket up:
 */
export interface PeerBuffers {
  readonly receive: {
    /** Ciphertext the TCP socket read and the SecretConnection has not opened yet (0 when unknown). */
    readonly socket: number;
    /** Plaintext opened by the SecretConnection, not yet read by the MConnection. */
    readonly secretConnection: number;
    /** Bytes the MConnection's packet decoder holds (a partial packet, or a chunk's rest while paused). */
    readonly mconnection: number;
    /** The channels' reassembly buffers of messages split over packets (allocated). */
    readonly reassembly: number;
  };
  /** Sending, from the MConnection down. */
  readonly send: {
    /** Packets in the MConnection's write buffer, not yet handed to the SecretConnection. */
    readonly mconnection: number;
    /** Plaintext written to the SecretConnection and not yet sealed onto the socket. */
    readonly secretConnection: number;
    /** Sealed bytes the socket has not handed to the kernel yet (0 when unknown). */
    readonly socket: number;
  };
}

export interface PeerStatus {
  readonly connection: ConnectionStatus;
  readonly inboundQueueMessages: number;
  readonly inboundQueueBytes: number;
  readonly receivePaused: boolean;
  readonly buffers: PeerBuffers;
  /** Keys in the peer's key-value store (bounded by `dataMaxKeys`). */
  readonly dataKeys: number;
}

export class Peer {
  readonly id: string;
  readonly connectionId: string;
  readonly nodeInfo: NodeInfo;
  readonly socketAddress: NetAddress;
  readonly remoteHost: string;
  readonly remotePort: number;
  private readonly outbound: boolean;
  private readonly persistent: boolean;
  readonly unconditional: boolean;
  private state: PeerState = "created";
  private readonly mconn: MConnection;
  private readonly remoteChannels: ReadonlySet<number>;
  private readonly data = new Map<string, unknown>();
  private readonly queue = new InboundQueue();
  private delivering = false;
  private paused = false;
  /** The flushing stop under way, once asked for. */
  private flushing: Promise<void> | null = null;
  private readonly maxQueueBytes: number;
  private readonly maxQueueMessages: number;
  private readonly dataMaxKeys: number;
  private readonly logger: Logger;
  /** Wall-clock time the peer was created. */
  readonly createdAt = Date.now();

  constructor(private readonly options: PeerOptions) {
    const c = options.connection;
    this.id = c.nodeInfo.nodeId;
    this.connectionId = options.connectionId;
    this.nodeInfo = c.nodeInfo;
    this.socketAddress = options.socketAddress;
    this.remoteHost = c.socketHost;
    this.remotePort = c.socketPort;
    this.outbound = c.outbound;
    this.persistent = options.persistent;
    this.unconditional = options.unconditional;
    this.remoteChannels = new Set(c.nodeInfo.channels);
    this.maxQueueBytes = options.inboundQueueMaxBytes ?? DEFAULT_INBOUND_QUEUE_MAX_BYTES;
    this.maxQueueMessages = options.inboundQueueMaxMessages ?? DEFAULT_INBOUND_QUEUE_MAX_MESSAGES;
    this.dataMaxKeys = options.dataMaxKeys ?? DEFAULT_PEER_DATA_MAX_KEYS;
    this.logger = options.logger.child({ peer_id: this.id, conn: this.connectionId });
    this.mconn = new MConnection(
      c.conn,
      options.channels,
      {
        onReceive: (channelId, message) => {
          this.enqueue(channelId, message);
        },
        onError: (error) => {
          this.fail(error);
        },
      },
      options.mconnConfig,
    );
  }

  isOutbound(): boolean {
    return this.outbound;
  }

  isPersistent(): boolean {
    return this.persistent;
  }

  isRunning(): boolean {
    return this.state === "running";
  }

  get lifecycle(): PeerState {
    return this.state;
  }

  /** Starts the connection's send and receive routines. */
  start(): void {
    if (this.state !== "created") throw new Error(`peer ${this.id}: start in state ${this.state}`);
    this.transition("running");
    this.mconn.start();
  }

  /**
   * CometBFT's `peer.FlushStop`: stops the connection after every message
   * already queued to it has been written out (see
   * `MConnection.flushStop`), bounded by the connection's
   * `flushStopTimeoutMs`. New sends are refused from now on, and received
   * messages are no longer delivered (undelivered ones are dropped).
   * Resolves once the peer is stopped. Idempotent; a stopped or never
   * started peer is simply stopped.
   *
   * For the Switch only: a reactor asks with `SwitchApi.flushStopPeer`, so
   * that the Switch also removes the peer and tells every reactor.
   */
  flushStop(): Promise<void> {
    if (this.flushing !== null) return this.flushing;
    if (this.state !== "running") {
      this.stop();
      return Promise.resolve();
    }
    this.transition("flushing");
    this.queue.clear();
    this.flushing = this.mconn.flushStop().then(() => {
      this.stop();
    });
    return this.flushing;
  }

  /** Stops the connection without flushing; undelivered messages are dropped. Idempotent. */
  stop(): void {
    if (this.state === "stopped") return;
    this.transition("stopped");
    this.mconn.stop();
    this.options.connection.conn.destroy();
    this.queue.clear();
  }

  /**
   * Queues `message` on `channelId`, waiting up to the send timeout for room.
   * False when the peer is not running, the channel is not ours, or the remote
   * did not advertise it (CometBFT never sends on such a channel), or on timeout.
   */
  async send(channelId: number, message: Uint8Array, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<boolean> {
    if (!this.isRunning() || !this.remoteChannels.has(channelId)) return false;
    return this.mconn.send(channelId, message, options);
  }

  /** Like {@link send} but never waits: false when the channel's queue is full. */
  trySend(channelId: number, message: Uint8Array): boolean {
    if (!this.isRunning() || !this.remoteChannels.has(channelId)) return false;
    return this.mconn.trySend(channelId, message);
  }

  /** True when the remote advertised `channelId`. */
  hasChannel(channelId: number): boolean {
    return this.remoteChannels.has(channelId);
  }

  /** A value reactors stored for this peer under `key`. */
  get(key: string): unknown {
    return this.data.get(key);
  }

  /** Stores a value for this peer, shared by every reactor. Throws {@link PeerDataFullError} past the key limit. */
  set(key: string, value: unknown): void {
    if (!this.data.has(key) && this.data.size >= this.dataMaxKeys) throw new PeerDataFullError(this.id, this.dataMaxKeys);
    this.data.set(key, value);
  }

  status(): PeerStatus {
    const connection = this.mconn.status();
    const sc = this.options.connection.conn;
    const socket = this.options.connection.rawSocket;
    return {
      connection,
      inboundQueueMessages: this.queue.size,
      inboundQueueBytes: this.queue.bytes,
      receivePaused: this.paused,
      buffers: {
        receive: {
          socket: socket?.readableLength ?? 0,
          secretConnection: sc.readableLength,
          mconnection: connection.recvBufferedBytes,
          reassembly: connection.reassemblyBufferBytes,
        },
        send: {
          mconnection: connection.sendBufferedBytes,
          secretConnection: sc.writableLength,
          socket: socket?.writableLength ?? 0,
        },
      },
      dataKeys: this.data.size,
    };
  }

  private transition(next: PeerState): void {
    this.logger.trace({ from: this.state, to: next }, "peer state");
    this.state = next;
  }

  private fail(error: Error): void {
    if (this.state === "stopped") return;
    if (this.state === "flushing") {
      // Being stopped already, on request: a failure only ends the flush early
      // (the MConnection has stopped), and the removal stays graceful.
      this.logger.debug({ err: error.message }, "connection failed during a flushing stop");
      return;
    }
    this.options.onError(this, error);
  }

  private enqueue(channelId: number, message: Uint8Array): void {
    if (this.state !== "running") return;
    this.queue.push({ channelId, message });
    if (!this.paused && (this.queue.bytes > this.maxQueueBytes || this.queue.size > this.maxQueueMessages)) {
      this.paused = true;
      this.mconn.pauseReceive();
    }
    if (!this.delivering) this.drain();
  }

  /** Delivers queued messages in order until the queue is empty or a reactor asks us to wait. */
  private drain(): void {
    this.delivering = true;
    while (this.state === "running") {
      const next = this.queue.shift();
      if (next === undefined) break;
      this.maybeResume();
      const reactor = this.options.reactorsByChannel.get(next.channelId);
      if (reactor === undefined) continue; // the MConnection only accepts our channels
      let result: void | Promise<void>;
      try {
        result = reactor.receive({ src: this, channelId: next.channelId, message: next.message });
      } catch (err) {
        this.fail(new ReactorReceiveError(next.channelId, { cause: err }));
        break;
      }
      if (result instanceof Promise) {
        result.then(
          () => {
            this.drain();
          },
          (err: unknown) => {
            this.delivering = false;
            this.fail(new ReactorReceiveError(next.channelId, { cause: err }));
          },
        );
        return;
      }
    }
    this.delivering = false;
  }

  private maybeResume(): void {
    if (!this.paused) return;
    if (this.queue.bytes <= this.maxQueueBytes / 2 && this.queue.size <= this.maxQueueMessages / 2) {
      this.paused = false;
      this.mconn.resumeReceive();
    }
  }
}
