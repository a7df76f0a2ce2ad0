/**
 * The TypeScript SDK's grammar check (test/support/grammar.ts, fed SDK events)
 * over the conformance kit's fixtures (client/conformance/grammar-traces.json),
 * which the server's, Python's and Go's checkers run too.
 */
import { describe, expect, it } from "vitest";
import { type FixtureEvent, loadGrammarFixtures } from "../conformance/grammar-fixtures.js";
import type { PeerInfo, ReactorEvent } from "../src/types.js";
import { checkGrammar } from "./support/grammar.js";

function peer(id: string, connectionId: string): PeerInfo {
  return { id, connectionId, outbound: false, persistent: false, unconditional: false, remoteAddress: "", socketAddress: "", nodeInfo: undefined };
}

/** A fixture event as the SDK delivers it. */
function sdkEvent(e: FixtureEvent, seq: bigint): ReactorEvent {
  switch (e.kind) {
    case "Session":
      return { type: "session", resumed: e.resumed, refusedReason: "", nodeInfo: undefined as never };
    case "OnStart":
      return { type: "start", seq };
    case "OnStop":
      return { type: "stop", seq };
    case "InitPeer":
      return { type: "initPeer", seq, peer: peer(e.peer, e.connection) };
    case "AddPeer":
      return { type: "addPeer", seq, peer: peer(e.peer, e.connection) };
    case "Receive":
      return { type: "receive", seq, peer: peer(e.peer, e.connection), channelId: e.channel, message: new Uint8Array() };
    case "RemovePeer":
      return { type: "removePeer", seq, peer: peer(e.peer, e.connection), reason: "" };
  }
}

const fixtures = loadGrammarFixtures();

describe("the TypeScript SDK's grammar check over the shared fixtures", () => {
  it.each(fixtures.map((f) => [f.name, f] as const))("%s", (_, f) => {
    const problems = checkGrammar(
      f.events.map((e, i) => sdkEvent(e, BigInt(i))),
      { complete: f.complete },
    );
    if (f.verdict === "accept") expect(problems).toEqual([]);
    else {
      expect(problems, f.why).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^reactor trace rejected at event ${f.index}:`));
    }
  });
});
