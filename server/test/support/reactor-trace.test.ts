import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkReactorTrace,
  DEFAULT_REACTOR_TRACE_OPTIONS,
  ReactorTraceError,
  TraceRecorder,
  type ReactorEvent,
  type ReactorTraceOptions,
  type ReactorTraceRules,
  type TraceVerdict,
  type TraceViolation,
} from "./reactor-trace.js";

// ---------------------------------------------------------------------------
// Builders.

const GET_CHANNELS: ReactorEvent = { kind: "GetChannels" };
const SET_SWITCH: ReactorEvent = { kind: "SetSwitch" };
const ON_START: ReactorEvent = { kind: "OnStart" };
const ON_STOP: ReactorEvent = { kind: "OnStop" };
const REGISTERED_AND_STARTED: readonly ReactorEvent[] = [GET_CHANNELS, SET_SWITCH, ON_START];

const init = (peerId: string, connection: string): ReactorEvent => ({ kind: "InitPeer", peerId, connection });
const add = (peerId: string, connection: string): ReactorEvent => ({ kind: "AddPeer", peerId, connection });
const recv = (peerId: string, connection: string, channelId = 0x30): ReactorEvent => ({
  kind: "Receive",
  peerId,
  connection,
  channelId,
});
const remove = (peerId: string, connection: string): ReactorEvent => ({ kind: "RemovePeer", peerId, connection });

/** A whole word around the given peer events. */
const word = (...peerEvents: ReactorEvent[]): ReactorEvent[] => [...REGISTERED_AND_STARTED, ...peerEvents, ON_STOP];

function rejected(verdict: TraceVerdict): TraceViolation {
  if (verdict.ok) throw new Error("expected the trace to be rejected, but it was accepted");
  return verdict;
}

// ---------------------------------------------------------------------------
// Examples.

describe("checkReactorTrace: accepted words", () => {
  it.each<{ name: string; events: ReactorEvent[]; options?: ReactorTraceOptions }>([
    { name: "the minimal word (zero peers)", events: word() },
    { name: "one connected peer with messages", events: word(init("a", "c1"), add("a", "c1"), recv("a", "c1"), recv("a", "c1"), remove("a", "c1")) },
    { name: "Receive before AddPeer", events: word(init("a", "c1"), recv("a", "c1"), recv("a", "c1"), add("a", "c1"), recv("a", "c1"), remove("a", "c1")) },
    { name: "start-error path: InitPeer then RemovePeer, no AddPeer", events: word(init("a", "c1"), remove("a", "c1")) },
    { name: "start-error path with Receive before the failure", events: word(init("a", "c1"), recv("a", "c1"), remove("a", "c1")) },
    {
      name: "many peers interleaved",
      events: word(
        init("a", "c1"),
        init("b", "c2"),
        recv("b", "c2"),
        add("a", "c1"),
        init("c", "c3"),
        recv("a", "c1"),
        add("b", "c2"),
        remove("c", "c3"),
        recv("b", "c2"),
        remove("a", "c1"),
        remove("b", "c2"),
      ),
    },
    {
      name: "reconnects of the same node ID with new connections",
      events: word(
        init("a", "c1"),
        add("a", "c1"),
        remove("a", "c1"),
        init("a", "c2"),
        remove("a", "c2"),
        init("a", "c3"),
        add("a", "c3"),
        recv("a", "c3"),
        remove("a", "c3"),
      ),
    },
    {
      name: "overlapping connections of one node ID when oneConnectionPerPeerId is off",
      events: word(init("a", "c1"), init("a", "c2"), add("a", "c2"), remove("a", "c1"), remove("a", "c2")),
      options: { oneConnectionPerPeerId: false },
    },
    {
      name: "Receive on a channel that GetChannels returned",
      events: [{ kind: "GetChannels", channelIds: [0x20, 0x21] }, SET_SWITCH, ON_START, init("a", "c1"), recv("a", "c1", 0x21), remove("a", "c1"), ON_STOP],
    },
    { name: "the empty trace, as a prefix", events: [], options: { complete: false } },
    { name: "a running node, as a prefix", events: [...REGISTERED_AND_STARTED, init("a", "c1"), add("a", "c1"), recv("a", "c1")], options: { complete: false } },
  ])("$name", ({ events, options }) => {
    expect(checkReactorTrace(events, options)).toEqual({ ok: true });
  });
});

