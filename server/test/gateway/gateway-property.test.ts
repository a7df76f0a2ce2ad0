/**
 * Remote reactors under random schedules: peers connect and disconnect,
 * reactors send and stop peers, and reactor streams are cut and re-attached —
 * resuming inside the window, starting afresh outside it, or coming back
 * without a token. Every session's trace (events deduplicated by sequence
 * number across resumes) must be a word of the reactor grammar, and a resumed
 * session must continue exactly where the client left it: no gap, no event
 * delivered twice with different contents. Both branches of `start-peer`
 * are made to happen on purpose and counted, as in the Switch's property
 * test: an in-process reactor ahead of the remote one kills a connection
 * during InitPeer (the Switch's start-error path: the remote reactor sees
 * InitPeer then RemovePeer), or sends to a peer from AddPeer, the moment its
 * connection started. Our Switch never delivers a Receive before AddPeer (see
 * the Switch's property test), but CometBFT's may, and the gateway must relay
 * that branch of the grammar too: the in-process reactor stands in for such a
 * Switch and hands the remote reactor a Receive between its InitPeer and its
 * AddPeer (`receivesBeforeAdd`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Event } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import type { Peer } from "../../src/p2p/peer.js";
import type { Reactor } from "../../src/p2p/reactor.js";
import { assertWithCoverage } from "../support/coverage-floor.js";
import { checkReactorTrace, formatTraceViolation } from "../support/reactor-trace.js";
import { AttachClient, toTrace } from "./attach-client.js";
import { type GatewayNode, createGatewayNode } from "./support.js";

const NODES = 3;
const APP = 0x60;
const CHANNELS = [{ id: APP, priority: 5, sendQueueCapacity: 100 }];

/** The byte that marks a message an in-process reactor sent from AddPeer, the moment the connection started. */
const EARLY_MARK = 0xee;

/**
 * An in-process reactor added before the remote one: it kills a peer's
 * connection during InitPeer (so the Switch's `peer.start()` fails), sends to
 * a peer on the remote reactor's channel from AddPeer, or, from AddPeer (after
 * the remote reactor's InitPeer, before its AddPeer), hands the remote reactor
 * a Receive from that peer, as a Switch whose receive routine runs before
 * AddPeer would.
 */
class Saboteur implements Reactor {
  failStart = new Set<string>();
  readonly failedStarts = new Set<string>();
  sendOnAdd = new Set<string>();
  receiveBeforeAdd = new Set<string>();
  constructor(private readonly sw: { getReactor(name: string): Reactor | undefined }) {}
  getChannels() {
    return [{ id: 0x61, priority: 1, sendQueueCapacity: 10 }];
  }
  setSwitch(): void {}
  onStart(): void {}
  onStop(): void {}
  initPeer(peer: Peer): void {
    if (this.failStart.delete(peer.id)) {
      this.failedStarts.add(peer.connectionId);
      peer.stop();
    }
  }
  addPeer(peer: Peer): void {
    if (this.sendOnAdd.delete(peer.id)) peer.trySend(APP, Uint8Array.of(0, 0, 0, 0, EARLY_MARK));
    const app = this.sw.getReactor("app");
    if (this.receiveBeforeAdd.delete(peer.id) && app !== undefined) {
      void Promise.resolve(app.receive({ src: peer, channelId: APP, message: Uint8Array.of(0, 0, 0, 0, 0) })).catch(() => undefined);
    }
  }
  removePeer(): void {}
  receive(): void {}
}

type Action =
  | { kind: "failStart"; at: number; peer: number }
  | { kind: "receiveBeforeAdd"; at: number; peer: number }
  | { kind: "earlySend"; from: number; to: number }
  | { kind: "dial"; from: number; to: number }
  | { kind: "stopPeer"; at: number; peer: number }
  | { kind: "send"; from: number; to: number; count: number }
  | { kind: "detach"; at: number }
  | { kind: "reattach"; at: number; withToken: boolean }
  | { kind: "expire"; at: number }
  | { kind: "ack"; at: number }
  | { kind: "pause"; ms: number };

const idx = fc.integer({ min: 0, max: NODES - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("dial" as const), from: idx, to: idx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("failStart" as const), at: idx, peer: idx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("receiveBeforeAdd" as const), at: idx, peer: idx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("earlySend" as const), from: idx, to: idx }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("stopPeer" as const), at: idx, peer: idx }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("send" as const), from: idx, to: idx, count: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("detach" as const), at: idx }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reattach" as const), at: idx, withToken: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("expire" as const), at: idx }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("ack" as const), at: idx }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("pause" as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);

