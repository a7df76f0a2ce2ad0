import { describe, expect, it } from "vitest";
import { REDACTED_FIELDS, createLogger, plainColours } from "../../src/config/logger.js";
import { encodeNodeKeyFile, generateNodeKey } from "../../src/p2p/node-key.js";

function capture(format: "json" | "plain", level: "info" | "debug" = "info"): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({ level, format, env: {}, destination: { write: (l: string) => lines.push(l) } });
  return { lines, logger };
}

describe("logger", () => {
  it("writes one JSON object per line with a level name, ISO time and the component fields", () => {
    const { lines, logger } = capture("json");
    logger.child({ module: "switch" }).info({ peer_id: "ab".repeat(20), ch_id: 0x40, reactor: "mempool" }, "added peer");
    expect(lines).toHaveLength(1);
    const obj = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(obj).toMatchObject({ level: "info", module: "switch", peer_id: "ab".repeat(20), ch_id: 64, reactor: "mempool", msg: "added peer" });
    expect(new Date(obj["time"] as string).toISOString()).toBe(obj["time"]);
    expect(obj).not.toHaveProperty("hostname");
  });

  it("honours the level", () => {
    const { lines, logger } = capture("json", "info");
    logger.debug("hidden");
    logger.warn("shown");
    expect(lines).toHaveLength(1);
  });

  it("never logs key material, at any depth it might be nested", () => {
    const key = generateNodeKey();
    const seedHex = Buffer.from(key.privateKey.seed).toString("hex");
    const fileText = encodeNodeKeyFile(key);
    const { lines, logger } = capture("json");
    logger.info({ priv_key: fileText, privateKey: key.privateKey, seed: seedHex, nodeKey: key }, "top");
    logger.info({ a: { priv_key: fileText, b: { privateKey: key.privateKey, c: { seed: seedHex } } } }, "nested");
    logger.info({ seeds: "ab@1.2.3.4:1" }, "seeds are not secrets");
    const all = lines.join("");
    expect(all).not.toContain(seedHex);
    expect(all).not.toContain((JSON.parse(fileText) as { priv_key: { value: string } }).priv_key.value);
    expect(all).toContain("[REDACTED]");
    expect(all).toContain("ab@1.2.3.4:1");
    expect(REDACTED_FIELDS).toEqual(expect.arrayContaining(["priv_key", "privateKey", "seed"]));
  });

  it("plain format: one line of text per record, rendered by pino-pretty, module before the message", () => {
    const { lines, logger } = capture("plain");
    logger.child({ module: "node" }).info({ node_id: "x y", n: 3 }, "node started");
    logger.warn("no module");
    expect(lines).toEqual([
      expect.stringMatching(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] INFO: node: node started \{"node_id":"x y","n":3\}\n$/),
      expect.stringMatching(/^\[[^\]]+\] WARN: no module\n$/),
    ]);
  });

  it("plain format keeps an error on its line, with its stack inline", () => {
    const { lines, logger } = capture("plain");
    logger.child({ module: "switch" }).error({ err: new Error("boom") }, "reactor threw");
    expect(lines).toHaveLength(1);
    expect(lines[0]!.indexOf("\n")).toBe(lines[0]!.length - 1);
    expect(lines[0]).toContain('ERROR: switch: reactor threw {"err":{"type":"Error","message":"boom","stack":"Error: boom\\n');
  });

  it("plain format redacts key material as JSON does", () => {
    const key = generateNodeKey();
    const seedHex = Buffer.from(key.privateKey.seed).toString("hex");
    const { lines, logger } = capture("plain");
    logger.info({ seed: seedHex, a: { priv_key: seedHex } }, "keys");
    expect(lines.join("")).not.toContain(seedHex);
    expect(lines.join("")).toContain('"seed":"[REDACTED]"');
  });

  it("plain lines are coloured on a terminal only, and never with NO_COLOR or TERM=dumb", () => {
    const write = (env: Record<string, string>, isTTY: boolean): string => {
      const lines: string[] = [];
      createLogger({ level: "info", format: "plain", env, destination: { isTTY, write: (l: string) => lines.push(l) } }).info("hello");
      return lines.join("");
    };
    const ESC = "\u001b[";
    expect(write({}, true)).toContain(ESC);
    expect(write({}, false)).not.toContain(ESC);
    expect(write({ NO_COLOR: "1" }, true)).not.toContain(ESC);
    expect(write({ TERM: "dumb" }, true)).not.toContain(ESC);
    expect(plainColours({ write: () => undefined, isTTY: true }, { NO_COLOR: "" })).toBe(true);
  });
});
