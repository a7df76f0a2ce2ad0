/**
 * The reactor-grammar checker of the conformance kit (client/conformance/),
 * the one TypeScript copy: the server's tests (server/test/support/
 * reactor-trace.ts) and the TypeScript SDK's (client/test/support/grammar.ts)
 * both use it; the Python and Go SDKs have their own checkers. All four run
 * over the fixtures in `grammar-traces.json` and must give each one the
 * verdict and the index written there (see SCENARIOS.md), so they cannot drift.
 *
 * The grammar is CometBFT's reactor API spec (`spec/p2p/reactor-api/reactor.md`, v0.38):
 *
 * ```
 * start           = registration on-start *peer-management on-stop
 * registration    = get-channels set-switch
 * peer-management = init-peer start-peer stop-peer
 * start-peer      = [*receive] (connected-peer / start-error)
 * connected-peer  = add-peer *receive
 * stop-peer       = [peer-error] remove-peer
 * ```
 *
 * `start-error` and `peer-error` are log lines, not reactor calls, so a reactor
 * sees one peer connection as `InitPeer Receive* [AddPeer Receive*] RemovePeer`.
 * The spec lets many `peer-management` words run at once, one per peer
 * connection, interleaved in any way. A trace is therefore checked as:
 *
 * 1. **`start`, `registration`** — the lifecycle events (everything but peer
 *    events) must be exactly `GetChannels SetSwitch OnStart OnStop`, in that
 *    order. The checker walks the phases `new → channels → registered →
 *    running → stopped`; each lifecycle event is accepted in one phase only,
 *    which rejects a missing or repeated `GetChannels`/`SetSwitch`, `OnStart`
 *    twice, and anything at all after `OnStop` (a service starts and stops
 *    once). A remote reactor (an SDK's view, `registration: false`) never
 *    sees `GetChannels`/`SetSwitch`: the node registers for it, and its word
 *    starts at `OnStart`.
 * 2. **`*peer-management` sits between `on-start` and `on-stop`** — every peer
 *    event must arrive in the `running` phase.
 * 3. **`peer-management`, `start-peer`, `connected-peer`, `stop-peer`** — each
 *    connection (the `connection` field, never empty; a reconnect of the same
 *    node ID is a new connection) walks `initialized → added → removed`:
 *    `InitPeer` creates it (the id must be unused); `Receive` is accepted while
 *    it is `initialized` (the `[*receive]` before `AddPeer`, unless
 *    `allowReceiveBeforeAddPeer` is false) or `added`; `AddPeer` moves
 *    `initialized → added` once; `RemovePeer` closes it from either state (an
 *    `initialized` connection closing is the `start-error` path). Nothing is
 *    accepted for a `removed` connection. Every event of a connection must
 *    name the `peerId` its `InitPeer` named.
 * 4. **`on-stop` ends the word** — `OnStop` is accepted only when every
 *    connection is `removed`, since each `peer-management` ends with
 *    `remove-peer` and all of them precede `on-stop`.
 * 5. **A whole word** — with `complete` (the default) the trace must end in the
 *    `stopped` phase; with `complete: false` any prefix of a word passes.
 * 6. **Sessions (SDK view only)** — a `Session` event with `resumed: false`
 *    (the node could not resume the stream's session and starts afresh with a
 *    snapshot) begins a new word: connections seen before may be described
 *    again. A resumed session is transparent. In a trace with registration
 *    `Session` is refused: an in-process reactor has no sessions.
 *
 * Two checks go beyond the grammar and can be turned off or are opt-in:
 * `oneConnectionPerPeerId` (on by default: a node ID never has two open
 * connections at once, which our Switch guarantees, as does CometBFT's Quint
 * model) and channel membership (only when `GetChannels` carries
 * `channelIds`: a `Receive` must be on one of them, as in the Quint model).
 *
 * @example
 * ```ts
 * const verdict = checkReactorTrace([
 *   { kind: "GetChannels" }, { kind: "SetSwitch" }, { kind: "OnStart" },
 *   { kind: "InitPeer", peerId: "a", connection: "c1" },
 *   { kind: "RemovePeer", peerId: "a", connection: "c1" },
 *   { kind: "OnStop" },
 * ]);
 * // verdict: { ok: true }
 * ```
 */

