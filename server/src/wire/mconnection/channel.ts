/**
 * One channel of an MConnection (internal): its bounded send queue, the
 * message being split into packets, the callers waiting for queue room, the
 * reassembly buffer, and its counters.
 */
import type { FilledChannelDescriptor } from "./channel-descriptor.js";
import { DEFAULT_SEND_QUEUE_MAX_BYTES, DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL } from "./defaults.js";
import { MessageOverCapacityError } from "./errors.js";

/** A `send` call waiting for room in the queue. */
export interface SendWaiter {
  readonly message: Uint8Array;
  /** Called once: true when the message was queued, false when it never will be. */
  settle(queued: boolean): void;
}

/**
 * The bytes every channel of one connection has queued for sending, against
 * the connection's bound (`sendQueueMaxBytes`), shared by its channels.
 */
export class SendBudget {
  used = 0;
  constructor(readonly max: number) {}
}

/**
 * Slots the send queue starts with; it doubles, up to the channel's capacity,
 * only when messages actually queue up. An idle peer's channels then hold a
 * few slots each instead of `capacity` (1000 for blocksync: 8 KiB per peer).
 */
const INITIAL_QUEUE_SLOTS = 8;

export class Channel {
  readonly id: number;
  readonly priority: number;
  /** `priority` as a float32, the way the scheduler divides by it. */
  readonly priorityF32: number;
  readonly capacity: number;
  /** Bound on `queuedBytes` (a message goes into an empty queue whatever its size). */
  readonly maxQueueBytes: number;
  /** Bytes of the messages accepted and not completely split into packets: the queue and the one being sent. */
  queuedBytes = 0;

  // Send queue: a ring of at most `capacity` slots, grown on demand.
  private ring: (Uint8Array | undefined)[];
  private head = 0;
  private size = 0;
  /** Callers of `send` waiting for room, oldest first. Non-empty only while the queue is full. */
  readonly waiters: SendWaiter[] = [];

  /** The message being sent, taken from the queue, and how much of it has gone out. */
  private sending: Uint8Array | null = null;
  private sendingOffset = 0;

  /** Wire bytes sent recently (decays over time); the scheduler's measure. */
  recentlySent = 0;
  /** Wire bytes (length prefixes included) of PacketMsgs sent on this channel. */
  bytesSent = 0;
  /** Wire bytes (length prefixes included) of PacketMsgs received on this channel. */
  bytesReceived = 0;
  messagesSent = 0;
  messagesReceived = 0;

  private recving: Uint8Array | null = null;
  private recvLength = 0;
  /** Size of the last message that spanned packets: the first guess for the next one's buffer. */
  private recvSizeHint = 0;
  private readonly recvBufferCapacity: number;
  private readonly recvMessageCapacity: number;

  constructor(
    desc: FilledChannelDescriptor,
    maxQueueBytes: number = DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL,
    private readonly budget: SendBudget = new SendBudget(DEFAULT_SEND_QUEUE_MAX_BYTES),
  ) {
    this.maxQueueBytes = maxQueueBytes;
    this.id = desc.id;
    this.priority = desc.priority;
    this.priorityF32 = Math.fround(desc.priority);
    this.capacity = desc.sendQueueCapacity;
    this.ring = new Array<Uint8Array | undefined>(Math.min(desc.sendQueueCapacity, INITIAL_QUEUE_SLOTS));
    this.recvMessageCapacity = desc.recvMessageCapacity;
    this.recvBufferCapacity = Math.min(desc.recvBufferCapacity, desc.recvMessageCapacity);
  }

  /** Bytes of the reassembly buffer held now (0 when no message spanned packets since it was last released). */
  get recvBufferBytes(): number {
    return this.recving === null ? 0 : this.recving.length;
  }

  /** Messages accepted and not completely sent: the queue plus the one being split. */
  get sendQueueSize(): number {
    return this.size + (this.sending === null ? 0 : 1);
  }

  /**
   * True if a message of `bytes` may be queued now: the queue has a free
   * slot, and the message fits the channel's byte bound and the
   * connection's, unless nothing is queued on the channel (a message larger
   * than the bounds then goes alone, so that none waits forever).
   */
  hasRoom(bytes: number): boolean {
    if (this.size >= this.capacity) return false;
    if (this.queuedBytes === 0) return true;
    return this.queuedBytes + bytes <= this.maxQueueBytes && this.budget.used + bytes <= this.budget.max;
  }

  /** True if a message of `bytes` may be queued now without passing a waiting one. */
  canQueue(bytes: number): boolean {
    return this.waiters.length === 0 && this.hasRoom(bytes);
  }

  /** Queues `message`; the caller checked `hasRoom`. */
  enqueue(message: Uint8Array): void {
    if (this.size === this.ring.length) this.growRing();
    this.ring[(this.head + this.size) % this.ring.length] = message;
    this.size++;
    this.queuedBytes += message.length;
    this.budget.used += message.length;
  }

