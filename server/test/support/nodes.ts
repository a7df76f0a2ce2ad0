/** Builds Switches on 127.0.0.1:0 for integration tests. */
import pino, { type Logger } from "pino";
import { generateNodeKey, type NodeKey } from "../../src/p2p/node-key.js";
import { Switch, type SwitchConfig } from "../../src/p2p/switch.js";
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import { BLOCK_PROTOCOL_VERSION, type NodeInfo, P2P_PROTOCOL_VERSION } from "../../src/wire/node-info.js";
import { RecordingReactor } from "./recording-reactor.js";

export const silentLogger = pino({ level: process.env["TEST_LOG_LEVEL"] ?? "silent" });

export const TEST_CHANNELS: readonly ChannelDescriptor[] = [
  { id: 0x40, priority: 5, sendQueueCapacity: 100, recvBufferCapacity: 4096, recvMessageCapacity: 8 * 1024 * 1024 },
  { id: 0x41, priority: 1, sendQueueCapacity: 100, recvBufferCapacity: 4096, recvMessageCapacity: 8 * 1024 * 1024 },
];

/**
 * The NodeInfo of a peer built from the wire stack in a test (no Switch):
 * key's ID on "test-chain" with channel 0x40 unless `over` says otherwise.
 */
export function peerNodeInfo(key: NodeKey, over: Partial<Pick<NodeInfo, "network" | "channels" | "moniker">> = {}): NodeInfo {
  return {
    protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0n },
    nodeId: key.id,
    listenAddr: "tcp://127.0.0.1:1",
    network: over.network ?? "test-chain",
    version: "test",
    channels: over.channels ?? [0x40],
    moniker: over.moniker ?? "test-peer",
    other: { txIndex: "off", rpcAddress: "" },
  };
}

export interface TestNode {
  readonly sw: Switch;
  readonly reactor: RecordingReactor;
  readonly key: NodeKey;
  /** id@127.0.0.1:port */
  readonly address: string;
}

/**
 * A Switch for tests, not started and without reactors: on 127.0.0.1:0, duplicate IPs allowed, no dial
 * randomizer, a generous accept rate and a 2 ms flush throttle; `config` overrides any of it.
 */
export function testSwitch(key: NodeKey, config: Partial<SwitchConfig> = {}, logger: Logger = silentLogger): Switch {
  return new Switch({
    nodeKey: key,
    logger,
    config: {
      network: "test-chain",
      moniker: "test",
      listen: { host: "127.0.0.1", port: 0 },
      allowDuplicateIp: true,
      dialRandomizerMs: 0,
      acceptRateLimit: { ratePerSecond: 1000, burst: 1000 },
      mconn: { flushThrottleMs: 2 },
      ...config,
    },
  });
}

export async function startNode(config: Partial<SwitchConfig> = {}, key: NodeKey = generateNodeKey(), logger: Logger = silentLogger): Promise<TestNode> {
  const sw = testSwitch(key, { reconnect: { intervalMs: 100, randomizerMs: 50 }, ...config }, logger);
  const reactor = new RecordingReactor(TEST_CHANNELS);
  sw.addReactor("recorder", reactor);
  await sw.start();
  const listen = sw.listenAddress;
  return { sw, reactor, key, address: `${key.id}@127.0.0.1:${listen?.port ?? 0}` };
}

/** Nodes a test file starts with {@link startNode}, stopped by `cleanup` (call it in afterEach). */
export function nodeFixtures(): { node: (...args: Parameters<typeof startNode>) => Promise<TestNode>; cleanup: () => Promise<void> } {
  const nodes: TestNode[] = [];
  return {
    node: async (...args) => {
      const n = await startNode(...args);
      nodes.push(n);
      return n;
    },
    cleanup: async () => {
      await Promise.all(nodes.splice(0).map((n) => n.sw.stop()));
    },
  };
}

/** Polls `pred` every few ms until it holds; for conditions no event announces. */
export async function until(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
