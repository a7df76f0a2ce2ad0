/**
 * The reactor grammar check of the TypeScript SDK's conformance suite: the
 * conformance kit's checker (client/conformance/grammar.ts, shared with the
 * server's tests and run over the fixtures every SDK runs), fed the SDK's
 * events. Per peer connection `InitPeer Receive* [AddPeer Receive*]
 * RemovePeer`, all between `OnStart` and `OnStop`; a connection ID is never
 * reused and always names the same peer; a node ID has one open connection at
 * a time. A fresh session (a `session` event with `resumed: false`) starts a
 * new word; a resumed one is transparent.
 */
import { type ReactorEvent as GrammarEvent, checkReactorTrace, formatTraceViolation } from "../../conformance/grammar.js";
import type { ReactorEvent } from "../../src/types.js";

/** An SDK event as the checker's event (a remote reactor's view: no registration calls). */
export function toGrammarEvent(e: ReactorEvent): GrammarEvent {
  switch (e.type) {
    case "session":
      return { kind: "Session", resumed: e.resumed };
    case "start":
      return { kind: "OnStart" };
    case "stop":
      return { kind: "OnStop" };
    case "initPeer":
      return { kind: "InitPeer", peerId: e.peer.id, connection: e.peer.connectionId };
    case "addPeer":
      return { kind: "AddPeer", peerId: e.peer.id, connection: e.peer.connectionId };
    case "receive":
      return { kind: "Receive", peerId: e.peer.id, connection: e.peer.connectionId, channelId: e.channelId };
    case "removePeer":
      return { kind: "RemovePeer", peerId: e.peer.id, connection: e.peer.connectionId };
  }
}

/**
 * Returns the violation, described with the events that led to it, or an
 * empty list when the trace is a word of the grammar (with `complete`, a whole
 * one ending with `OnStop`; otherwise any prefix of one).
 */
export function checkGrammar(events: readonly ReactorEvent[], options: { readonly complete?: boolean } = {}): string[] {
  const mapped = events.map(toGrammarEvent);
  const verdict = checkReactorTrace(mapped, { complete: options.complete ?? false, registration: false });
  return verdict.ok ? [] : [formatTraceViolation(mapped, verdict)];
}