const RESUME_WINDOW_MS = 80;

/** One logical session: the streams that carried it (a fresh one, then its resumes). */
interface Session {
  token: string;
  bySeq: Map<bigint, Event>;
  resumed: number;
}

interface Slot {
  node: GatewayNode;
  saboteur: Saboteur;
  client: AttachClient | null;
  sessions: Session[];
}

/** Highest sequence number each client acknowledged (clients ack only on an "ack" action). */
const acked = new WeakMap<AttachClient, bigint>();

function attachClient(node: GatewayNode, sessionToken: string): AttachClient {
  // Credit flows back automatically; acknowledgements only when the schedule says so.
  return new AttachClient(node.grpc, { name: "app", channels: CHANNELS, sessionToken, autoAck: false });
}

/**
 * Takes a client's events into its session. A client that crashed (`upToAck`)
 * keeps only what it acknowledged: the rest must come again on resume.
 */
function absorb(slot: Slot, client: AttachClient, upToAck = false): void {
  const reg = client.registered;
  if (reg === null) return;
  let s = slot.sessions.at(-1);
  if (s === undefined || !reg.resumed || s.token !== reg.sessionToken) {
    s = { token: reg.sessionToken, bySeq: new Map(), resumed: 0 };
    slot.sessions.push(s);
  } else {
    s.resumed++;
  }
  const limit = upToAck ? (acked.get(client) ?? 0n) : null;
  for (const e of client.events) {
    if (limit !== null && e.seq > limit) continue;
    const prev = s.bySeq.get(e.seq);
    if (prev !== undefined && JSON.stringify(prev.kind?.$case) !== JSON.stringify(e.kind?.$case)) {
      throw new Error(`seq ${String(e.seq)} delivered twice with different events: ${prev.kind?.$case} / ${e.kind?.$case}`);
    }
    s.bySeq.set(e.seq, e);
  }
}

const coverage = {
  sessions: 0,
  resumes: 0,
  fresh: 0,
  events: 0,
  receives: 0,
  /** InitPeer then RemovePeer, without AddPeer, as the remote reactor saw it. */
  startErrors: 0,
  /** Of those, connections whose start failed in the Switch. */
  startFailures: 0,
  /** Receives between InitPeer and AddPeer (handed over by the in-process reactor, as CometBFT's Switch may). */
  receivesBeforeAdd: 0,
  /** Messages sent from AddPeer, the moment the connection started, that reached the other side's remote reactor. */
  earlyReceives: 0,
};