/** Calls of the reactor lifecycle: registration with the Switch, then the Service interface. */
export type LifecycleEvent =
  | {
      readonly kind: "GetChannels";
      /** The channel IDs the reactor returned. When given, every `Receive` must be on one of them. */
      readonly channelIds?: readonly number[];
    }
  | { readonly kind: "SetSwitch" }
  | { readonly kind: "OnStart" }
  | { readonly kind: "OnStop" }
  /** A remote reactor's stream (re)attached: `resumed: false` starts a new word (SDK view only). */
  | { readonly kind: "Session"; readonly resumed: boolean };

/**
 * Calls about one peer connection. `connection` identifies the connection and
 * is never reused: when the same `peerId` reconnects, the new connection gets
 * a new `connection`.
 */
export type PeerEvent =
  | { readonly kind: "InitPeer"; readonly peerId: string; readonly connection: string }
  | { readonly kind: "AddPeer"; readonly peerId: string; readonly connection: string }
  | { readonly kind: "Receive"; readonly peerId: string; readonly connection: string; readonly channelId: number }
  | { readonly kind: "RemovePeer"; readonly peerId: string; readonly connection: string };

/** One call from the p2p layer to a reactor, as the reactor observed it. */
export type ReactorEvent = LifecycleEvent | PeerEvent;

/** Another name for {@link ReactorEvent}, for recorders that call it a trace event. */
export type TraceEvent = ReactorEvent;

export type ReactorEventKind = ReactorEvent["kind"];

/** Options of the checks that depend on how the trace was produced. */
export interface ReactorTraceRules {
  /**
   * The word starts with `GetChannels SetSwitch`, as an in-process reactor
   * sees it. False for a remote reactor's view (an SDK's events): the word
   * starts at `OnStart`, and `Session` events may restart it.
   * @default true
   */
  readonly registration?: boolean;
  /**
   * A node ID never has two open connections at once: `InitPeer` for a
   * `peerId` is rejected while an earlier connection of that `peerId` has not
   * seen its `RemovePeer`. Our Switch guarantees this (CometBFT's Quint model
   * assumes it too); the grammar itself is per connection and allows overlap.
   * @default true
   */
  readonly oneConnectionPerPeerId?: boolean;
  /**
   * `Receive` may arrive between `InitPeer` and `AddPeer` (the `[*receive]` of
   * `start-peer`): the peer's routines start before it is added. The spec
   * requires reactors to cope with it; turn it off only to test a producer that
   * promises more.
   * @default true
   */
  readonly allowReceiveBeforeAddPeer?: boolean;
}

export interface ReactorTraceOptions extends ReactorTraceRules {
  /**
   * The trace must be a whole word, that is end with `OnStop`. Set it to false
   * to accept any prefix of a word, e.g. for a node that is still running.
   * @default true
   */
  readonly complete?: boolean;
}

/** The defaults of {@link ReactorTraceOptions}, in one place. */
export const DEFAULT_REACTOR_TRACE_OPTIONS: Readonly<Required<ReactorTraceOptions>> = Object.freeze({
  complete: true,
  registration: true,
  oneConnectionPerPeerId: true,
  allowReceiveBeforeAddPeer: true,
});

export type TraceVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /**
       * Index of the first event at which the trace stops being a prefix of a
       * word. Equal to the trace's length when every event was fine but the
       * trace is not complete.
       */
      readonly index: number;
      /** The offending event, or null when the trace ended too early. */
      readonly event: ReactorEvent | null;
      /** What is wrong, in words, naming the connections involved. */
      readonly reason: string;
      /** The events that would have been accepted at `index`, e.g. `"AddPeer(c1)"`, `"OnStop"`. */
      readonly expected: readonly string[];
    };

export type TraceViolation = Extract<TraceVerdict, { ok: false }>;

/**
 * Checks that `events`, in order, are a word of the reactor grammar (or a
 * prefix of one, with `complete: false`). Returns the first violation.
 */
export function checkReactorTrace(events: Iterable<ReactorEvent>, options: ReactorTraceOptions = {}): TraceVerdict {
  const recorder = new TraceRecorder(options);
  for (const event of events) recorder.record(event);
  return recorder.check(options.complete === undefined ? {} : { complete: options.complete });
}

/** Thrown by {@link TraceRecorder.assertValid}; carries the verdict. */
export class ReactorTraceError extends Error {
  override readonly name = "ReactorTraceError";
  constructor(
    readonly verdict: TraceViolation,
    events: readonly ReactorEvent[],
  ) {
    super(formatTraceViolation(events, verdict));
  }
}

