/**
 * Soak test over real TCP through fault-injecting proxies.
 *
 * Four nodes, each behind its own {@link FaultProxy} (every dial goes through
 * the target's proxy, which delays, black-holes, cuts and reorders
 * connections by a seeded plan). Two nodes serve a remote reactor through the
 * gateway (an Attach client that detaches and re-attaches, resuming its
 * session; channel policy `block` with a small event queue, so blocking
 * happens); the others host in-process recording reactors. Short-lived nodes
 * join and leave, nodes restart, connections are stopped gracefully, for
 * errors, and all at once (a partition). Every message carries a per-stream
 * sequence number (see streams.ts).
 *
 * Afterwards:
 * - every reactor trace, in-process or remote (per session, deduplicated by
 *   event number across resumes), is a complete word of the reactor grammar;
 * - on every connection, each stream arrived as 1, 2, 3, ...: in order, once,
 *   with nothing skipped (a broken connection loses only a suffix);
 * - every stream closed cleanly arrived whole, exactly once and in order.
 *   "Clean" here: the sender stops sending on the stream, waits until the
 *   channel's send queue is empty and the receiver acknowledges the count,
 *   then calls `stopPeerGracefully` (without a flush: the queue is empty).
 *
 * SOAK_SECONDS (default 30) sets the length; SOAK_SEED the seed (printed).
 * The long form: `SOAK_SECONDS=1800 npx vitest run server/test/faults/soak.test.ts`.
 */
import { describe, expect, it } from "vitest";
import { type Event, OverflowPolicy } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { DEFAULT_GATEWAY_CONFIG, Gateway } from "../../src/gateway/gateway.js";
import type { RemoteReactor } from "../../src/gateway/remote-reactor.js";
import { type NodeKey, generateNodeKey } from "../../src/p2p/node-key.js";
import type { Peer } from "../../src/p2p/peer.js";
import { Switch, type SwitchConfig } from "../../src/p2p/switch.js";
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import { AttachClient, toTrace } from "../gateway/attach-client.js";
import { FaultProxy, type FaultPlan, seededRng } from "../support/fault-duplex.js";
import { TEST_CHANNELS, silentLogger, until } from "../support/nodes.js";
import { checkReactorTrace, formatTraceViolation, type TraceEvent } from "../support/reactor-trace.js";
import { RecordingReactor } from "../support/recording-reactor.js";
import { type Delivery, checkStreams, decodeSeqMessage, encodeSeqMessage } from "./streams.js";

const SOAK_SECONDS = Number(process.env["SOAK_SECONDS"] ?? 30);
const SEED = Number(process.env["SOAK_SEED"] ?? Date.now() % 2 ** 31);
const NODES = 4;
const GATEWAY_SLOTS = new Set([0, 1]);
const DATA = 0x40; // in-process recorder on every node
const APP = 0x60; // remote reactor on gateway nodes, an in-process recorder elsewhere
const APP_CHANNELS: readonly ChannelDescriptor[] = [{ id: APP, priority: 2, sendQueueCapacity: 20, recvMessageCapacity: 64 * 1024 }];

/** Black holes are found by pings: every 1 s, pong within 800 ms. */
const MCONN = { flushThrottleMs: 2, pingIntervalMs: 1000, pongTimeoutMs: 800, sendTimeoutMs: 1000 };

const PLAN: FaultPlan = {
  delay: { probability: 0.35, maxLatencyMs: 40, maxJitterMs: 20 },
  drop: { probability: 0.08, maxAfterBytes: 40_000 },
  cut: { probability: 0.12, maxAfterBytes: 40_000 },
  reorder: { probability: 0.5, windowMs: 4 },
};

interface Session {
  readonly label: string;
  readonly bySeq: Map<bigint, Event>;
}

interface Instance {
  readonly label: string;
  readonly sw: Switch;
  readonly rec: RecordingReactor;
  /** In-process owner of APP on non-gateway nodes. */
  readonly app: RecordingReactor | null;
  readonly gw: Gateway | null;
  client: AttachClient | null;
  /** Events of `client` already taken into its session. */
  absorbed: number;
  readonly sessions: Session[];
  token: string;
}

interface Slot {
  readonly index: number;
  readonly key: NodeKey;
  port: number;
  readonly proxy: FaultProxy;
  current: Instance | null;
  readonly history: Instance[];
}

