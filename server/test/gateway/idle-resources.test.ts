/**
 * Gateway resources a client holds without using them are reclaimed: a
 * connection with no call (an HTTP/2 preface, nothing more) is closed after
 * the idle time, and one connection carries a bounded number of calls.
 */
import { connect } from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { GATEWAY_MAX_STREAMS_PER_CONNECTION } from "../../src/gateway/defaults.js";
import { DEFAULT_GATEWAY_CONFIG, Gateway } from "../../src/gateway/gateway.js";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import { Switch } from "../../src/p2p/switch.js";
import { silentLogger } from "../support/nodes.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function gateway(idleConnectionMs: number): Promise<string> {
  const sw = new Switch({
    nodeKey: generateNodeKey(),
    logger: silentLogger,
    config: { network: "idle", moniker: "idle", listen: { host: "127.0.0.1", port: 0 }, allowDuplicateIp: true, dialRandomizerMs: 0 },
  });
  const gw = new Gateway({ sw, logger: silentLogger, config: { ...DEFAULT_GATEWAY_CONFIG, laddr: "tcp://127.0.0.1:0" }, idleConnectionMs });
  const address = await gw.listen();
  closers.push(async () => {
    await sw.stop();
    await gw.close();
  });
  return address;
}

describe("idle gateway resources", () => {
  it("closes a connection that makes no call, and tells the client how many calls one connection may carry", async () => {
    const address = await gateway(300);
    const session = connect(`http://${address}`);
    closers.push(() => {
      session.destroy();
      return Promise.resolve();
    });
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) => session.once("remoteSettings", resolve));
    expect(settings.maxConcurrentStreams).toBe(GATEWAY_MAX_STREAMS_PER_CONNECTION);
    const started = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the idle connection was not closed within 5 s")), 5_000);
      session.once("goaway", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
  });
});
