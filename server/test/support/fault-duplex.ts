/**
 * Fault injection between two byte streams, for fault-tolerance tests.
 *
 * {@link linkWithFaults} pumps bytes both ways between two Duplexes (two
 * sockets, or the halves of in-memory pairs) and applies one connection's
 * faults; {@link FaultProxy} is a TCP proxy on 127.0.0.1 that does this for
 * every connection it accepts, towards one target port. The faults:
 *
 * - **delay**: every chunk is held for the connection's latency plus jitter;
 *   chunks stay in order (a TCP stream cannot reorder).
 * - **drop**: after a number of bytes the connection stops forwarding in both
 *   directions but stays open — a black hole, which only pings and pong
 *   timeouts can detect.
 * - **cut**: after a number of bytes (mid-chunk, so mid-frame) both sides are
 *   closed, either with a reset or by destroying the sockets.
 * - **reorder**: writes are released in windows, and within a window the
 *   connections are served in a shuffled order: bytes of connection B may
 *   reach B's far end before bytes of connection A that arrived earlier. The
 *   order within each connection is kept.
 *
 * Determinism: every decision (which faults a connection gets, after how
 * many bytes, its latency and jitter, each window's shuffle) comes from a
 * PRNG seeded with the proxy's seed and the connection's index, so a seed
 * reproduces the same plan for the same sequence of connections; only the
 * operating system's timing varies between runs.
 *
 * Memory is bounded: a direction whose held bytes exceed
 * {@link MAX_HELD_BYTES} pauses its source until they drain.
 */
import net from "node:net";
import type { Duplex } from "node:stream";

/** Bytes a direction may hold (delayed or waiting for its window) before it pauses its source. */
export const MAX_HELD_BYTES = 1024 * 1024;

/** The faults one connection gets; absent fields mean "none". */
export interface ConnectionFaults {
  /** Latency added to every chunk, plus a uniform 0..jitterMs. */
  readonly delay?: { readonly latencyMs: number; readonly jitterMs: number };
  /** Stop forwarding (both ways) once this many bytes went through in either direction. */
  readonly dropAfterBytes?: number;
  /** Close both sides once this many bytes went through in either direction. */
  readonly cutAfterBytes?: number;
  /** With cut: a TCP reset (true) or a plain destroy (false). */
  readonly cutWithReset?: boolean;
  /** Writes go through the shared reorder window. */
  readonly reorder?: boolean;
}

/** Probabilities and ranges from which each connection's faults are drawn. */
export interface FaultPlan {
  readonly delay?: { readonly probability: number; readonly maxLatencyMs: number; readonly maxJitterMs: number };
  readonly drop?: { readonly probability: number; readonly maxAfterBytes: number };
  readonly cut?: { readonly probability: number; readonly maxAfterBytes: number };
  readonly reorder?: { readonly probability: number; readonly windowMs: number };
}

export type Rng = () => number;

/** mulberry32, seeded. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws one connection's faults from a plan. At most one of drop and cut applies. */
export function drawFaults(plan: FaultPlan, rng: Rng): ConnectionFaults {
  const faults: { -readonly [K in keyof ConnectionFaults]: ConnectionFaults[K] } = {};
  if (plan.delay !== undefined && rng() < plan.delay.probability) {
    faults.delay = { latencyMs: Math.floor(rng() * plan.delay.maxLatencyMs), jitterMs: Math.floor(rng() * plan.delay.maxJitterMs) };
  }
  const r = rng();
  const dropP = plan.drop?.probability ?? 0;
  const cutP = plan.cut?.probability ?? 0;
  if (plan.drop !== undefined && r < dropP) faults.dropAfterBytes = Math.floor(rng() * plan.drop.maxAfterBytes);
  else if (plan.cut !== undefined && r < dropP + cutP) {
    faults.cutAfterBytes = Math.floor(rng() * plan.cut.maxAfterBytes);
    faults.cutWithReset = rng() < 0.5;
  }
  if (plan.reorder !== undefined && rng() < plan.reorder.probability) faults.reorder = true;
  return faults;
}

/**
 * Releases held writes in windows, serving the connections of each window in
 * a shuffled order. Shared by the links of one proxy.
 */
