/**
 * MConnection: CometBFT's multiplexed connection, over an injected duplex
 * (a SecretConnection in production). It carries messages of several
 * channels as uvarint-delimited `Packet`s, splits and reassembles them,
 * schedules channels by priority, pings the remote and answers its pings,
 * and applies rate limits and backpressure in both directions.
 *
 * Sending: `send`/`trySend` put whole messages in a channel's bounded queue.
 * The send routine runs on `setImmediate` after each successful send: it
 * waits for the send rate limit, then writes a batch of up to 10 packets,
 * each from the pending channel with the smallest recentlySent/priority,
 * into a coalescing write buffer, and schedules itself again while data
 * remains. The buffer goes to the duplex when the flush throttle fires (with
 * a throttle of 0, at the end of each batch), when a ping or pong is
 * written, or early when it is full. When the duplex
 * says `write() === false`, nothing more is written until `'drain'`.
 *
 * Receiving: chunks from the duplex go into an incremental packet decoder;
 * packets are handled one at a time. Reading pauses while the receive rate
 * limit says so, while `pauseReceive()` is in force, and when a chunk holds
 * more packets than we may handle now (the rest waits in the decoder).
 *
 * Every condition under which CometBFT drops the connection stops this one
 * and calls `onError` once with a {@link MConnectionError}.
 */
import type { Duplex } from "node:stream";

import type { ChannelDescriptor } from "./channel-descriptor.js";
import { fillChannelList } from "./channel-descriptor.js";
import type { SendWaiter } from "./channel.js";
import { Channel, SendBudget } from "./channel.js";
import type { Clock, ClockTimer } from "./clock.js";
import { systemClock } from "./clock.js";
import type { MConnectionConfig } from "./defaults.js";
import {
  DEFAULT_BATCH_PACKETS,
  DEFAULT_STATS_DECAY_FACTOR,
  DEFAULT_STATS_DECAY_INTERVAL_MS,
  resolveMConnectionConfig,
} from "./defaults.js";
import {
  ConnectionClosedError,
  MConnectionError,
  MConnectionStateError,
  PacketDecodeError,
  PongTimeoutError,
  ReadError,
  ReceiveHandlerError,
  UnknownChannelError,
  WriteError,
} from "./errors.js";
import type { FlowStatus } from "./flow-rate.js";
import { FlowMonitor, FlowRateLimiter } from "./flow-rate.js";
import type { Packet } from "./packet.js";
import {
  CONTROL_PACKET_WIRE_BYTES,
  PacketDecoder,
  maxPacketMsgSize,
  packetMsgWireSize,
  writeControlPacket,
  writePacketMsg,
} from "./packet.js";

export interface MConnectionHandlers {
  /**
   * A complete message arrived on `channelId`. `message` is owned by the
   * callee. Runs synchronously on the receive path; if it throws, the
   * connection is dropped with a {@link ReceiveHandlerError}.
   */
  onReceive(channelId: number, message: Uint8Array): void;
  /** The connection was dropped; called at most once, after it stopped. */
  onError(error: MConnectionError): void;
}

export interface MConnectionOptions {
  /** Time source for every timer. @default systemClock */
  readonly clock?: Clock;
}

export interface SendOptions {
  /** How long to wait for queue room. @default config.sendTimeoutMs */
  readonly timeoutMs?: number;
  /** Aborting stops the wait; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** `new` → `running` → (`flushing` →) `stopped`. */
export type MConnectionState = "new" | "running" | "flushing" | "stopped";

export interface ChannelStatus {
  readonly id: number;
  readonly priority: number;
  readonly sendQueueCapacity: number;
  /** Messages queued or being split, as CometBFT counts it. */
  readonly sendQueueSize: number;
  /** Bytes of those messages (bounded by `sendQueueMaxBytesPerChannel`). */
  readonly sendQueueBytes: number;
  /** `send` calls waiting for room. */
  readonly sendWaiters: number;
  readonly recentlySent: number;
  /** Wire bytes (length prefixes included) of this channel's packets. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
}

export interface MConnectionStatus {
  readonly state: MConnectionState;
  /** Time since construction, in ms. */
  readonly durationMs: number;
  readonly sendMonitor: FlowStatus;
  readonly recvMonitor: FlowStatus;
  /** Liveness traffic on this connection, both ways. */
  readonly pings: PingCounters;
  /**
   * Received bytes the packet decoder holds and has not yet returned as
   * packets: a partial packet, or the rest of a chunk while receiving is
   * paused (at most one chunk of the duplex).
   */
  readonly recvBufferedBytes: number;
  /** Bytes of the channels' reassembly buffers (allocated, whether filled or not). */
  readonly reassemblyBufferBytes: number;
  /** Packet bytes in the write buffer, not yet handed to the duplex (at most `writeBufferBytes`). */
  readonly sendBufferedBytes: number;
  /** In registration order. */
  readonly channels: readonly ChannelStatus[];
}

/** Pings and pongs written and read on one connection. */
export interface PingCounters {
  readonly pingsSent: number;
  readonly pongsReceived: number;
  readonly pingsReceived: number;
  readonly pongsSent: number;
}

/** CometBFT's name for {@link MConnectionStatus}. */
export type ConnectionStatus = MConnectionStatus;

export type { MConnectionConfig } from "./defaults.js";

const FLOAT32_MAX = 3.4028234663852886e38;

export class MConnection {
  readonly config: MConnectionConfig;
  /** The receive limit on a packet body (1034 with the default payload). */
  readonly maxPacketMsgSize: number;