  /** Doubles the ring (up to `capacity`), moving the queued messages to its start. */
  private growRing(): void {
    const old = this.ring;
    const next = new Array<Uint8Array | undefined>(Math.min(this.capacity, old.length * 2));
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) % old.length];
    this.ring = next;
    this.head = 0;
  }

  /**
   * True if a packet is ready to go. Takes the next message from the queue
   * when none is being split, which frees a slot for the oldest waiter.
   */
  isSendPending(): boolean {
    if (this.sending !== null) return true;
    if (this.size === 0) return false;
    const message = this.ring[this.head] as Uint8Array;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    this.sending = message;
    this.sendingOffset = 0;
    this.admitWaiters();
    return true;
  }

  /**
   * Takes the next piece of the message being sent: at most `maxPayloadBytes`
   * bytes. `eof` tells whether it is the last; an empty message is one
   * piece, empty, with `eof`.
   */
  nextPayload(maxPayloadBytes: number): { data: Uint8Array; eof: boolean } {
    const message = this.sending as Uint8Array;
    const remaining = message.length - this.sendingOffset;
    if (remaining <= maxPayloadBytes) {
      const data = this.sendingOffset === 0 ? message : message.subarray(this.sendingOffset);
      this.sending = null;
      this.sendingOffset = 0;
      this.messagesSent++;
      this.queuedBytes -= message.length;
      this.budget.used -= message.length;
      this.admitWaiters();
      return { data, eof: true };
    }
    const data = message.subarray(this.sendingOffset, this.sendingOffset + maxPayloadBytes);
    this.sendingOffset += maxPayloadBytes;
    return { data, eof: false };
  }

  /**
   * Appends received packet data. Checks the capacity before appending and
   * throws {@link MessageOverCapacityError} (a message exactly at the cap
   * passes). Returns the complete message on `eof`, in a buffer the caller
   * owns (no other view of its memory is kept).
   */
  receive(data: Uint8Array, eof: boolean): Uint8Array | null {
    const total = this.recvLength + data.length;
    if (total > this.recvMessageCapacity) {
      throw new MessageOverCapacityError(this.id, total, this.recvMessageCapacity);
    }
    if (eof && this.recvLength === 0) {
      this.messagesReceived++;
      return new Uint8Array(data); // a copy, and a plain Uint8Array even if `data` is a Buffer
    }
    let buf = this.recving;
    if (buf === null || buf.length < total) {
      // A new message starts at the size of the last one that spanned packets: a stream of like-sized
      // messages then takes one allocation each, filled exactly and handed over, instead of a chain of
      // doublings and a final copy. Later growth doubles. Never past the message capacity.
      const hint = this.recvLength === 0 ? this.recvSizeHint : 0;
      const grown = Math.min(this.recvMessageCapacity, Math.max(total, this.recvBufferCapacity, hint, buf === null ? 0 : buf.length * 2));
      const next = new Uint8Array(grown);
      if (buf !== null && this.recvLength > 0) next.set(buf.subarray(0, this.recvLength));
      buf = next;
      this.recving = buf;
    }
    buf.set(data, this.recvLength);
    this.recvLength = total;
    if (!eof) return null;
    this.messagesReceived++;
    this.recvSizeHint = total;
    this.recvLength = 0;
    if (buf.length === total) {
      // Exactly the message: it becomes the message, without a copy.
      this.recving = null;
      return buf;
    }
    const message = buf.slice(0, total);
    // Keep a buffer of the initial size for the next message; let a larger one go.
    if (buf.length > this.recvBufferCapacity) this.recving = null;
    return message;
  }

  /** Multiplies `recentlySent` by `factor` and truncates it (CometBFT's `updateStats`). */
  decay(factor: number): void {
    this.recentlySent = Math.trunc(this.recentlySent * factor);
  }

  /** Settles every waiter with false and drops queued data; used on stop. */
  close(): void {
    for (const waiter of this.waiters.splice(0)) waiter.settle(false);
    this.ring.fill(undefined);
    this.size = 0;
    this.budget.used -= this.queuedBytes;
    this.queuedBytes = 0;
    this.sending = null;
    this.recving = null;
    this.recvLength = 0;
  }

  /** Settles every waiter with false but keeps queued data (used by flushStop). */
  rejectWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.settle(false);
  }

  /** Queues waiting messages, oldest first, while they fit (the first that does not holds the rest back). */
  admitWaiters(): void {
    for (;;) {
      const waiter = this.waiters[0];
      if (waiter === undefined || !this.hasRoom(waiter.message.length)) return;
      this.waiters.shift();
      this.enqueue(waiter.message);
      waiter.settle(true);
    }
  }
}