/**
 * Records the events a reactor observes, as they happen, and checks them at
 * any time. Checking is incremental: each event is checked when recorded, and
 * the first violation is kept (later events are still recorded, not checked).
 *
 * ```ts
 * const trace = new TraceRecorder();
 * // in a test reactor: initPeer(peer) { trace.record({ kind: "InitPeer", peerId: peer.id, connection: peer.connectionId }) }
 * trace.assertValid({ complete: false }); // while the node runs
 * trace.assertValid();                    // after it stopped
 * ```
 */
export class TraceRecorder {
  private readonly recorded: ReactorEvent[] = [];
  private readonly state: TraceState;
  private violation: TraceViolation | null = null;

  constructor(rules: ReactorTraceRules = {}) {
    this.state = new TraceState({
      registration: rules.registration ?? DEFAULT_REACTOR_TRACE_OPTIONS.registration,
      oneConnectionPerPeerId: rules.oneConnectionPerPeerId ?? DEFAULT_REACTOR_TRACE_OPTIONS.oneConnectionPerPeerId,
      allowReceiveBeforeAddPeer: rules.allowReceiveBeforeAddPeer ?? DEFAULT_REACTOR_TRACE_OPTIONS.allowReceiveBeforeAddPeer,
    });
  }

  /** The events recorded so far, in order. */
  get events(): readonly ReactorEvent[] {
    return this.recorded;
  }

  record(event: ReactorEvent): void {
    const index = this.recorded.length;
    this.recorded.push(event);
    if (this.violation !== null) return;
    const reason = this.state.apply(event);
    if (reason !== null) {
      this.violation = { ok: false, index, event, reason, expected: this.state.expected() };
    }
  }

  /**
   * The verdict on the events recorded so far.
   * @param options.complete require a whole word, ending with `OnStop` (default true).
   */
  check(options: { readonly complete?: boolean } = {}): TraceVerdict {
    if (this.violation !== null) return this.violation;
    const complete = options.complete ?? DEFAULT_REACTOR_TRACE_OPTIONS.complete;
    if (complete && !this.state.isStopped()) {
      return {
        ok: false,
        index: this.recorded.length,
        event: null,
        reason: this.state.incompleteReason(),
        expected: this.state.expected(),
      };
    }
    return { ok: true };
  }

  /** Throws a {@link ReactorTraceError} describing the violation, if any. */
  assertValid(options: { readonly complete?: boolean } = {}): void {
    const verdict = this.check(options);
    if (!verdict.ok) throw new ReactorTraceError(verdict, this.recorded);
  }
}

/** A short rendering of an event, e.g. `Receive(c1, peer a, channel 0x30)`. */
export function formatReactorEvent(event: ReactorEvent): string {
  switch (event.kind) {
    case "GetChannels":
      return event.channelIds === undefined ? "GetChannels" : `GetChannels(${formatChannels(event.channelIds)})`;
    case "SetSwitch":
    case "OnStart":
    case "OnStop":
      return event.kind;
    case "Session":
      return `Session(${event.resumed ? "resumed" : "fresh"})`;
    case "Receive":
      return `Receive(${event.connection}, peer ${event.peerId}, channel ${formatChannel(event.channelId)})`;
    case "InitPeer":
    case "AddPeer":
    case "RemovePeer":
      return `${event.kind}(${event.connection}, peer ${event.peerId})`;
  }
}