  private readonly conn: Duplex;
  private readonly handlers: MConnectionHandlers;
  private readonly clock: Clock;
  private readonly channels: readonly Channel[];
  /** Channels by ID; as long as the highest ID + 1 (an index past the end reads `undefined`). */
  private readonly channelById: (Channel | undefined)[];
  private readonly createdMs: number;
  private readonly sendMonitor: FlowMonitor;
  private readonly recvMonitor: FlowMonitor;
  private readonly sendLimiter: FlowRateLimiter;
  private readonly recvLimiter: FlowRateLimiter;
  private readonly decoder: PacketDecoder;

  private state: MConnectionState = "new";
  private errored = false;

  // Send side.
  private sendImmediate: NodeJS.Immediate | null = null;
  private out: Buffer = Buffer.alloc(0);
  private outStart = 0;
  private outEnd = 0;
  private waitingDrain = false;
  private flushTimer: ClockTimer | null = null;
  private pingTimer: ClockTimer | null = null;
  private readonly pingCounters = { pingsSent: 0, pongsReceived: 0, pingsReceived: 0, pongsSent: 0 };
  private pongTimer: ClockTimer | null = null;
  private statsTimer: ClockTimer | null = null;
  private pingDue = false;
  private pongDue = false;
  /** The pong deadline passed while receiving was paused, so a pong may be sitting unread. */
  private pongExpiredWhilePaused = false;

  // Receive side.
  private receivePaused = false;
  private streamPaused = false;
  private remoteEnded = false;
  private pumping = false;

  // flushStop.
  private flushStopPromise: Promise<void> | null = null;
  private flushStopDone: (() => void) | null = null;
  private flushStopTimer: ClockTimer | null = null;
  private flushStopEnding = false;

  constructor(
    conn: Duplex,
    channels: readonly ChannelDescriptor[],
    handlers: MConnectionHandlers,
    config: Partial<MConnectionConfig> = {},
    options: MConnectionOptions = {},
  ) {
    this.config = resolveMConnectionConfig(config);
    this.conn = conn;
    this.handlers = handlers;
    this.clock = options.clock ?? systemClock;
    const budget = new SendBudget(this.config.sendQueueMaxBytes);
    this.channels = fillChannelList(channels).map((desc) => new Channel(desc, this.config.sendQueueMaxBytesPerChannel, budget));
    this.channelById = new Array<Channel | undefined>(Math.max(0, ...this.channels.map((c) => c.id + 1)));
    for (const channel of this.channels) this.channelById[channel.id] = channel;
    this.maxPacketMsgSize = maxPacketMsgSize(this.config.maxPacketMsgPayloadBytes);
    this.decoder = new PacketDecoder(this.maxPacketMsgSize);
    this.createdMs = this.clock.now();
    this.sendMonitor = new FlowMonitor({ clock: this.clock });
    this.recvMonitor = new FlowMonitor({ clock: this.clock });
    this.sendLimiter = new FlowRateLimiter(this.sendMonitor, this.config.sendRateBytesPerSecond, this.clock, this.wake);
    this.recvLimiter = new FlowRateLimiter(this.recvMonitor, this.config.recvRateBytesPerSecond, this.clock, () => {
      this.pump();
    });
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  get currentState(): MConnectionState {
    return this.state;
  }

  /** Starts reading, pinging and sending. Throws {@link MConnectionStateError} unless new. */
  start(): void {
    if (this.state !== "new") throw new MConnectionStateError("start", this.state);
    this.state = "running";
    const conn = this.conn;
    conn.on("error", this.onStreamError);
    conn.on("end", this.onStreamEnd);
    conn.on("close", this.onStreamClose);
    conn.on("drain", this.onDrain);
    conn.on("data", this.onData);
    if (conn.destroyed || conn.readableEnded) {
      // Closed before we started listening: report it as the remote closing, asynchronously as any read error.
      queueMicrotask(() => {
        this.fail(new ConnectionClosedError());
      });
    }
    this.pingTimer = this.clock.setTimeout(this.onPingTick, this.config.pingIntervalMs);
    this.statsTimer = this.clock.setTimeout(this.onStatsTick, DEFAULT_STATS_DECAY_INTERVAL_MS);
  }

  /** Closes the connection at once, without flushing. Idempotent; does not call `onError`. */
  stop(): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.cancelTimers();
    for (const channel of this.channels) channel.close();
    const conn = this.conn;
    conn.off("data", this.onData);
    conn.off("drain", this.onDrain);
    // The error listener stays: a destroyed stream may still emit, and an
    // unheard 'error' would crash the process.
    conn.destroy();
    this.out = Buffer.alloc(0);
    this.outStart = this.outEnd = 0;
    const done = this.flushStopDone;
    this.flushStopDone = null;
    done?.();
  }