async function run(actions: readonly Action[]): Promise<void> {
  const slots: Slot[] = [];
  for (let i = 0; i < NODES; i++) {
    const node = await createGatewayNode({ reactors: ["app"], resumeWindowMs: RESUME_WINDOW_MS });
    // Before the remote reactor registers, so that the Switch calls it first.
    const saboteur = new Saboteur(node.sw);
    node.sw.addReactor("saboteur", saboteur);
    const client = attachClient(node, "");
    slots.push({ node, saboteur, client, sessions: [] });
  }
  // A client's events are absorbed when it is replaced (or at the end); a resumed client continues its session.
  const current: (AttachClient | null)[] = slots.map((s) => s.client);
  try {
    await Promise.all(slots.map((s) => s.node.start()));
    for (const a of actions) {
      switch (a.kind) {
        case "failStart":
        case "receiveBeforeAdd":
        case "earlySend": {
          // Arm the in-process reactor of one side for the other's next connection, then connect them.
          const [at, peer] = a.kind === "earlySend" ? [a.from, a.to] : [a.at, a.peer];
          if (at === peer) break;
          const saboteur = slots[at]!.saboteur;
          const armed = { failStart: saboteur.failStart, receiveBeforeAdd: saboteur.receiveBeforeAdd, earlySend: saboteur.sendOnAdd }[a.kind];
          armed.add(slots[peer]!.node.key.id);
          await slots[at]!.node.sw.dialPeerWithAddress(slots[peer]!.node.address()).catch(() => undefined);
          break;
        }
        case "dial":
          if (a.from !== a.to) slots[a.from]!.node.sw.dialPeerWithAddress(slots[a.to]!.node.address()).catch(() => undefined);
          break;
        case "stopPeer": {
          const p = slots[a.at]!.node.sw.peers().get(slots[a.peer]!.node.key.id);
          if (p !== undefined) slots[a.at]!.node.sw.stopPeerForError(p, new Error("schedule"), { reconnect: false });
          break;
        }
        case "send": {
          const c = current[a.from];
          if (c?.registered != null) {
            for (let i = 0; i < a.count; i++) {
              void c
                .command({ $case: "trySend", value: { connectionId: "", peerId: slots[a.to]!.node.key.id, channelId: APP, message: Uint8Array.of(i) } })
                .catch(() => undefined);
            }
          }
          break;
        }
        case "detach": {
          const c = current[a.at];
          if (c != null) {
            absorb(slots[a.at]!, c, true);
            c.close();
            current[a.at] = null;
          }
          break;
        }
        case "ack": {
          const c = current[a.at];
          const last = c?.events.at(-1);
          if (c != null && last !== undefined) {
            c.ack(last.seq);
            acked.set(c, last.seq);
          }
          break;
        }
        case "reattach":
        case "expire": {
          const slot = slots[a.at]!;
          if (current[a.at] != null) break;
          if (a.kind === "expire") await new Promise((r) => setTimeout(r, RESUME_WINDOW_MS + 40));
          const token = a.kind === "reattach" && !a.withToken ? "" : (slot.sessions.at(-1)?.token ?? "");
          // The server may not have seen the old stream end yet (ALREADY_EXISTS): retry briefly, as an SDK would.
          for (let attempt = 0; attempt < 20; attempt++) {
            const c = attachClient(slot.node, token);
            await c.waitFor(() => c.registered !== null || c.status !== null, 5000, "registered");
            if (c.registered !== null) {
              current[a.at] = c;
              break;
            }
            c.close();
            await new Promise((r) => setTimeout(r, 5));
          }
          break;
        }
        case "pause":
          await new Promise((r) => setTimeout(r, a.ms));
          break;
      }
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    await Promise.all(slots.map((s) => s.node.stop()));
    await new Promise((r) => setTimeout(r, 30));
    for (let i = 0; i < NODES; i++) {
      const c = current[i];
      if (c != null) {
        absorb(slots[i]!, c);
        c.close();
      }
    }
  }
  for (const slot of slots) {
    for (const [n, s] of slot.sessions.entries()) {
      coverage.sessions++;
      coverage.resumes += s.resumed;
      if (n > 0) coverage.fresh++;
      const seqs = [...s.bySeq.keys()].sort((x, y) => (x < y ? -1 : 1));
      // No gap: a session's events are numbered 1..n with nothing missing.
      seqs.forEach((q, i) => {
        if (q !== BigInt(i + 1)) throw new Error(`session ${n}: event ${i + 1} missing (have seq ${String(q)})`);
      });
      const events = seqs.map((q) => s.bySeq.get(q)!);
      coverage.events += events.length;
      coverage.receives += events.filter((e) => e.kind?.$case === "receive").length;
      const trace = toTrace(events);
      const added = new Set<string>();
      for (const e of trace) {
        if (e.kind === "AddPeer") added.add(e.connection);
        else if (e.kind === "Receive" && !added.has(e.connection)) coverage.receivesBeforeAdd++;
        else if (e.kind === "RemovePeer" && !added.has(e.connection)) {
          coverage.startErrors++;
          if (slot.saboteur.failedStarts.has(e.connection)) coverage.startFailures++;
        }
      }
      for (const e of events) {
        if (e.kind?.$case === "receive" && e.kind.value.message[4] === EARLY_MARK) coverage.earlyReceives++;
      }
      const endsWithStop = events.at(-1)?.kind?.$case === "onStop";
      const verdict = checkReactorTrace(trace, { complete: endsWithStop });
      if (!verdict.ok) throw new Error(`session ${n} of node ${slot.node.key.id.slice(0, 8)} rejected:\n${formatTraceViolation(trace, verdict)}`);
    }
  }
}

describe("gateway under random schedules with detaching reactors", () => {
  it("every session is a word of the grammar, with no gap and no conflicting duplicate", async () => {
    const property = fc.asyncProperty(fc.array(action, { minLength: 15, maxLength: 50 }), async (actions) => {
      await run(actions);
    });
    const { extraRuns, short } = await assertWithCoverage(property, {
      numRuns: Number(process.env["GATEWAY_PROPERTY_RUNS"] ?? 35),
      counters: coverage,
      floors: { resumes: 1, fresh: 1, receives: 15, startErrors: 2, startFailures: 2, earlyReceives: 2, receivesBeforeAdd: 2 },
    });
    console.log(`gateway property coverage: ${JSON.stringify(coverage)} extra runs: ${extraRuns}`);
    expect(short).toEqual([]);
  }, 360_000);
});