describe("checkReactorTrace: rejected traces", () => {
  it.each<{ name: string; events: ReactorEvent[]; options?: ReactorTraceOptions; index: number; reason: RegExp }>([
    { name: "missing registration", events: [ON_START, ON_STOP], index: 0, reason: /OnStart before registration \(missing GetChannels, SetSwitch\)/ },
    { name: "missing SetSwitch", events: [GET_CHANNELS, ON_START, ON_STOP], index: 1, reason: /OnStart before registration completed \(missing SetSwitch\)/ },
    { name: "SetSwitch before GetChannels", events: [SET_SWITCH, GET_CHANNELS, ON_START, ON_STOP], index: 0, reason: /SetSwitch before GetChannels/ },
    { name: "GetChannels twice", events: [GET_CHANNELS, GET_CHANNELS, SET_SWITCH, ON_START, ON_STOP], index: 1, reason: /GetChannels twice/ },
    { name: "OnStop before OnStart", events: [GET_CHANNELS, SET_SWITCH, ON_STOP], index: 2, reason: /OnStop before OnStart/ },
    {
      name: "peer event before OnStart",
      events: [GET_CHANNELS, SET_SWITCH, init("a", "c1"), ON_START, remove("a", "c1"), ON_STOP],
      index: 2,
      reason: /InitPeer for connection c1 \(peer a\) before OnStart/,
    },
    { name: "peer event after OnStop", events: [...word(), init("a", "c1")], index: 4, reason: /InitPeer for connection c1 \(peer a\) after OnStop/ },
    {
      name: "Receive after OnStop",
      events: [...word(init("a", "c1"), add("a", "c1"), remove("a", "c1")), recv("a", "c1")],
      index: 7,
      reason: /Receive for connection c1 \(peer a\) after OnStop/,
    },
    { name: "OnStart after OnStop", events: [...word(), ON_START], index: 4, reason: /OnStart after OnStop/ },
    { name: "OnStart twice", events: [GET_CHANNELS, SET_SWITCH, ON_START, ON_START, ON_STOP], index: 3, reason: /OnStart twice/ },
    { name: "AddPeer without InitPeer", events: word(add("a", "c2"), remove("a", "c2")), index: 3, reason: /AddPeer for connection c2 before its InitPeer/ },
    { name: "Receive without InitPeer", events: word(recv("a", "c2")), index: 3, reason: /Receive for connection c2 before its InitPeer/ },
    { name: "RemovePeer without InitPeer", events: word(remove("a", "c2")), index: 3, reason: /RemovePeer for connection c2 before its InitPeer/ },
    { name: "AddPeer twice", events: word(init("a", "c1"), add("a", "c1"), add("a", "c1"), remove("a", "c1")), index: 5, reason: /AddPeer twice for connection c1/ },
    { name: "InitPeer twice for one connection", events: word(init("a", "c1"), init("a", "c1"), remove("a", "c1")), index: 4, reason: /InitPeer twice for connection c1/ },
    {
      name: "Receive after RemovePeer",
      events: word(init("a", "c3"), add("a", "c3"), remove("a", "c3"), recv("a", "c3")),
      index: 6,
      reason: /Receive for connection c3 after its RemovePeer/,
    },
    {
      name: "AddPeer after RemovePeer",
      events: word(init("a", "c3"), remove("a", "c3"), add("a", "c3")),
      index: 5,
      reason: /AddPeer for connection c3 after its RemovePeer/,
    },
    { name: "RemovePeer twice", events: word(init("a", "c1"), remove("a", "c1"), remove("a", "c1")), index: 5, reason: /RemovePeer twice for connection c1/ },
    {
      name: "OnStop with open connections",
      events: word(init("a", "c1"), init("b", "c2"), init("c", "c4"), remove("b", "c2")),
      index: 7,
      reason: /OnStop while peer connections c1, c4 are still open \(missing RemovePeer\)/,
    },
    {
      name: "OnStop with one open connection",
      events: word(init("a", "c1"), add("a", "c1")),
      index: 5,
      reason: /OnStop while peer connection c1 is still open \(missing RemovePeer\)/,
    },
    {
      name: "overlapping connections of one node ID",
      events: word(init("a", "c1"), init("a", "c2"), remove("a", "c1"), remove("a", "c2")),
      index: 4,
      reason: /InitPeer for connection c2 \(peer a\) while peer a still has peer connection c1 open/,
    },
    {
      name: "a reconnect that reuses the connection id",
      events: word(init("a", "c1"), remove("a", "c1"), init("a", "c1"), remove("a", "c1")),
      options: { oneConnectionPerPeerId: false },
      index: 5,
      reason: /connection c1 was already used and removed/,
    },
    {
      name: "an event naming another peer than its connection's InitPeer",
      events: word(init("a", "c1"), add("b", "c1"), remove("a", "c1")),
      index: 4,
      reason: /AddPeer for connection c1 \(peer b\) names peer b, but InitPeer for c1 named peer a/,
    },
    {
      name: "Receive before AddPeer when allowReceiveBeforeAddPeer is off",
      events: word(init("a", "c1"), recv("a", "c1"), add("a", "c1"), remove("a", "c1")),
      options: { allowReceiveBeforeAddPeer: false },
      index: 4,
      reason: /Receive for connection c1 before its AddPeer/,
    },
    {
      name: "Receive on a channel GetChannels did not return",
      events: [{ kind: "GetChannels", channelIds: [0x20] }, SET_SWITCH, ON_START, init("a", "c1"), recv("a", "c1", 0x30), remove("a", "c1"), ON_STOP],
      index: 4,
      reason: /on channel 0x30, which GetChannels did not return \(0x20\)/,
    },
    {
      name: "an unknown event kind",
      events: [GET_CHANNELS, { kind: "Bogus" } as unknown as ReactorEvent],
      options: { complete: false },
      index: 1,
      reason: /unknown event kind "Bogus"/,
    },
    {
      name: "an incomplete trace",
      events: [...REGISTERED_AND_STARTED, init("a", "c1"), add("a", "c1")],
      index: 5,
      reason: /trace ended before OnStop \(in phase running; peer connection c1 is still open\)/,
    },
    { name: "the empty trace", events: [], index: 0, reason: /trace ended before OnStop \(in phase new\)/ },
  ])("$name", ({ events, options, index, reason }) => {
    const verdict = rejected(checkReactorTrace(events, options));
    expect(verdict.index).toBe(index);
    expect(verdict.reason).toMatch(reason);
    expect(verdict.event).toBe(index < events.length ? events[index] : null);
  });

  it("lists what would have been accepted", () => {
    const events = [...REGISTERED_AND_STARTED, init("a", "c1"), init("b", "c2"), add("b", "c2"), ON_STOP];
    expect(rejected(checkReactorTrace(events)).expected).toEqual([
      "InitPeer(new connection, not of peer a, b)",
      "Receive(c1)",
      "AddPeer(c1)",
      "RemovePeer(c1)",
      "Receive(c2)",
      "RemovePeer(c2)",
    ]);
    const strict = { allowReceiveBeforeAddPeer: false, oneConnectionPerPeerId: false };
    expect(rejected(checkReactorTrace(events, strict)).expected).toEqual([
      "InitPeer(new connection)",
      "AddPeer(c1)",
      "RemovePeer(c1)",
      "Receive(c2)",
      "RemovePeer(c2)",
    ]);
    expect(rejected(checkReactorTrace([...REGISTERED_AND_STARTED, ON_START])).expected).toEqual(["InitPeer(new connection)", "OnStop"]);
    expect(rejected(checkReactorTrace([GET_CHANNELS])).expected).toEqual(["SetSwitch"]);
    expect(rejected(checkReactorTrace([...word(), ON_STOP])).expected).toEqual([]);
  });

  it("has documented defaults", () => {
    expect(DEFAULT_REACTOR_TRACE_OPTIONS).toEqual({ complete: true, registration: true, oneConnectionPerPeerId: true, allowReceiveBeforeAddPeer: true });
    // complete by default:
    expect(checkReactorTrace(REGISTERED_AND_STARTED).ok).toBe(false);
    // one connection per peer ID by default:
    expect(checkReactorTrace(word(init("a", "c1"), init("a", "c2"), remove("a", "c1"), remove("a", "c2"))).ok).toBe(false);
    // Receive before AddPeer allowed by default:
    expect(checkReactorTrace(word(init("a", "c1"), recv("a", "c1"), remove("a", "c1"))).ok).toBe(true);
  });
});

