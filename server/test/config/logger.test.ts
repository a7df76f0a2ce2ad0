import { describe, expect, it } from "vitest";
import { REDACTED_FIELDS, createLogger, formatPlainLine } from "../../src/config/logger.js";
import { encodeNodeKeyFile, generateNodeKey } from "../../src/p2p/node-key.js";

function capture(format: "json" | "plain", level: "info" | "debug" = "info"): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({ level, format, destination: { write: (l: string) => lines.push(l) } });
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

  it("plain format is one readable line per entry", () => {
    const { lines, logger } = capture("plain");
    logger.child({ module: "node" }).info({ node_id: "x y", n: 3 }, "node started");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}node started module=node node_id="x y" n=3\n$/);
    expect(formatPlainLine("not json")).toBe("not json");
  });
});
