/**
 * What the gateway tells an operator about remote reactors, read back from
 * the log (JSON lines of the real root logger): a stream that drops is logged
 * at once, with why and the resume window; no line repeats a key.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type CapturedLogs, captureLogs, duplicateKeys, topLevelKeys } from "../support/log-capture.js";
import { until } from "../support/nodes.js";
import { gatewayFixtures } from "./support.js";

const APP = 0x60;
const CHANNELS = [{ id: APP, priority: 5, sendQueueCapacity: 100 }];

const { gwNode, attach, cleanup } = gatewayFixtures();
const captured: CapturedLogs[] = [];
afterEach(async () => {
  await cleanup();
  for (const logs of captured.splice(0)) {
    for (const line of logs.lines) expect(duplicateKeys(line), line).toEqual([]);
  }
});

/** A started node with reactor "app" attached, logging into `logs`. */
async function nodeWithApp(resumeWindowMs: number) {
  const logs = captureLogs("trace");
  captured.push(logs);
  const n = await gwNode({ reactors: ["app"], resumeWindowMs }, {}, undefined, logs.logger);
  const client = attach(n, { name: "app", channels: CHANNELS });
  await n.start();
  await client.waitFor(() => client.kinds().includes("onStart"), 5000, "OnStart");
  return { n, client, logs };
}

describe("a remote reactor's log lines", () => {
  it("a stream that drops is logged at once, with why and the resume window, long before the window ends", async () => {
    const { client, logs } = await nodeWithApp(60_000);
    const before = Date.now();
    client.close();
    await until(() => logs.find(/^reactor stream dropped/).length > 0, 5000, "the drop line");
    expect(Date.now() - before).toBeLessThan(5000);
    expect(logs.find(/^reactor stream dropped/)).toEqual([
      expect.objectContaining({
        level: "info",
        module: "gateway",
        reactor: "app",
        why: "the reactor closed the stream or went away",
        client: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as string,
        resume_window: "1m",
        msg: "reactor stream dropped: its session is kept for the resume window (1m); messages for it wait meanwhile",
      }),
    ]);
    expect(logs.find("resume window passed: session discarded")).toEqual([]);
  });

  it("a stream the node ends for an error is one line, naming the status", async () => {
    const { client, logs } = await nodeWithApp(60_000);
    client.ack(1_000_000n); // beyond the last event: the node ends the stream
    await until(() => logs.find(/^reactor stream dropped/).length > 0, 5000, "the drop line");
    expect(logs.find(/^reactor stream dropped/)[0]).toMatchObject({
      reactor: "app",
      why: expect.stringMatching(/^the node ended it \(INVALID_ARGUMENT: ack\.event_seq: ack 1000000 is beyond the last event sent/) as string,
    });
    expect(logs.find("attach stream ended with an error")).toEqual([]);
  });

  it("then the window passing is logged too", async () => {
    const { client, logs } = await nodeWithApp(100);
    client.close();
    await until(() => logs.find("resume window passed: session discarded").length > 0, 5000, "the window line");
    expect(logs.find("resume window passed: session discarded")[0]).toMatchObject({ level: "info", module: "gateway", reactor: "app", resume_window: "100ms" });
  });

  it("every line from a remote reactor's logger names the reactor (and the module) once", async () => {
    const { n, client, logs } = await nodeWithApp(60_000);
    const token = client.registered!.sessionToken;
    client.close();
    await until(() => n.gw.remoteReactors().get("app")?.attached === false, 5000, "the stream gone");
    const back = attach(n, { name: "app", channels: CHANNELS, sessionToken: token });
    await back.waitFor(() => back.registered !== null, 5000, "Registered");
    await until(() => logs.find("reactor resumed its session").length > 0, 5000, "the resume line");
    const reactorLines = logs.lines.filter((l) => (JSON.parse(l) as { reactor?: string }).reactor === "app");
    expect(reactorLines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(
      expect.arrayContaining(["reactor registered", "reactor attached with a fresh session", "reactor resumed its session"]),
    );
    for (const line of reactorLines) {
      const keys = topLevelKeys(line);
      expect(keys.filter((k) => k === "reactor"), line).toHaveLength(1);
      expect(keys.filter((k) => k === "module"), line).toHaveLength(1);
    }
  });
});

describe("topLevelKeys", () => {
  it("lists a repeated key twice, and ignores nested keys and strings that look like keys", () => {
    expect(topLevelKeys('{"a":1,"b":{"a":2,"c":[{"a":3}]},"s":"\\"a\\":","a":4}')).toEqual(["a", "b", "s", "a"]);
    expect(duplicateKeys('{"reactor":"app","reactor":"app","x":{"x":1}}')).toEqual(["reactor"]);
  });
});