describe("TraceRecorder", () => {
  it("checks as events arrive, as a prefix or as a whole word", () => {
    const trace = new TraceRecorder();
    expect(trace.check({ complete: false })).toEqual({ ok: true });
    for (const event of [...REGISTERED_AND_STARTED, init("a", "c1"), recv("a", "c1"), add("a", "c1")]) trace.record(event);
    expect(trace.check({ complete: false })).toEqual({ ok: true });
    expect(rejected(trace.check()).index).toBe(6);
    expect(() => trace.assertValid()).toThrow(ReactorTraceError);
    trace.record(remove("a", "c1"));
    trace.record(ON_STOP);
    expect(trace.check()).toEqual({ ok: true });
    trace.assertValid();
    expect(trace.events).toHaveLength(8);
  });

  it("keeps the first violation and still records later events", () => {
    const trace = new TraceRecorder();
    const events = [...REGISTERED_AND_STARTED, init("a", "c1"), remove("a", "c1"), recv("a", "c1"), remove("a", "c1"), ON_STOP];
    for (const event of events) trace.record(event);
    const verdict = rejected(trace.check({ complete: false }));
    expect(verdict.index).toBe(5);
    expect(verdict.reason).toMatch(/Receive for connection c1 after its RemovePeer/);
    expect(trace.events).toEqual(events);
    expect(checkReactorTrace(events)).toEqual(verdict);
  });

  it("throws an error that shows the violation in context", () => {
    const trace = new TraceRecorder({ oneConnectionPerPeerId: false });
    for (const event of [...REGISTERED_AND_STARTED, init("a", "c1"), init("a", "c2"), add("a", "c3")]) trace.record(event);
    let thrown: unknown;
    try {
      trace.assertValid({ complete: false });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ReactorTraceError);
    const error = thrown as ReactorTraceError;
    expect(error.verdict.index).toBe(5);
    expect(error.message).toContain("reactor trace rejected at event 5: AddPeer for connection c3 before its InitPeer");
    expect(error.message).toContain("  4: InitPeer(c2, peer a)");
    expect(error.message).toContain("> 5: AddPeer(c3, peer a)");
  });
});