export class ReorderWindow {
  private readonly queues = new Map<number, (() => void)[]>();
  private timer: NodeJS.Timeout | null = null;
  /** Windows in which writes of two or more connections were shuffled. */
  shuffledWindows = 0;

  constructor(
    private readonly windowMs: number,
    private readonly rng: Rng,
  ) {}

  /** Queues `write` for connection `id`; it runs at the end of the current window. */
  hold(id: number, write: () => void): void {
    let q = this.queues.get(id);
    if (q === undefined) {
      q = [];
      this.queues.set(id, q);
    }
    q.push(write);
    this.timer ??= setTimeout(() => {
      this.release();
    }, this.windowMs);
  }

  release(): void {
    this.timer = null;
    const ids = [...this.queues.keys()];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng() * (i + 1));
      [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
    }
    if (ids.length > 1) this.shuffledWindows++;
    const queues = ids.map((id) => this.queues.get(id) ?? []);
    this.queues.clear();
    for (const q of queues) for (const write of q) write();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queues.clear();
  }
}

/** What happened on one link, for assertions and logs. */
export interface LinkRecord {
  readonly index: number;
  readonly faults: ConnectionFaults;
  /** Bytes delivered a → b and b → a. */
  forwarded: [number, number];
  state: "open" | "dropped" | "cut" | "closed";
}

export interface LinkOptions {
  readonly index: number;
  readonly faults: ConnectionFaults;
  readonly rng: Rng;
  readonly reorder?: ReorderWindow;
  /** Called once when both sides are gone. */
  readonly onClose?: () => void;
}

/**
 * Pumps bytes between `a` and `b` both ways with `faults`. Returns the link's
 * record (updated as it goes) and a function that closes both sides.
 */
export function linkWithFaults(a: Duplex, b: Duplex, options: LinkOptions): { record: LinkRecord; close: () => void } {
  const { faults, rng } = options;
  const record: LinkRecord = { index: options.index, faults, forwarded: [0, 0], state: "open" };
  let total = 0;
  let closed = false;

  const close = (reset = false): void => {
    if (closed) return;
    closed = true;
    for (const s of [a, b]) {
      const sock = s as Duplex & { resetAndDestroy?: () => void };
      if (reset && typeof sock.resetAndDestroy === "function" && !s.destroyed) sock.resetAndDestroy();
      else s.destroy();
    }
    if (record.state === "open" || record.state === "dropped") record.state = record.state === "dropped" ? "dropped" : "closed";
    options.onClose?.();
  };

  const direction = (from: Duplex, to: Duplex, dir: 0 | 1): void => {
    let held = 0;
    let lastDueMs = 0;
    const deliver = (chunk: Uint8Array): void => {
      held -= chunk.length;
      if (held <= MAX_HELD_BYTES / 4 && from.isPaused() && !closed) from.resume();
      if (closed || record.state !== "open" || to.destroyed) return;
      to.write(chunk);
      record.forwarded[dir] += chunk.length;
    };
    const schedule = (chunk: Uint8Array): void => {
      held += chunk.length;
      if (held > MAX_HELD_BYTES) from.pause();
      const send = (): void => {
        if (faults.reorder === true && options.reorder !== undefined) {
          options.reorder.hold(options.index, () => {
            deliver(chunk);
          });
        } else deliver(chunk);
      };
      if (faults.delay === undefined) {
        send();
        return;
      }
      // Never earlier than the previous chunk: a stream keeps its order. Chunks wait in one FIFO behind one
      // timer; a timer per chunk could fire out of order, as Node starts each timer from the loop's cached
      // millisecond, not from the precise time its delay was computed against.
      const now = performance.now();
      const due = Math.max(lastDueMs, now + faults.delay.latencyMs + rng() * faults.delay.jitterMs);
      lastDueMs = due;
      delayed.push({ due, send });
      if (delayTimer === null) armDelay();
    };
    const delayed: { due: number; send: () => void }[] = [];
    let delayTimer: NodeJS.Timeout | null = null;
    const armDelay = (): void => {
      const head = delayed[0];
      if (head === undefined) return;
      delayTimer = setTimeout(
        () => {
          delayTimer = null;
          // A timer may fire up to a millisecond before the precise due time.
          const now = performance.now() + 1;
          while (delayed.length > 0 && delayed[0]!.due <= now) delayed.shift()!.send();
          armDelay();
        },
        Math.max(0, head.due - performance.now()),
      );
    };
    from.on("data", (data: Buffer) => {
      if (closed || record.state === "dropped") return;
      let chunk: Uint8Array = data;
      const limit = faults.cutAfterBytes ?? faults.dropAfterBytes;
      if (limit !== undefined && total + chunk.length >= limit) {
        chunk = chunk.subarray(0, Math.max(0, limit - total));
        total = limit;
        if (chunk.length > 0) schedule(chunk);
        if (faults.cutAfterBytes !== undefined) {
          // Let the partial chunk out first (through the same delay), then cut.
          const cutNow = (): void => {
            record.state = "cut";
            close(faults.cutWithReset === true);
          };
          if (faults.delay === undefined && faults.reorder !== true) cutNow();
          else setTimeout(cutNow, Math.max(0, lastDueMs - performance.now()) + 50);
        } else {
          record.state = "dropped";
        }
        return;
      }
      total += chunk.length;
      schedule(chunk);
    });
    from.on("end", () => {
      // A half-close passes through once what was held is out, unless the link is dropped.
      const end = (): void => {
        if (!closed && record.state === "open" && !to.destroyed) to.end();
      };
      if (faults.delay === undefined && faults.reorder !== true) end();
      else setTimeout(end, Math.max(0, lastDueMs - performance.now()) + 50);
    });
    from.on("error", () => undefined);
    from.on("close", () => {
      // A black-holed link keeps the other side open; otherwise the close propagates.
      if (record.state === "dropped") return;
      setTimeout(() => {
        close();
      }, faults.delay === undefined && faults.reorder !== true ? 0 : Math.max(0, lastDueMs - performance.now()) + 60);
    });
  };
  direction(a, b, 0);
  direction(b, a, 1);
  return {
    record,
    close: () => {
      close();
    },
  };
}