const stats = {
  sends: 0,
  queued: 0,
  cleanCloses: 0,
  cleanAttempts: 0,
  stopsForError: 0,
  restarts: 0,
  partitions: 0,
  detaches: 0,
  resumes: 0,
  ephemeral: 0,
  ephemeralGraceful: 0,
};

function switchConfig(port: number, moniker: string): SwitchConfig {
  return {
    network: "soak-chain",
    moniker,
    listen: { host: "127.0.0.1", port },
    allowDuplicateIp: true,
    dialRandomizerMs: 0,
    acceptRateLimit: { ratePerSecond: 10_000, burst: 10_000 },
    maxNumInboundPeers: 100,
    maxNumOutboundPeers: 100,
    handshakeTimeoutMs: 1500,
    mconn: MCONN,
  };
}

describe("soak: Switches, remote reactors and faults over real TCP", () => {
  it(`${SOAK_SECONDS} s of churn: every trace a word of the grammar, every stream in order and once, every clean stream whole`, async () => {
    console.log(`soak: ${SOAK_SECONDS} s, seed ${SEED}`);
    const rng = seededRng(SEED);
    const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(rng() * xs.length)];
    const deliveries: Delivery[] = [];
    /** Distinct messages delivered per stream key: the receiver's acknowledgement by count. */
    const deliveredCount = new Map<string, number>();
    const clean = new Map<string, number>();
    const streams = new Map<string, { sent: number; busy: boolean; closing: boolean }>();
    const background = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>): void => {
      const q = p.catch((err: unknown) => {
        console.error("soak background task failed", err);
        throw err;
      });
      background.add(q);
      void q.finally(() => background.delete(q)).catch(() => undefined);
    };
    let instanceCounter = 0;
    const ephemerals = new Set<Instance>();
    const finishedEphemerals: Instance[] = [];

    const record = (receiver: string, connection: string, message: Uint8Array): void => {
      const m = decodeSeqMessage(message);
      if (m === null) return;
      deliveries.push({ receiver, connection, key: m.key, seq: m.seq });
      deliveredCount.set(m.key, (deliveredCount.get(m.key) ?? 0) + 1);
    };

    const absorb = (inst: Instance): void => {
      const c = inst.client;
      if (c === null || c.registered === null) return;
      let s = inst.sessions.at(-1);
      if (s === undefined || inst.token !== c.registered.sessionToken) {
        inst.token = c.registered.sessionToken;
        s = { label: `${inst.label}~s${inst.sessions.length}`, bySeq: new Map() };
        inst.sessions.push(s);
      }
      for (; inst.absorbed < c.events.length; inst.absorbed++) {
        const e = c.events[inst.absorbed] as Event;
        const prev = s.bySeq.get(e.seq);
        if (prev !== undefined) {
          expect(JSON.stringify(prev, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)), `event ${e.seq} resent with other content`).toBe(
            JSON.stringify(e, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
          );
          continue;
        }
        s.bySeq.set(e.seq, e);
        if (e.kind?.$case === "receive") record(s.label, e.kind.value.connectionId, e.kind.value.message);
      }
    };

    const attachClient = (inst: Instance, grpc: string, token: string): AttachClient => {
      const c = new AttachClient(grpc, {
        name: "app",
        channels: APP_CHANNELS.map((d) => ({ id: d.id, priority: d.priority, sendQueueCapacity: d.sendQueueCapacity ?? 1, recvMessageCapacity: d.recvMessageCapacity ?? 0, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_BLOCK })),
        sessionToken: token,
        credit: { messages: 10_000, bytes: 64 * 1024 * 1024 },
      });
      inst.client = c;
      inst.absorbed = 0;
      return c;
    };

    const startInstance = async (key: NodeKey, port: number, label: string, gateway: boolean): Promise<Instance> => {
      const sw = new Switch({ nodeKey: key, logger: silentLogger, config: switchConfig(port, label) });
      const rec = new RecordingReactor(TEST_CHANNELS);
      sw.addReactor("rec", rec);
      const instLabel = `${label}#${++instanceCounter}`;
      rec.onReceive = (env) => {
        record(`${instLabel}/rec`, env.src.connectionId, env.message);
      };
      const app = gateway ? null : new RecordingReactor(APP_CHANNELS);
      const gw = gateway
        ? new Gateway({
            sw,
            logger: silentLogger,
            config: { ...DEFAULT_GATEWAY_CONFIG, laddr: "tcp://127.0.0.1:0", reactors: ["app"], eventQueueMaxMessages: 64, eventQueueMaxBytes: 256 * 1024, defaultOverflowPolicy: "block" },
          })
        : null;
      const inst: Instance = { label: instLabel, sw, rec, app, gw, client: null, absorbed: 0, sessions: [], token: "" };
      if (gw !== null) {
        const grpc = await gw.listen();
        const c = attachClient(inst, grpc, "");
        await gw.waitForReactors();
        await c.waitFor(() => c.registered !== null);
      } else if (app !== null) {
        app.onReceive = (env) => {
          record(`${instLabel}/app`, env.src.connectionId, env.message);
        };
        sw.addReactor("app", app);
      }
      await sw.start();
      gw?.setServing(true);
      return inst;
    };

    const isAttached = (inst: Instance): boolean => inst.client !== null && inst.client.registered !== null && inst.client.status === null && !inst.client.ended;

    const stopInstance = async (inst: Instance): Promise<void> => {
      await inst.sw.stop();
      if (inst.client !== null) {
        const c = inst.client;
        // OnStop reaches an attached client before its stream ends.
        await c.waitFor(() => c.ended || c.status !== null, 10_000, "the stream to end after OnStop").catch(() => undefined);
        absorb(inst);
      }
      await inst.gw?.close();
      inst.client?.close();
    };

    const slots: Slot[] = [];
    for (let i = 0; i < NODES; i++) {
      const key = generateNodeKey();
      const proxy = await FaultProxy.start({ targetPort: 0, seed: SEED + i, plan: PLAN });
      const slot: Slot = { index: i, key, port: 0, proxy, current: null, history: [] };
      slot.current = await startInstance(key, 0, `n${i}`, GATEWAY_SLOTS.has(i));
      slot.port = slot.current.sw.listenAddress?.port ?? 0;
      proxy.targetPort = slot.port;
      slot.history.push(slot.current);
      slots.push(slot);
    }
    const viaProxy = (s: Slot): string => `${s.key.id}@127.0.0.1:${s.proxy.port}`;
    const live = (): Instance[] => [...slots.map((s) => s.current).filter((x): x is Instance => x !== null), ...ephemerals];

    /** Sends a burst on one stream; the stream's sequence numbers only move when `send` queued. */
    const sendBurst = async (from: Instance, peer: Peer, channel: number, count: number, size: number): Promise<void> => {
      const key = `${from.label}|${peer.connectionId}|${channel}`;
      let s = streams.get(key);
      if (s === undefined) {
        s = { sent: 0, busy: false, closing: false };
        streams.set(key, s);
      }
      if (s.busy || s.closing) return;
      s.busy = true;
      try {
        const closing = (st: { closing: boolean }): boolean => st.closing;
        for (let i = 0; i < count && peer.isRunning() && !closing(s); i++) {
          stats.sends++;
          if (await peer.send(channel, encodeSeqMessage(key, s.sent + 1, size), { timeoutMs: 500 })) {
            s.sent++;
            stats.queued++;
          }
        }
      } finally {
        s.busy = false;
      }
    };

    /** The clean close: quiesce the streams, wait for the send queues to empty and the receiver's count, then stop gracefully. */
    const cleanClose = async (from: Instance, peer: Peer): Promise<void> => {
      stats.cleanAttempts++;
      const mine = [...streams.entries()].filter(([k]) => k.startsWith(`${from.label}|${peer.connectionId}|`));
      for (const [, s] of mine) s.closing = true;
      try {
        await until(() => mine.every(([, s]) => !s.busy), 3000, "sends to finish");
        await until(() => !peer.isRunning() || peer.status().connection.channels.every((c) => c.sendQueueSize === 0), 3000, "send queues to empty");
        await until(() => {
          for (const inst of live()) absorb(inst);
          return !peer.isRunning() || mine.every(([k, s]) => (deliveredCount.get(k) ?? 0) >= s.sent);
        }, 4000, "the receiver to acknowledge");
      } catch {
        return; // the connection broke meanwhile: not a clean close
      }
      if (!peer.isRunning()) return;
      from.sw.stopPeerGracefully(peer);
      for (const [k, s] of mine) clean.set(k, s.sent);
      stats.cleanCloses++;
    };

    const ephemeralPeer = async (): Promise<void> => {
      stats.ephemeral++;
      const inst = await startInstance(generateNodeKey(), 0, `e${stats.ephemeral}`, false);
      ephemerals.add(inst);
      try {
        const targets = [pick(slots), pick(slots)].filter((s): s is Slot => s !== undefined);
        for (const t of new Set(targets)) await inst.sw.dialPeerWithAddress(viaProxy(t)).catch(() => undefined);
        const deadline = Date.now() + 300 + rng() * 1500;
        while (Date.now() < deadline) {
          const p = pick(inst.sw.peers().list());
          if (p !== undefined) await sendBurst(inst, p, rng() < 0.5 ? DATA : APP, 1 + Math.floor(rng() * 10), 16 + Math.floor(rng() * 2000));
          await new Promise((r) => setTimeout(r, 10));
        }
        if (rng() < 0.5) {
          stats.ephemeralGraceful++;
          for (const p of inst.sw.peers().list()) await cleanClose(inst, p);
        }
      } finally {
        ephemerals.delete(inst);
        await stopInstance(inst);
        finishedEphemerals.push(inst);
      }
    };

    const started = Date.now();
    const deadline = started + SOAK_SECONDS * 1000;
    try {
      while (Date.now() < deadline) {
        const r = rng();
        const slot = pick(slots) as Slot;
        const inst = slot.current;
        if (r < 0.2) {
          const to = pick(slots) as Slot;
          if (inst !== null && to !== slot) track(inst.sw.dialPeerWithAddress(viaProxy(to)).catch(() => undefined));
        } else if (r < 0.55) {
          const p = inst === null ? undefined : pick(inst.sw.peers().list());
          if (inst !== null && p !== undefined) track(sendBurst(inst, p, rng() < 0.5 ? DATA : APP, 1 + Math.floor(rng() * 30), 16 + Math.floor(rng() * 3000)));
        } else if (r < 0.63) {
          const p = inst === null ? undefined : pick(inst.sw.peers().list());
          if (inst !== null && p !== undefined) track(cleanClose(inst, p));
        } else if (r < 0.67) {
          const p = inst === null ? undefined : pick(inst.sw.peers().list());
          if (inst !== null && p !== undefined) {
            stats.stopsForError++;
            inst.sw.stopPeerForError(p, new Error("soak: stop for error"));
          }
        } else if (r < 0.69) {
          // A gateway node restarts only with its reactor attached, so that its session sees OnStop.
          if (inst !== null && (inst.gw === null || isAttached(inst))) {
            stats.restarts++;
            slot.current = null;
            await stopInstance(inst);
            slot.current = await startInstance(slot.key, slot.port, `n${slot.index}`, GATEWAY_SLOTS.has(slot.index));
            slot.history.push(slot.current);
          }
        } else if (r < 0.75) {
          if (inst?.gw !== null && inst?.gw !== undefined && inst.client !== null) {
            const c = inst.client;
            const rr = inst.gw.remoteReactors().get("app") as RemoteReactor;
            if (rr.attached && c.registered !== null) {
              absorb(inst);
              stats.detaches++;
              c.close();
              inst.client = null;
              const gw = inst.gw;
              const token = c.registered.sessionToken;
              track(
                (async () => {
                  await new Promise((res) => setTimeout(res, 50 + rng() * 700));
                  await until(() => !rr.attached, 5000, "the old stream to detach");
                  if (slot.current !== inst || inst.sw.lifecycle !== "running") return;
                  const next = attachClient(inst, gw.address ?? "", token);
                  await next.waitFor(() => next.registered !== null || next.status !== null, 5000, "re-attach");
                  if (next.registered?.resumed === true) stats.resumes++;
                })(),
              );
            }
          }
        } else if (r < 0.8) {
          if (ephemerals.size < 6) track(ephemeralPeer());
        } else if (r < 0.81) {
          stats.partitions++;
          slot.proxy.cutAll();
        }
        for (const i of live()) absorb(i);
        await new Promise((res) => setTimeout(res, 3 + rng() * 20));
      }
      // Settle: every background task done, every detached reactor back, deliveries absorbed.
      while (background.size > 0) await Promise.allSettled([...background]);
      for (const s of slots) {
        const inst = s.current;
        if (inst?.gw !== null && inst?.gw !== undefined && !isAttached(inst)) {
          absorb(inst);
          inst.client?.close();
          const rr = inst.gw.remoteReactors().get("app") as RemoteReactor;
          await until(() => !rr.attached, 5000, "the old stream to detach");
          const c = attachClient(inst, inst.gw.address ?? "", inst.token);
          await c.waitFor(() => c.registered !== null, 5000, "final re-attach");
        }
      }
      await new Promise((res) => setTimeout(res, 500));
    } finally {
      for (const e of [...ephemerals]) await stopInstance(e);
      for (const s of slots) {
        if (s.current !== null) await stopInstance(s.current);
        await s.proxy.close();
      }
    }

    // 1. Every trace, in-process and remote, is a complete word of the grammar.
    const traces: { label: string; events: TraceEvent[]; complete?: boolean }[] = [];
    for (const inst of [...slots.flatMap((s) => s.history), ...finishedEphemerals]) {
      traces.push({ label: `${inst.label}/rec`, events: inst.rec.events });
      if (inst.app !== null) traces.push({ label: `${inst.label}/app`, events: inst.app.events });
      inst.sessions.forEach((s, i) => {
        const last = i === inst.sessions.length - 1;
        const seqs = [...s.bySeq.keys()].sort((a, b) => (a < b ? -1 : 1));
        // No gap in a session's event numbers: resumes continued where the client left.
        seqs.forEach((q, i) => expect(q, `${s.label}: event numbers have a gap`).toBe(BigInt(i + 1)));
        // A session the node discarded (its reactor fell behind) ends early; the last one must be whole.
        traces.push({ label: s.label, events: toTrace(seqs.map((q) => s.bySeq.get(q) as Event)), complete: last });
      });
    }
    for (const t of traces) {
      const verdict = checkReactorTrace(t.events, { complete: t.complete ?? true });
      if (!verdict.ok) throw new Error(`${t.label}: trace rejected\n${formatTraceViolation(t.events, verdict)}`);
    }

    // 2 and 3. Every stream in order, once, nothing skipped; every clean stream whole.
    const problems = checkStreams(deliveries, clean);
    expect(problems.slice(0, 20)).toEqual([]);

    // The run exercised what it claims to.
    const links = slots.flatMap((s) => s.proxy.links);
    const faults = {
      links: links.length,
      delayed: links.filter((l) => l.faults.delay !== undefined).length,
      dropped: links.filter((l) => l.state === "dropped").length,
      cut: links.filter((l) => l.state === "cut").length,
      reorderedWindows: slots.reduce((n, s) => n + s.proxy.shuffledWindows, 0),
    };
    const rrStats = slots.flatMap((s) => s.history).map((i) => i.gw?.remoteReactors().get("app")?.stats);
    const blocked = rrStats.reduce((n, s) => n + (s?.blocked ?? 0), 0);
    const resent = rrStats.reduce((n, s) => n + (s?.eventsResent ?? 0), 0);
    console.log(
      `soak: ${Math.round((Date.now() - started) / 1000)} s, ${JSON.stringify(stats)}, faults ${JSON.stringify(faults)}, deliveries ${deliveries.length}, streams ${streams.size} (${clean.size} clean), traces ${traces.length}, remote blocked ${blocked}, resent ${resent}`,
    );
    expect(deliveries.length).toBeGreaterThan(500);
    expect(clean.size).toBeGreaterThan(5);
    expect(faults.cut).toBeGreaterThan(0);
    expect(faults.dropped).toBeGreaterThan(0);
    expect(faults.delayed).toBeGreaterThan(0);
    expect(faults.reorderedWindows).toBeGreaterThan(0);
    expect(stats.restarts).toBeGreaterThan(0);
    expect(stats.resumes).toBeGreaterThan(0);
    expect(stats.ephemeral).toBeGreaterThan(3);
    expect(blocked).toBeGreaterThan(0);
  }, SOAK_SECONDS * 1000 + 90_000);

  it("the stream check catches duplicates, reordering, gaps and incomplete clean streams", () => {
    const d = (seq: number, key = "k", connection = "c"): Delivery => ({ receiver: "r", connection, key, seq });
    expect(checkStreams([d(1), d(2), d(3)], new Map([["k", 3]]))).toEqual([]);
    expect(checkStreams([d(1), d(2), d(2)], new Map())).not.toEqual([]);
    expect(checkStreams([d(1), d(3), d(2)], new Map())).not.toEqual([]);
    expect(checkStreams([d(2)], new Map())).not.toEqual([]);
    expect(checkStreams([d(1), d(2)], new Map([["k", 3]]))).not.toEqual([]);
    expect(checkStreams([d(1), d(2, "k", "other")], new Map())).not.toEqual([]);
  });
});