/** A multi-line report of a violation, with the events that led to it. */
export function formatTraceViolation(events: readonly ReactorEvent[], verdict: TraceViolation, contextEvents = 8): string {
  const from = Math.max(0, verdict.index - contextEvents);
  const lines = [`reactor trace rejected at event ${verdict.index}: ${verdict.reason}`];
  lines.push(`  expected one of: ${verdict.expected.length === 0 ? "(nothing: the trace must end)" : verdict.expected.join(", ")}`);
  if (from > 0) lines.push(`  ... ${from} earlier events`);
  for (let i = from; i < Math.min(events.length, verdict.index + 1); i++) {
    const event = events[i];
    if (event !== undefined) lines.push(`  ${i === verdict.index ? ">" : " "} ${i}: ${formatReactorEvent(event)}`);
  }
  if (verdict.event === null) lines.push(`  > ${verdict.index}: (end of trace)`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------
// The automaton.

/** The lifecycle phases: which lifecycle event comes next. */
type Phase = "new" | "channels" | "registered" | "running" | "stopped";

/** One peer connection: `initialized` after InitPeer, `added` after AddPeer, `removed` after RemovePeer. */
interface Connection {
  readonly peerId: string;
  stage: "initialized" | "added" | "removed";
}

class TraceState {
  private phase: Phase;
  private channelIds: ReadonlySet<number> | null = null;
  /** Every connection ever seen (in this session), so that a connection id is never reused. */
  private connections = new Map<string, Connection>();
  /** Connections not yet removed, in InitPeer order. */
  private open = new Set<string>();
  /** Open connections by node ID. */
  private openByPeerId = new Map<string, Set<string>>();

  constructor(private readonly rules: Readonly<Required<ReactorTraceRules>>) {
    this.phase = rules.registration ? "new" : "registered";
  }

  isStopped(): boolean {
    return this.phase === "stopped";
  }

  /** Applies `event`; returns null if accepted, else why not (and leaves the state unchanged). */
  apply(event: ReactorEvent): string | null {
    if (event.kind === "Session") return this.session(event.resumed);
    if (this.phase === "stopped") {
      return `${describe(event)} after OnStop (nothing may follow OnStop)`;
    }
    switch (event.kind) {
      case "GetChannels":
        return this.getChannels(event.channelIds);
      case "SetSwitch":
        return this.setSwitch();
      case "OnStart":
        return this.onStart();
      case "OnStop":
        return this.onStop();
      case "InitPeer":
      case "AddPeer":
      case "Receive":
      case "RemovePeer":
        return this.peerEvent(event);
      default:
        return unknownEvent(event);
    }
  }

  /** What would be accepted next, as short strings. */
  expected(): string[] {
    switch (this.phase) {
      case "new":
        return ["GetChannels"];
      case "channels":
        return ["SetSwitch"];
      case "registered":
        return ["OnStart"];
      case "stopped":
        return [];
      case "running": {
        const out: string[] = [];
        const busy = this.rules.oneConnectionPerPeerId ? [...this.openByPeerId.keys()] : [];
        out.push(busy.length === 0 ? "InitPeer(new connection)" : `InitPeer(new connection, not of peer ${busy.join(", ")})`);
        for (const id of this.open) {
          const connection = this.connections.get(id);
          if (connection === undefined) continue;
          if (connection.stage === "initialized") {
            if (this.rules.allowReceiveBeforeAddPeer) out.push(`Receive(${id})`);
            out.push(`AddPeer(${id})`, `RemovePeer(${id})`);
          } else {
            out.push(`Receive(${id})`, `RemovePeer(${id})`);
          }
        }
        if (this.open.size === 0) out.push("OnStop");
        return out;
      }
    }
  }

  incompleteReason(): string {
    const open = this.open.size === 0 ? "" : `; ${describeOpen([...this.open])} still open`;
    return `trace ended before OnStop (in phase ${this.phase}${open})`;
  }

  // A fresh session of a remote reactor: a new word begins (its snapshot re-announces the peers).
  private session(resumed: boolean): string | null {
    if (this.rules.registration) return "Session in a trace with registration (only a remote reactor's stream has sessions)";
    if (resumed) return null;
    this.phase = "registered";
    this.connections = new Map();
    this.open = new Set();
    this.openByPeerId = new Map();
    return null;
  }

  // registration = get-channels set-switch
  private getChannels(channelIds: readonly number[] | undefined): string | null {
    if (!this.rules.registration) return "GetChannels in a remote reactor's trace (the node registers for it)";
    switch (this.phase) {
      case "new":
        this.phase = "channels";
        this.channelIds = channelIds === undefined ? null : new Set(channelIds);
        return null;
      case "channels":
        return "GetChannels twice (registration happens once)";
      default:
        return `GetChannels after registration (phase ${this.phase}; registration happens once, before OnStart)`;
    }
  }

  private setSwitch(): string | null {
    if (!this.rules.registration) return "SetSwitch in a remote reactor's trace (the node registers for it)";
    switch (this.phase) {
      case "new":
        return "SetSwitch before GetChannels (registration is GetChannels then SetSwitch)";
      case "channels":
        this.phase = "registered";
        return null;
      case "registered":
        return "SetSwitch twice (registration happens once)";
      default:
        return `SetSwitch after OnStart (registration precedes OnStart)`;
    }
  }

  // start = registration on-start *peer-management on-stop
  private onStart(): string | null {
    switch (this.phase) {
      case "new":
        return "OnStart before registration (missing GetChannels, SetSwitch)";
      case "channels":
        return "OnStart before registration completed (missing SetSwitch)";
      case "registered":
        this.phase = "running";
        return null;
      default:
        return this.rules.registration ? "OnStart twice (a service starts once)" : "OnStart twice in one session (a service starts once)";
    }
  }

  private onStop(): string | null {
    if (this.phase !== "running") return `OnStop before OnStart (phase ${this.phase})`;
    if (this.open.size > 0) return `OnStop while ${describeOpen([...this.open])} still open (missing RemovePeer)`;
    this.phase = "stopped";
    return null;
  }

  // peer-management = init-peer start-peer stop-peer, one word per connection.
  private peerEvent(event: PeerEvent): string | null {
    const what = `${event.kind} for connection ${event.connection} (peer ${event.peerId})`;
    if (this.phase !== "running") return `${what} before OnStart (peer events come between OnStart and OnStop)`;

    if (event.connection === "") return `${event.kind} with an empty connection id (peer ${event.peerId})`;
    const connection = this.connections.get(event.connection);
    if (event.kind === "InitPeer") {
      if (connection !== undefined) {
        return connection.stage === "removed"
          ? `${what}: connection ${event.connection} was already used and removed (a reconnect needs a new connection id)`
          : `InitPeer twice for connection ${event.connection}`;
      }
      const sameId = this.openByPeerId.get(event.peerId);
      if (this.rules.oneConnectionPerPeerId && sameId !== undefined) {
        return `${what} while peer ${event.peerId} still has ${connectionList([...sameId])} open (overlapping connections of one node ID; missing RemovePeer)`;
      }
      this.connections.set(event.connection, { peerId: event.peerId, stage: "initialized" });
      this.open.add(event.connection);
      if (sameId === undefined) this.openByPeerId.set(event.peerId, new Set([event.connection]));
      else sameId.add(event.connection);
      return null;
    }

    if (connection === undefined) return `${event.kind} for connection ${event.connection} before its InitPeer`;
    if (connection.peerId !== event.peerId) {
      return `${what} names peer ${event.peerId}, but InitPeer for ${event.connection} named peer ${connection.peerId}`;
    }
    if (connection.stage === "removed") {
      return event.kind === "RemovePeer"
        ? `RemovePeer twice for connection ${event.connection}`
        : `${event.kind} for connection ${event.connection} after its RemovePeer`;
    }

    switch (event.kind) {
      // start-peer = [*receive] (connected-peer / start-error); connected-peer = add-peer *receive
      case "Receive":
        if (connection.stage === "initialized" && !this.rules.allowReceiveBeforeAddPeer) {
          return `Receive for connection ${event.connection} before its AddPeer (allowReceiveBeforeAddPeer is off)`;
        }
        if (this.channelIds !== null && !this.channelIds.has(event.channelId)) {
          return `Receive for connection ${event.connection} on channel ${formatChannel(event.channelId)}, which GetChannels did not return (${formatChannels([...this.channelIds])})`;
        }
        return null;
      case "AddPeer":
        if (connection.stage === "added") return `AddPeer twice for connection ${event.connection}`;
        connection.stage = "added";
        return null;
      // stop-peer = [peer-error] remove-peer, after either branch of start-peer
      case "RemovePeer": {
        connection.stage = "removed";
        this.open.delete(event.connection);
        const sameId = this.openByPeerId.get(event.peerId);
        sameId?.delete(event.connection);
        if (sameId?.size === 0) this.openByPeerId.delete(event.peerId);
        return null;
      }
    }
  }
}

function describe(event: ReactorEvent): string {
  return "connection" in event ? `${event.kind} for connection ${event.connection} (peer ${event.peerId})` : event.kind;
}

function connectionList(ids: readonly string[]): string {
  return ids.length === 1 ? `peer connection ${ids.join("")}` : `peer connections ${ids.join(", ")}`;
}

/** E.g. "peer connections c1, c4 are", to be followed by "still open". */
function describeOpen(ids: readonly string[]): string {
  return `${connectionList(ids)} ${ids.length === 1 ? "is" : "are"}`;
}

function unknownEvent(event: never): string {
  // Only reachable when untyped data (e.g. decoded from a gRPC stream) is fed in.
  const kind: unknown = (event as { kind?: unknown }).kind;
  return `unknown event kind ${typeof kind === "string" ? JSON.stringify(kind) : String(kind)}`;
}

function formatChannel(id: number): string {
  return `0x${id.toString(16).padStart(2, "0")}`;
}

function formatChannels(ids: readonly number[]): string {
  return ids.length === 0 ? "none" : ids.map(formatChannel).join(", ");
}