// ---------------------------------------------------------------------------
// Properties.

/**
 * The reference: the grammar restated as regular expressions over projections
 * of the trace, written independently of the checker's automaton.
 * - the lifecycle projection is `GSTP` (a prefix of it, for a prefix);
 * - every peer event lies between OnStart and OnStop;
 * - each connection's projection is `I r* (A r*)? X` (without `X` if open in a
 *   prefix without OnStop; without the first `r*` if Receive before AddPeer is
 *   off), and names a single peer ID;
 * - optionally, the connections of one peer ID have disjoint lifetimes;
 * - Receive channels are among GetChannels' channelIds, when given.
 */
function referenceAccepts(events: readonly ReactorEvent[], rules: Required<ReactorTraceRules>, complete: boolean): boolean {
  const letter: Record<ReactorEvent["kind"], string> = {
    GetChannels: "G",
    SetSwitch: "S",
    OnStart: "T",
    OnStop: "P",
    Session: "N", // an SDK's event: never part of a word with registration
    InitPeer: "I",
    AddPeer: "A",
    Receive: "r",
    RemovePeer: "X",
  };
  const lifecycle = events.filter((e) => !("connection" in e)).map((e) => letter[e.kind]).join("");
  if (!(complete ? /^GSTP$/ : /^(G(S(TP?)?)?)?$/).test(lifecycle)) return false;
  const startAt = events.findIndex((e) => e.kind === "OnStart");
  const stopAt = events.findIndex((e) => e.kind === "OnStop");
  const getChannels = events.find((e) => e.kind === "GetChannels");
  const channels = getChannels?.kind === "GetChannels" ? getChannels.channelIds : undefined;

  const byConnection = new Map<string, { letters: string; peerIds: Set<string>; first: number; last: number }>();
  for (const [index, e] of events.entries()) {
    if (!("connection" in e)) continue;
    if (startAt === -1 || index < startAt || (stopAt !== -1 && index > stopAt)) return false;
    if (e.kind === "Receive" && channels !== undefined && !channels.includes(e.channelId)) return false;
    const c = byConnection.get(e.connection) ?? { letters: "", peerIds: new Set<string>(), first: index, last: index };
    c.letters += letter[e.kind];
    c.peerIds.add(e.peerId);
    c.last = index;
    byConnection.set(e.connection, c);
  }
  const one = rules.allowReceiveBeforeAddPeer ? "Ir*(Ar*)?" : "I(Ar*)?";
  const closedRe = new RegExp(`^${one}X$`);
  const openRe = new RegExp(`^${one}X?$`);
  const mustBeClosed = complete || stopAt !== -1;
  const lifetimes: { peerId: string; from: number; to: number }[] = [];
  for (const c of byConnection.values()) {
    if (c.peerIds.size !== 1 || !(mustBeClosed ? closedRe : openRe).test(c.letters)) return false;
    lifetimes.push({ peerId: [...c.peerIds].join(""), from: c.first, to: c.letters.endsWith("X") ? c.last : Infinity });
  }
  if (rules.oneConnectionPerPeerId) {
    for (const a of lifetimes) {
      for (const b of lifetimes) {
        if (a !== b && a.peerId === b.peerId && a.from < b.to && b.from < a.to) return false;
      }
    }
  }
  return true;
}

