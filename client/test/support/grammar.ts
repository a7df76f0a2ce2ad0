/**
 * The reactor grammar check shared by every SDK's conformance suite: per peer
 * connection, `InitPeer Receive* [AddPeer Receive*] RemovePeer`, all between
 * `OnStart` and `OnStop`, and a connection ID is never reused. A fresh session
 * (a `session` event with `resumed: false` after the first) starts a new word.
 */
import type { ReactorEvent } from "../../src/types.js";

type ConnState = "init" | "added" | "removed";

/** Returns the violations (empty when the trace is a word of the grammar). */
export function checkGrammar(events: readonly ReactorEvent[], options: { readonly complete?: boolean } = {}): string[] {
  const problems: string[] = [];
  let started = false;
  let stopped = false;
  let conns = new Map<string, ConnState>();
  let sessions = 0;
  for (const [i, e] of events.entries()) {
    const at = `#${i} ${e.type}${"seq" in e ? `(${e.seq})` : ""}`;
    if (e.type === "session") {
      if (!e.resumed) {
        // A fresh session: a new word begins (the snapshot re-announces the peers).
        sessions++;
        started = false;
        stopped = false;
        conns = new Map();
      }
      continue;
    }
    if (sessions === 0) problems.push(`${at}: before any session event`);
    if (stopped) problems.push(`${at}: after OnStop`);
    if (e.type === "start") {
      if (started) problems.push(`${at}: OnStart twice`);
      started = true;
      continue;
    }
    if (!started) problems.push(`${at}: before OnStart`);
    if (e.type === "stop") {
      const open = [...conns].filter(([, s]) => s !== "removed").map(([c]) => c);
      if (open.length > 0) problems.push(`${at}: connections not removed before OnStop: ${open.join(", ")}`);
      stopped = true;
      continue;
    }
    const c = e.peer.connectionId;
    const state = conns.get(c);
    switch (e.type) {
      case "initPeer":
        if (state !== undefined) problems.push(`${at}: connection ${c} reused`);
        conns.set(c, "init");
        break;
      case "addPeer":
        if (state !== "init") problems.push(`${at}: AddPeer of connection ${c} in state ${state ?? "unknown"}`);
        conns.set(c, "added");
        break;
      case "receive":
        if (state !== "init" && state !== "added") problems.push(`${at}: Receive on connection ${c} in state ${state ?? "unknown"}`);
        break;
      case "removePeer":
        if (state !== "init" && state !== "added") problems.push(`${at}: RemovePeer of connection ${c} in state ${state ?? "unknown"}`);
        conns.set(c, "removed");
        break;
    }
  }
  if (options.complete === true && !stopped) problems.push("the trace does not end with OnStop");
  return problems;
}
