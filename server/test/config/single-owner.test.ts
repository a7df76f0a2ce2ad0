/**
 * One owner for every default (issue 18, STYLE.md practice 16): a default or
 * limit is written once, as a literal, in the layer it governs, and imported
 * everywhere else. This test reads server/src (without running it) and fails
 * on the three ways a value gets written twice:
 *
 * 1. the same subject defined twice (`DEFAULT_SEND_RATE` in config and
 *    `DEFAULT_SEND_RATE_BYTES_PER_SECOND` in the wire; `MAX_X` in two files;
 *    `DEFAULT_MAX_MESSAGE_BYTES` and `DEFAULT_GATEWAY_CONFIG.maxMessageBytes`),
 *    whatever the two values are: copies that already drifted count too;
 * 2. a literal in config/defaults.ts equal to a value a lower layer defines
 *    (config must import it, whatever it calls it);
 * 3. an inline default, `x ?? 40`, instead of a named constant.
 *
 * What counts as a definition: server/test/support/default-definitions.ts.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Definition, scanSource, scanSources, subjectOf } from "../support/default-definitions.js";

const SRC = join(import.meta.dirname, "../../src");
/** The TypeScript SDK: its own defaults (client/src/defaults.ts), held to rules 1 and 3 as well. */
const CLIENT_SRC = join(import.meta.dirname, "../../../client/src");

/**
 * Equal values in config/defaults.ts and a lower layer that are different
 * facts, each with the reason. Empty: every config literal is a value no other
 * layer has. An entry that no longer matches fails the test (see below).
 */
const CONFIG_COINCIDENCES: ReadonlyArray<{ readonly config: string; readonly lower: string; readonly why: string }> = [];

function where(d: Definition): string {
  return `${d.file}:${d.line} ${d.name} = ${JSON.stringify(d.value)}`;
}

/** Subjects defined more than once, with their definitions. */
function sameSubject(definitions: readonly Definition[]): Definition[][] {
  const bySubject = new Map<string, Definition[]>();
  for (const d of definitions) {
    const s = subjectOf(d.name);
    bySubject.set(s, [...(bySubject.get(s) ?? []), d]);
  }
  return [...bySubject.values()].filter((g) => g.length > 1);
}