/** The reference verdict: the shortest rejected prefix, or the whole trace if it is only incomplete. */
function referenceVerdict(events: readonly ReactorEvent[], options: Required<ReactorTraceOptions>): { ok: true } | { ok: false; index: number } {
  for (let n = 1; n <= events.length; n++) {
    if (!referenceAccepts(events.slice(0, n), options, false)) return { ok: false, index: n - 1 };
  }
  if (options.complete && !referenceAccepts(events, options, true)) return { ok: false, index: events.length };
  return { ok: true };
}

const PEER_IDS = ["a", "b", "c"] as const;
const CHANNELS = [0x20, 0x21, 0x30] as const;

interface ConnectionPlan {
  readonly peerId: string;
  readonly beforeAdd: readonly number[];
  readonly added: boolean;
  readonly afterAdd: readonly number[];
}

const rulesArb: fc.Arbitrary<Required<ReactorTraceRules>> = fc.record({
  // The reference models an in-process reactor's words; the SDK view is checked by the shared fixtures.
  registration: fc.constant(true),
  oneConnectionPerPeerId: fc.boolean(),
  allowReceiveBeforeAddPeer: fc.boolean(),
});

const wordPlanArb = fc.record({
  rules: rulesArb,
  declareChannels: fc.boolean(),
  connections: fc.array(
    fc.record({
      peerId: fc.constantFrom(...PEER_IDS),
      beforeAdd: fc.array(fc.constantFrom(...CHANNELS), { maxLength: 3 }),
      added: fc.boolean(),
      afterAdd: fc.array(fc.constantFrom(...CHANNELS), { maxLength: 3 }),
    }),
    { maxLength: 8 },
  ),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
});

type WordPlan = typeof wordPlanArb extends fc.Arbitrary<infer T> ? T : never;

/** One connection's peer-management word: InitPeer Receive* [AddPeer Receive*] RemovePeer. */
function connectionWord(plan: ConnectionPlan, connection: string, rules: Required<ReactorTraceRules>): ReactorEvent[] {
  const { peerId } = plan;
  const out = [init(peerId, connection)];
  if (rules.allowReceiveBeforeAddPeer) out.push(...plan.beforeAdd.map((ch) => recv(peerId, connection, ch)));
  if (plan.added) out.push(add(peerId, connection), ...plan.afterAdd.map((ch) => recv(peerId, connection, ch)));
  out.push(remove(peerId, connection));
  return out;
}

/**
 * A valid word: connection words are chained per node ID (so that one ID's
 * connections never overlap) or kept apart (when overlap is allowed), and the
 * chains are interleaved as `picks` says.
 */
function buildWord({ rules, declareChannels, connections, picks }: WordPlan): ReactorEvent[] {
  const chains = new Map<string, ReactorEvent[]>();
  connections.forEach((plan, i) => {
    const key = rules.oneConnectionPerPeerId ? plan.peerId : `c${i}`;
    chains.set(key, [...(chains.get(key) ?? []), ...connectionWord(plan, `c${i}`, rules)]);
  });
  const queues = [...chains.values()];
  const peerEvents: ReactorEvent[] = [];
  for (let step = 0; queues.length > 0; step++) {
    const at = (picks[step % picks.length] ?? 0) % queues.length;
    const queue = queues[at]!;
    peerEvents.push(queue.shift()!);
    if (queue.length === 0) queues.splice(at, 1);
  }
  const getChannels: ReactorEvent = declareChannels ? { kind: "GetChannels", channelIds: [...CHANNELS] } : GET_CHANNELS;
  return [getChannels, SET_SWITCH, ON_START, ...peerEvents, ON_STOP];
}