  /**
   * CometBFT's `FlushStop`, bounded. At once: no new sends are accepted
   * (pending `send` waiters get false), pings stop, and reading pauses. Then
   * everything already queued, including a message partly sent, goes out
   * (honouring the send rate limit and backpressure), the write buffer is
   * flushed and our side of the stream is ended (a FIN once the duplex has
   * handed every byte to the kernel). From then on incoming bytes are read
   * and discarded until the remote closes its side: closing a socket with
   * unread received bytes makes the kernel send a reset, which may destroy
   * data the remote has not read yet. The remote closes as soon as it reads
   * our end (a CometBFT node drops the connection on EOF).
   *
   * The whole sequence is bounded by `flushStopTimeoutMs` (Go waits forever
   * on a peer that stops reading); when it passes, the connection is closed
   * as by {@link stop}. Resolves once stopped. Never calls `onError` unless
   * the stream fails before our end was written. Idempotent.
   */
  flushStop(): Promise<void> {
    if (this.flushStopPromise !== null) return this.flushStopPromise;
    if (this.state !== "running") {
      this.stop();
      return Promise.resolve();
    }
    this.state = "flushing";
    this.flushStopPromise = new Promise<void>((resolve) => {
      this.flushStopDone = resolve;
    });
    this.cancelPingTimers();
    this.recvLimiter.cancel();
    this.pauseStream();
    this.pingDue = false;
    this.pongDue = false;
    for (const channel of this.channels) channel.rejectWaiters();
    this.flushStopTimer = this.clock.setTimeout(() => {
      this.stop();
    }, this.config.flushStopTimeoutMs);
    this.wake();
    return this.flushStopPromise;
  }