/** config/defaults.ts literals equal to a definition of the wire, p2p, gateway or util layers. */
function restatedInConfig(definitions: readonly Definition[]): Array<{ config: Definition; lower: Definition }> {
  const lower = definitions.filter((d) => /^(wire|p2p|gateway|util)\//.test(d.file));
  const out: Array<{ config: Definition; lower: Definition }> = [];
  for (const c of definitions.filter((d) => d.file === "config/defaults.ts")) {
    // Booleans, 0 and "" are not facts anyone restates; same-subject ones are caught by rule 1.
    if (typeof c.value === "boolean" || c.value === 0) continue;
    for (const l of lower) {
      if (l.unit === c.unit && l.value === c.value) out.push({ config: c, lower: l });
    }
  }
  return out;
}

const scanned = scanSources(SRC);
const scannedClient = scanSources(CLIENT_SRC);

describe("every default has one owner", () => {
  it("finds the definitions it is meant to find (the scan itself works)", () => {
    const names = new Set(scanned.definitions.map((d) => `${d.file}:${d.name}`));
    expect(names).toContain("wire/mconnection/defaults.ts:DEFAULT_SEND_RATE_BYTES_PER_SECOND");
    expect(names).toContain("p2p/defaults.ts:DEFAULT_MAX_NUM_INBOUND_PEERS");
    expect(names).toContain("gateway/defaults.ts:DEFAULT_MAX_MESSAGE_BYTES");
    expect(names).toContain("config/defaults.ts:DEFAULT_NETWORK");
    expect(scanned.definitions.length).toBeGreaterThan(50);
  });

  it("defines no subject twice", () => {
    const problems = sameSubject(scanned.definitions).map((g) => `"${subjectOf(g[0]?.name ?? "")}" is defined ${g.length} times:\n    ${g.map(where).join("\n    ")}`);
    expect(problems, "import the owner's constant instead of writing the value again").toEqual([]);
  });

  it("restates no lower layer's value in config/defaults.ts", () => {
    const allowed = (c: Definition, l: Definition): boolean => CONFIG_COINCIDENCES.some((x) => x.config === c.name && x.lower === `${l.file}:${l.name}`);
    const problems = restatedInConfig(scanned.definitions)
      .filter(({ config, lower }) => !allowed(config, lower))
      .map(({ config, lower }) => `${where(config)} restates ${where(lower)}`);
    expect(problems, "import the lower layer's constant (or list a true coincidence in CONFIG_COINCIDENCES, with the reason)").toEqual([]);
    const found = restatedInConfig(scanned.definitions);
    const stale = CONFIG_COINCIDENCES.filter((x) => !found.some(({ config, lower }) => x.config === config.name && x.lower === `${lower.file}:${lower.name}`));
    expect(stale, "CONFIG_COINCIDENCES entries that no longer occur").toEqual([]);
  });

  it("the TypeScript SDK defines no subject twice and has no inline default", () => {
    expect(scannedClient.definitions.map((d) => d.name)).toContain("DEFAULT_RECONNECT_INITIAL_DELAY_MS");
    expect(sameSubject(scannedClient.definitions).map((g) => g.map(where).join(", "))).toEqual([]);
    expect(scannedClient.inlineDefaults.map((i) => `client/src/${i.file}:${i.line} ${i.text}`)).toEqual([]);
  });

  it("has no inline numeric default (x ?? 40)", () => {
    expect(
      scanned.inlineDefaults.map((i) => `${i.file}:${i.line} ${i.text}`),
      "name the value in its layer's defaults and use the constant",
    ).toEqual([]);
  });
});

describe("the scan catches what it is for (each rule on a deliberately broken source)", () => {
  it("the same subject in config and the wire, even with values that drifted", () => {
    const config = scanSource("config/defaults.ts", `export const DEFAULT_SEND_RATE = d(5_000_000, "bytes/s", "why");`);
    const wire = scanSource("wire/mconnection/defaults.ts", `export const DEFAULT_SEND_RATE_BYTES_PER_SECOND = 5_120_000;`);
    expect(sameSubject([...config.definitions, ...wire.definitions])).toHaveLength(1);
  });

  it("a constant and a property of a defaults object, 110 MiB written two ways", () => {
    const config = scanSource("config/defaults.ts", `export const DEFAULT_MAX_MESSAGE_BYTES = d(115_343_360, "bytes", "110 MiB");`);
    const gateway = scanSource("gateway/gateway.ts", `export const DEFAULT_GATEWAY_CONFIG: C = { laddr: "x", maxMessageBytes: 110 * 1024 * 1024 };`);
    const defs = [...config.definitions, ...gateway.definitions];
    expect(sameSubject(defs)).toHaveLength(1);
    expect(restatedInConfig(defs).map(({ lower }) => lower.name)).toEqual(["DEFAULT_GATEWAY_CONFIG.maxMessageBytes"]);
  });

  it("a duration string in config/defaults.ts against milliseconds in a lower layer, under another name", () => {
    const config = scanSource("config/defaults.ts", `export const DEFAULT_RESUME_WINDOW = d("30s", "duration", "why");`);
    const gateway = scanSource("gateway/remote-reactor.ts", `export const DEFAULT_LIMITS = Object.freeze({ keepSessionMs: 30_000 });`);
    expect(restatedInConfig([...config.definitions, ...gateway.definitions])).toHaveLength(1);
  });

  it("one name exported by two files", () => {
    const a = scanSource("gateway/gateway.ts", `export const MAX_INFLIGHT_COMMANDS_PER_STREAM = 1024;`);
    const b = scanSource("gateway/attach-stream.ts", `export const MAX_INFLIGHT_COMMANDS_PER_STREAM = 1024;`);
    expect(sameSubject([...a.definitions, ...b.definitions])).toHaveLength(1);
  });

  it("inline defaults of options and config, but not ?? 0 or a fallback after a call", () => {
    const s = scanSource(
      "p2p/switch.ts",
      `const a = this.options.config.maxNumInboundPeers ?? 40; const b = c["x"] ?? 3_000; const n = m.get(k) ?? 0; const held = slots.get(host) ?? 1;`,
    );
    expect(s.inlineDefaults.map((i) => i.text)).toEqual(["this.options.config.maxNumInboundPeers ?? 40", 'c["x"] ?? 3_000']);
  });

  it("values built from another constant are uses, not definitions", () => {
    const s = scanSource("config/defaults.ts", `export const DEFAULT_SEND_RATE = d(MCONN.DEFAULT_SEND_RATE_BYTES_PER_SECOND, "bytes/s", "why"); export const MAX_X = 4 * MAX_Y;`);
    expect(s.definitions).toEqual([]);
  });
});