const peerEventArb: fc.Arbitrary<ReactorEvent> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("InitPeer" as const, "AddPeer" as const, "RemovePeer" as const),
    peerId: fc.constantFrom(...PEER_IDS),
    connection: fc.constantFrom("c0", "c1", "c2", "c99"),
  }),
  fc.record({
    kind: fc.constant("Receive" as const),
    peerId: fc.constantFrom(...PEER_IDS),
    connection: fc.constantFrom("c0", "c1", "c2", "c99"),
    channelId: fc.constantFrom(...CHANNELS, 0x99),
  }),
);
const anyEventArb: fc.Arbitrary<ReactorEvent> = fc.oneof(fc.constantFrom(GET_CHANNELS, SET_SWITCH, ON_START, ON_STOP), peerEventArb);

const MUTATIONS = [
  "delete",
  "duplicate",
  "swapAdjacent",
  "swapWithinConnection",
  "moveAfterOnStop",
  "moveToFront",
  "move",
  "insert",
  "truncate",
  "renameConnection",
  "renamePeerId",
  "mergeConnections",
  "foreignChannel",
] as const;

const mutationArb = fc.record({
  op: fc.constantFrom(...MUTATIONS),
  i: fc.nat(),
  j: fc.nat(),
  event: anyEventArb,
});

type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;

type PeerEventOf<E extends ReactorEvent = ReactorEvent> = E extends { connection: string } ? E : never;
const isPeerEvent = (e: ReactorEvent): e is PeerEventOf => "connection" in e;

/** Applies one mutation; positions are taken modulo the trace's length. */
function mutate(events: readonly ReactorEvent[], { op, i, j, event }: Mutation): ReactorEvent[] {
  const out = [...events];
  const at = i % out.length;
  const to = j % (out.length + 1);
  const peerAt = out.flatMap((e, index) => (isPeerEvent(e) ? [index] : []));
  const pick = (indices: number[], n: number): number | undefined => indices[n % Math.max(1, indices.length)];
  const swap = (x: number, y: number): void => {
    const tmp = out[x]!;
    out[x] = out[y]!;
    out[y] = tmp;
  };
  switch (op) {
    case "delete":
      out.splice(at, 1);
      return out;
    case "duplicate":
      out.splice(at + 1, 0, out[at]!);
      return out;
    case "swapAdjacent":
      if (at + 1 < out.length) swap(at, at + 1);
      return out;
    case "swapWithinConnection": {
      // Swap a peer event with the next event of the same connection.
      const x = pick(peerAt, i);
      if (x === undefined) return out;
      const connection = (out[x] as PeerEventOf).connection;
      const y = out.findIndex((e, index) => index > x && isPeerEvent(e) && e.connection === connection);
      if (y !== -1) swap(x, y);
      return out;
    }
    case "moveAfterOnStop": {
      const [moved] = out.splice(at, 1);
      out.push(moved!);
      return out;
    }
    case "moveToFront": {
      const [moved] = out.splice(at, 1);
      out.unshift(moved!);
      return out;
    }
    case "move": {
      const [moved] = out.splice(at, 1);
      out.splice(to % (out.length + 1), 0, moved!);
      return out;
    }
    case "insert":
      out.splice(to, 0, event);
      return out;
    case "truncate":
      return out.slice(0, at);
    case "renameConnection": {
      // One event moves to another connection (existing or new), keeping its peer ID.
      const x = pick(peerAt, i);
      const y = pick(peerAt, j);
      if (x === undefined || y === undefined) return out;
      const target = x === y ? "c-new" : (out[y] as PeerEventOf).connection;
      out[x] = { ...(out[x] as PeerEventOf), connection: target };
      return out;
    }
    case "renamePeerId": {
      // A whole connection gets another node ID: may create overlaps of one ID.
      const x = pick(peerAt, i);
      if (x === undefined) return out;
      const connection = (out[x] as PeerEventOf).connection;
      const peerId = PEER_IDS[j % PEER_IDS.length]!;
      return out.map((e) => (isPeerEvent(e) && e.connection === connection ? { ...e, peerId } : e));
    }
    case "mergeConnections": {
      // A whole connection takes another connection's id and peer ID: a reused connection id.
      const x = pick(peerAt, i);
      const y = pick(peerAt, j);
      if (x === undefined || y === undefined) return out;
      const from = (out[x] as PeerEventOf).connection;
      const { connection, peerId } = out[y] as PeerEventOf;
      return out.map((e) => (isPeerEvent(e) && e.connection === from ? { ...e, connection, peerId } : e));
    }
    case "foreignChannel": {
      const receives = out.flatMap((e, index) => (e.kind === "Receive" ? [index] : []));
      const x = pick(receives, i);
      if (x === undefined) return out;
      out[x] = { ...(out[x] as Extract<ReactorEvent, { kind: "Receive" }>), channelId: 0x99 };
      return out;
    }
  }
}

