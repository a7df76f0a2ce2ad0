/**
 * The server's grammar checker over the conformance kit's fixtures
 * (client/conformance/grammar-traces.json): each fixture as a remote
 * reactor's view, and each fixture without Session events again as an
 * in-process reactor's (`GetChannels SetSwitch` prepended, the index moved by
 * two). The TypeScript SDK, Python and Go run the same file.
 */
import { describe, expect, it } from "vitest";
import { loadGrammarFixtures, toReactorEvent } from "../../../client/conformance/grammar-fixtures.js";
import { type ReactorEvent, checkReactorTrace } from "./reactor-trace.js";

const fixtures = loadGrammarFixtures();
const REGISTRATION: readonly ReactorEvent[] = [{ kind: "GetChannels" }, { kind: "SetSwitch" }];

describe("the server's grammar checker over the shared fixtures", () => {
  it("has fixtures of both verdicts", () => {
    expect(fixtures.filter((f) => f.verdict === "accept").length).toBeGreaterThan(5);
    expect(fixtures.filter((f) => f.verdict === "reject").length).toBeGreaterThan(10);
  });

  describe.each([
    { view: "a remote reactor's view", registration: false },
    { view: "an in-process reactor's view", registration: true },
  ])("$view", ({ registration }) => {
    const applicable = fixtures.filter((f) => !registration || !f.events.some((e) => e.kind === "Session"));
    it.each(applicable.map((f) => [f.name, f] as const))("%s", (_, f) => {
      const prefix = registration ? REGISTRATION : [];
      const verdict = checkReactorTrace([...prefix, ...f.events.map(toReactorEvent)], { complete: f.complete, registration });
      if (f.verdict === "accept") {
        expect(verdict).toEqual({ ok: true });
      } else {
        expect(verdict.ok, f.why).toBe(false);
        if (!verdict.ok) expect(verdict.index, verdict.reason).toBe((f.index ?? -1) + prefix.length);
      }
    });
  });
});
