/**
 * The grammar fixtures (`grammar-traces.json`) for the TypeScript runners,
 * read and checked for shape. Python (client/python/tests/test_grammar.py)
 * and Go (client/go/grammar_test.go) read the same file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ReactorEvent } from "./grammar.js";

/** One event as the fixtures spell it, language-neutral. */
export type FixtureEvent =
  | { readonly kind: "OnStart" | "OnStop" }
  | { readonly kind: "Session"; readonly resumed: boolean }
  | { readonly kind: "InitPeer" | "AddPeer" | "RemovePeer"; readonly peer: string; readonly connection: string }
  | { readonly kind: "Receive"; readonly peer: string; readonly connection: string; readonly channel: number };

export interface GrammarFixture {
  readonly name: string;
  readonly verdict: "accept" | "reject";
  /** The trace must be a whole word (end with OnStop); otherwise any prefix of a word passes. */
  readonly complete: boolean;
  /** For "reject": the index of the first event at which the trace stops being a prefix of a word (the length when it ended too early). */
  readonly index?: number;
  /** For "reject": why, in the grammar's terms. */
  readonly why?: string;
  readonly events: readonly FixtureEvent[];
}

export const GRAMMAR_FIXTURES_FILE = join(import.meta.dirname, "grammar-traces.json");

const KINDS = new Set(["OnStart", "OnStop", "Session", "InitPeer", "AddPeer", "RemovePeer", "Receive"]);

/** Reads the fixtures; throws naming the fixture when one is malformed (a runner must never skip one silently). */
export function loadGrammarFixtures(path: string = GRAMMAR_FIXTURES_FILE): GrammarFixture[] {
  const doc = JSON.parse(readFileSync(path, "utf8")) as { fixtures?: unknown };
  if (!Array.isArray(doc.fixtures)) throw new Error(`${path}: no "fixtures" array`);
  return doc.fixtures.map((raw: unknown, i) => {
    const f = raw as Partial<GrammarFixture>;
    const at = `${path}: fixture ${i} (${String(f.name)})`;
    if (typeof f.name !== "string" || (f.verdict !== "accept" && f.verdict !== "reject") || typeof f.complete !== "boolean" || !Array.isArray(f.events)) {
      throw new Error(`${at}: needs name, verdict (accept/reject), complete and events`);
    }
    if (f.verdict === "reject" && (typeof f.index !== "number" || typeof f.why !== "string")) throw new Error(`${at}: a rejected trace needs index and why`);
    for (const e of f.events) {
      if (!KINDS.has((e as { kind?: string }).kind ?? "")) throw new Error(`${at}: unknown event ${JSON.stringify(e)}`);
    }
    return f as GrammarFixture;
  });
}

/** A fixture event as the shared checker's event. */
export function toReactorEvent(e: FixtureEvent): ReactorEvent {
  switch (e.kind) {
    case "OnStart":
    case "OnStop":
      return { kind: e.kind };
    case "Session":
      return { kind: "Session", resumed: e.resumed };
    case "Receive":
      return { kind: "Receive", peerId: e.peer, connection: e.connection, channelId: e.channel };
    default:
      return { kind: e.kind, peerId: e.peer, connection: e.connection };
  }
}