describe("checkReactorTrace: properties", () => {
  it("accepts every generated word, and every prefix of it as a prefix", () => {
    fc.assert(
      fc.property(wordPlanArb, (plan) => {
        const events = buildWord(plan);
        const options = { ...plan.rules, complete: true };
        expect(referenceAccepts(events, plan.rules, true)).toBe(true);
        expect(checkReactorTrace(events, options)).toEqual({ ok: true });
        for (let n = 0; n <= events.length; n++) {
          const prefix = events.slice(0, n);
          expect(checkReactorTrace(prefix, { ...options, complete: false })).toEqual({ ok: true });
          if (n < events.length) {
            // A strict prefix is no whole word: rejected at its end, for being incomplete.
            const verdict = rejected(checkReactorTrace(prefix, options));
            expect([verdict.index, verdict.event]).toEqual([n, null]);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with an independent reference on single mutations of words", () => {
    const outcomes = { accepted: 0, rejected: 0 };
    fc.assert(
      fc.property(wordPlanArb, mutationArb, fc.boolean(), (plan, mutation, complete) => {
        const events = mutate(buildWord(plan), mutation);
        const options = { ...plan.rules, complete };
        const expected = referenceVerdict(events, options);
        const verdict = checkReactorTrace(events, options);
        if (expected.ok) {
          outcomes.accepted++;
          expect(verdict).toEqual({ ok: true });
        } else {
          outcomes.rejected++;
          const violation = rejected(verdict);
          expect(violation.index).toBe(expected.index);
          expect(violation.event).toBe(expected.index < events.length ? events[expected.index] : null);
          expect(violation.reason).not.toBe("");
        }
      }),
      { numRuns: 2000 },
    );
    // Both outcomes must be well represented, or the property says little.
    expect(outcomes.rejected).toBeGreaterThan(600);
    expect(outcomes.accepted).toBeGreaterThan(200);
  });

  it("rejects mutations that always break a word", () => {
    // Deleting an InitPeer, OnStart or OnStop, or duplicating InitPeer, AddPeer,
    // RemovePeer or a lifecycle event, never yields a word.
    fc.assert(
      fc.property(wordPlanArb, fc.nat(), fc.boolean(), (plan, n, duplicate) => {
        const events = buildWord(plan);
        const candidates = events.flatMap((e, index) =>
          (duplicate ? e.kind !== "Receive" : ["InitPeer", "OnStart", "OnStop"].includes(e.kind)) ? [index] : [],
        );
        const at = candidates[n % candidates.length]!;
        const mutant = mutate(events, { op: duplicate ? "duplicate" : "delete", i: at, j: 0, event: ON_STOP });
        const verdict = rejected(checkReactorTrace(mutant, plan.rules));
        expect(verdict.index).toBeLessThanOrEqual(mutant.length);
        expect(referenceVerdict(mutant, { ...plan.rules, complete: true }).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("TraceRecorder agrees with checkReactorTrace at every step", () => {
    fc.assert(
      fc.property(wordPlanArb, mutationArb, (plan, mutation) => {
        const events = mutate(buildWord(plan), mutation);
        const trace = new TraceRecorder(plan.rules);
        events.forEach((event, n) => {
          trace.record(event);
          expect(trace.check({ complete: false })).toEqual(checkReactorTrace(events.slice(0, n + 1), { ...plan.rules, complete: false }));
        });
        expect(trace.check()).toEqual(checkReactorTrace(events, plan.rules));
      }),
      { numRuns: 200 },
    );
  });
});