  /**
   * Queues `message` on `channelId`, waiting up to `timeoutMs` for room.
   * Resolves true once queued; false on timeout, an unknown channel, or a
   * connection that is not (or no longer) running. The message is kept by
   * reference: do not modify it afterwards.
   */
  send(channelId: number, message: Uint8Array, options: SendOptions = {}): Promise<boolean> {
    const channel = this.sendableChannel(channelId);
    if (channel === undefined) return Promise.resolve(false);
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (channel.canQueue(message.length)) {
      channel.enqueue(message);
      this.wake();
      return Promise.resolve(true);
    }
    const timeoutMs = options.timeoutMs ?? this.config.sendTimeoutMs;
    return new Promise<boolean>((resolve, reject) => {
      let timer: ClockTimer | null = null;
      let settled = false;
      const cleanup = (): boolean => {
        if (settled) return false;
        settled = true;
        timer?.cancel();
        signal?.removeEventListener("abort", onAbort);
        const i = channel.waiters.indexOf(waiter);
        if (i >= 0) channel.waiters.splice(i, 1);
        return true;
      };
      const waiter: SendWaiter = {
        message,
        settle: (queued) => {
          if (!cleanup()) return;
          if (queued) this.wake();
          resolve(queued);
        },
      };
      const onAbort = (): void => {
        if (cleanup()) reject(abortReason(signal as AbortSignal));
      };
      channel.waiters.push(waiter);
      timer = this.clock.setTimeout(() => {
        waiter.settle(false);
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Queues `message` if the channel has room now; never waits. */
  trySend(channelId: number, message: Uint8Array): boolean {
    const channel = this.sendableChannel(channelId);
    if (channel === undefined || !channel.canQueue(message.length)) return false;
    channel.enqueue(message);
    this.wake();
    return true;
  }

  /**
   * True if `trySend` on the channel would succeed now. (CometBFT's
   * `CanSend` compares against the default capacity of 1 instead; we use
   * the channel's own capacity.)
   */
  canSend(channelId: number): boolean {
    const channel = this.sendableChannel(channelId);
    return channel !== undefined && channel.canQueue(0);
  }

  /**
   * Stops reading from the duplex and delivering messages, for the layer
   * above to apply backpressure. Sending goes on, our pings included, and
   * pongs for pings already read. Pings the remote sends meanwhile stay
   * unread (a Go peer drops us if that lasts beyond its 45 s pong timeout).
   * A pong deadline of ours that passes while paused does not drop the
   * remote: it gets a fresh `pongTimeoutMs` after `resumeReceive`, since its
   * pong may be among the unread bytes.
   */
  pauseReceive(): void {
    this.receivePaused = true;
  }

  /** Resumes delivery, in order, and reading. */
  resumeReceive(): void {
    if (!this.receivePaused) return;
    this.receivePaused = false;
    if (this.state !== "running") return;
    if (this.pongExpiredWhilePaused) {
      this.pongExpiredWhilePaused = false;
      this.pongTimer ??= this.clock.setTimeout(this.onPongTimeout, this.config.pongTimeoutMs);
    }
    this.pump();
  }

  get isReceivePaused(): boolean {
    return this.receivePaused;
  }

  status(): MConnectionStatus {
    return {
      state: this.state,
      durationMs: this.clock.now() - this.createdMs,
      sendMonitor: this.sendMonitor.status(),
      recvMonitor: this.recvMonitor.status(),
      pings: { ...this.pingCounters },
      recvBufferedBytes: this.decoder.bufferedBytes,
      reassemblyBufferBytes: this.channels.reduce((n, ch) => n + ch.recvBufferBytes, 0),
      sendBufferedBytes: this.outEnd - this.outStart,
      channels: this.channels.map((ch) => ({
        id: ch.id,
        priority: ch.priority,
        sendQueueCapacity: ch.capacity,
        sendQueueSize: ch.sendQueueSize,
        sendQueueBytes: ch.queuedBytes,
        sendWaiters: ch.waiters.length,
        recentlySent: ch.recentlySent,
        bytesSent: ch.bytesSent,
        bytesReceived: ch.bytesReceived,
        messagesSent: ch.messagesSent,
        messagesReceived: ch.messagesReceived,
      })),
    };
  }

  // -------------------------------------------------------------------------
  // Sending

  private sendableChannel(channelId: number): Channel | undefined {
    if (this.state !== "running") return undefined;
    if (!Number.isInteger(channelId) || channelId < 0 || channelId > 255) return undefined;
    return this.channelById[channelId];
  }

  /** Schedules the send routine (once, however often it is called). */
  private readonly wake = (): void => {
    if (this.sendImmediate !== null) return;
    if (this.state !== "running" && this.state !== "flushing") return;
    this.sendImmediate = setImmediate(this.runSend);
  };

  private readonly runSend = (): void => {
    this.sendImmediate = null;
    if (this.waitingDrain) return; // onDrain wakes us
    if (this.state === "running") {
      if (this.pingDue) {
        this.pingDue = false;
        this.pingCounters.pingsSent++;
        const writable = this.writeControl(true);
        if (this.pongTimer === null) this.pongTimer = this.clock.setTimeout(this.onPongTimeout, this.config.pongTimeoutMs);
        if (!writable) return;
      }
      if (this.pongDue) {
        this.pongDue = false;
        this.pingCounters.pongsSent++;
        if (!this.writeControl(false)) return;
      }
    } else if (this.state !== "flushing") {
      return;
    }
    if (!this.sendLimiter.ready()) return; // the limiter wakes us
    const exhausted = this.sendBatch();
    // No throttle: the batch leaves now (a 0 ms timer would wait ~1 ms, Node's minimum).
    if (this.config.flushThrottleMs === 0) this.flush();
    if (!exhausted) {
      this.wake();
    } else if (this.state === "flushing") {
      this.finishFlushStop();
    }
  };

  /** Writes up to a batch of packets; true if every channel ran dry. */
  private sendBatch(): boolean {
    let totalBytes = 0;
    let exhausted = false;
    const maxPayload = this.config.maxPacketMsgPayloadBytes;
    for (let i = 0; i < DEFAULT_BATCH_PACKETS; i++) {
      const channel = this.selectChannel();
      if (channel === null) {
        exhausted = true;
        break;
      }
      const { data, eof } = channel.nextPayload(maxPayload);
      // A finished message frees bytes of the connection's bound: other channels' waiters may fit now.
      if (eof) for (const other of this.channels) if (other !== channel && other.waiters.length > 0) other.admitWaiters();
      const size = packetMsgWireSize(channel.id, eof, data.length);
      const at = this.reserve(size);
      writePacketMsg(this.out, at, channel.id, eof, data);
      this.outEnd = at + size;
      channel.recentlySent += size;
      channel.bytesSent += size;
      totalBytes += size;
      this.armFlushTimer();
      if (this.state === "stopped" || this.waitingDrain) break;
    }
    if (totalBytes > 0) this.sendMonitor.update(totalBytes);
    return exhausted;
  }

  /** The pending channel with the least recentlySent/priority (float32, strict <, first wins ties). */
  private selectChannel(): Channel | null {
    let leastRatio = FLOAT32_MAX;
    let least: Channel | null = null;
    for (const channel of this.channels) {
      if (!channel.isSendPending()) continue;
      const ratio = Math.fround(Math.fround(channel.recentlySent) / channel.priorityF32);
      if (ratio < leastRatio) {
        leastRatio = ratio;
        least = channel;
      }
    }
    return least;
  }

  /** Writes a ping or pong and flushes; false if the duplex now wants us to wait for 'drain'. */
  private writeControl(ping: boolean): boolean {
    const at = this.reserve(CONTROL_PACKET_WIRE_BYTES);
    this.outEnd = writeControlPacket(this.out, at, ping);
    this.sendMonitor.update(CONTROL_PACKET_WIRE_BYTES);
    this.flush();
    return !this.waitingDrain;
  }

  /**
   * Returns an offset in `out` with `size` free bytes, flushing first when
   * the write buffer cannot take them. Written bytes are never overwritten
   * (the duplex may still hold them), so a full buffer is replaced.
   */
  private reserve(size: number): number {
    if (this.out.length - this.outEnd >= size) return this.outEnd;
    this.flush();
    this.out = Buffer.allocUnsafe(Math.max(size, this.config.writeBufferBytes));
    this.outStart = this.outEnd = 0;
    return 0;
  }

  /** Hands the buffered bytes to the duplex. */
  private flush(): void {
    if (this.outEnd === this.outStart) return;
    const chunk = this.out.subarray(this.outStart, this.outEnd);
    this.outStart = this.outEnd;
    if (!this.conn.write(chunk, this.onWriteDone)) this.waitingDrain = true;
  }

  private armFlushTimer(): void {
    if (this.flushTimer !== null || this.config.flushThrottleMs === 0) return; // 0: runSend flushes each batch
    this.flushTimer = this.clock.setTimeout(this.onFlushTimer, this.config.flushThrottleMs);
  }

  private readonly onFlushTimer = (): void => {
    this.flushTimer = null;
    this.flush();
  };

  private readonly onWriteDone = (err?: Error | null): void => {
    if (err !== undefined && err !== null) this.fail(new WriteError(err));
  };

  private readonly onDrain = (): void => {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.wake();
  };

  private readonly onPingTick = (): void => {
    this.pingTimer = this.clock.setTimeout(this.onPingTick, this.config.pingIntervalMs);
    this.pingDue = true;
    this.wake();
  };

  private readonly onPongTimeout = (): void => {
    this.pongTimer = null;
    if (this.receivePaused) {
      this.pongExpiredWhilePaused = true;
      return;
    }
    this.fail(new PongTimeoutError(this.config.pongTimeoutMs));
  };

  private readonly onStatsTick = (): void => {
    this.statsTimer = this.clock.setTimeout(this.onStatsTick, DEFAULT_STATS_DECAY_INTERVAL_MS);
    for (const channel of this.channels) channel.decay(DEFAULT_STATS_DECAY_FACTOR);
  };

  private finishFlushStop(): void {
    if (this.flushStopEnding) return;
    this.flushStopEnding = true;
    this.flush();
    this.flushTimer?.cancel();
    this.flushTimer = null;
    // end() writes out what the duplex holds, then ends our side.
    this.conn.end();
    // Read (and drop) until the remote closes: see flushStop.
    if (this.remoteEnded) this.stop();
    else this.resumeStream();
  }

  // -------------------------------------------------------------------------
  // Receiving

  private readonly onData = (chunk: unknown): void => {
    if (this.state !== "running") return;
    if (!(chunk instanceof Uint8Array)) {
      this.fail(new ReadError(new TypeError("the connection yielded a non-binary chunk")));
      return;
    }
    this.decoder.push(chunk);
    this.pump();
  };

  /** Handles buffered packets one by one while nothing holds delivery back. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state === "running") {
        if (this.receivePaused || !this.recvLimiter.ready()) {
          this.pauseStream();
          return;
        }
        let packet: Packet | undefined;
        try {
          packet = this.decoder.next();
        } catch (err) {
          this.fail(err instanceof MConnectionError ? err : new PacketDecodeError(String(err), { cause: err }));
          return;
        }
        if (packet === undefined) {
          if (this.remoteEnded) this.fail(new ConnectionClosedError());
          else this.resumeStream();
          return;
        }
        this.recvMonitor.update(this.decoder.lastPacketBytes);
        this.handlePacket(packet);
      }
    } finally {
      this.pumping = false;
    }
  }

  private handlePacket(packet: Packet): void {
    switch (packet.kind) {
      case "ping":
        this.pingCounters.pingsReceived++;
        // One slot: several pings before we get to answer collapse into one pong.
        this.pongDue = true;
        this.wake();
        return;
      case "pong":
        this.pingCounters.pongsReceived++;
        this.pongTimer?.cancel();
        this.pongTimer = null;
        this.pongExpiredWhilePaused = false;
        return;
      case "msg": {
        const id = packet.channelId;
        const channel = id >= 0 && id <= 255 ? this.channelById[id] : undefined;
        if (channel === undefined) {
          this.fail(new UnknownChannelError(id));
          return;
        }
        channel.bytesReceived += this.decoder.lastPacketBytes;
        let message: Uint8Array | null;
        try {
          message = channel.receive(packet.data, packet.eof);
        } catch (err) {
          this.fail(err as MConnectionError);
          return;
        }
        if (message === null) return;
        try {
          this.handlers.onReceive(id, message);
        } catch (err) {
          this.fail(new ReceiveHandlerError(id, err));
        }
        return;
      }
    }
  }

  private pauseStream(): void {
    if (this.streamPaused) return;
    this.streamPaused = true;
    this.conn.pause();
  }

  private resumeStream(): void {
    if (!this.streamPaused) return;
    this.streamPaused = false;
    this.conn.resume();
  }

  private readonly onStreamEnd = (): void => {
    // Packets already buffered are still handled, then EOF drops the connection.
    this.remoteEnded = true;
    if (this.state === "running") this.pump();
    // A flushing stop whose end is written is done once the remote ends too.
    else if (this.state === "flushing" && this.flushStopEnding) this.stop();
  };

  private readonly onStreamClose = (): void => {
    if (this.state === "flushing" && this.flushStopEnding) this.stop();
    else if (this.state === "running" || this.state === "flushing") this.fail(new ConnectionClosedError());
  };

  private readonly onStreamError = (err: unknown): void => {
    this.fail(new ReadError(err));
  };

  // -------------------------------------------------------------------------

  /** Stops and reports `error`, unless already stopped. */
  private fail(error: MConnectionError): void {
    if (this.state === "stopped" || this.errored) return;
    this.errored = true;
    this.stop();
    this.handlers.onError(error);
  }

  private cancelPingTimers(): void {
    this.pingTimer?.cancel();
    this.pingTimer = null;
    this.pongTimer?.cancel();
    this.pongTimer = null;
    this.statsTimer?.cancel();
    this.statsTimer = null;
  }

  private cancelTimers(): void {
    this.cancelPingTimers();
    this.flushTimer?.cancel();
    this.flushTimer = null;
    this.flushStopTimer?.cancel();
    this.flushStopTimer = null;
    this.sendLimiter.cancel();
    this.recvLimiter.cancel();
    if (this.sendImmediate !== null) clearImmediate(this.sendImmediate);
    this.sendImmediate = null;
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException("send aborted", "AbortError");
}