export interface FaultProxyOptions {
  /** Where accepted connections are forwarded: 127.0.0.1:port. */
  readonly targetPort: number;
  readonly seed: number;
  readonly plan: FaultPlan;
}

/** A TCP proxy on 127.0.0.1 that gives every connection faults drawn from a plan. */
export class FaultProxy {
  readonly links: LinkRecord[] = [];
  private readonly closers = new Set<() => void>();
  private readonly reorder: ReorderWindow | undefined;
  private planOverride: ((index: number) => ConnectionFaults | undefined) | null = null;
  targetPort: number;

  private constructor(
    private readonly server: net.Server,
    private readonly options: FaultProxyOptions,
  ) {
    this.targetPort = options.targetPort;
    const w = options.plan.reorder;
    this.reorder = w === undefined ? undefined : new ReorderWindow(w.windowMs, seededRng(options.seed ^ 0x5eed));
    server.on("connection", (client) => {
      this.accept(client);
    });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        resolve();
      });
    });
    return new FaultProxy(server, options);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Windows in which writes of several connections were shuffled. */
  get shuffledWindows(): number {
    return this.reorder?.shuffledWindows ?? 0;
  }

  /** Replaces the drawn faults of the next connections (return undefined to draw as usual). */
  override(fn: ((index: number) => ConnectionFaults | undefined) | null): void {
    this.planOverride = fn;
  }

  /** Closes every open connection at once (a network partition healing into fresh connections). */
  cutAll(): void {
    for (const close of [...this.closers]) close();
  }

  async close(): Promise<void> {
    this.cutAll();
    this.reorder?.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }

  private accept(client: net.Socket): void {
    const index = this.links.length;
    const rng = seededRng((Math.imul(this.options.seed | 0, 0x9e3779b1) + index) >>> 0);
    const faults = this.planOverride?.(index) ?? drawFaults(this.options.plan, rng);
    const upstream = net.connect({ host: "127.0.0.1", port: this.targetPort, noDelay: true });
    client.setNoDelay(true);
    const { record, close } = linkWithFaults(client, upstream, {
      index,
      faults,
      rng,
      ...(this.reorder === undefined ? {} : { reorder: this.reorder }),
      onClose: () => {
        this.closers.delete(close);
      },
    });
    this.links.push(record);
    this.closers.add(close);
  }
}
