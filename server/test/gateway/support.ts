/** Nodes with a gateway on 127.0.0.1:0 for gateway tests. */
import type { Logger } from "pino";
import { type NodeKey, generateNodeKey } from "../../src/p2p/node-key.js";
import { Switch, type SwitchConfig } from "../../src/p2p/switch.js";
import { DEFAULT_GATEWAY_CONFIG, Gateway, type GatewayConfig, type GatewayObserver } from "../../src/gateway/gateway.js";
import { silentLogger, testSwitch } from "../support/nodes.js";
import { AttachClient } from "./attach-client.js";

export interface GatewayNode {
  readonly sw: Switch;
  readonly gw: Gateway;
  readonly key: NodeKey;
  /** gRPC address host:port */
  readonly grpc: string;
  /** id@127.0.0.1:port, once started */
  address(): string;
  /** Waits for the configured reactors, then starts the Switch. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createGatewayNode(
  gateway: Partial<GatewayConfig> = {},
  p2p: Partial<SwitchConfig> = {},
  observer?: GatewayObserver,
  logger: Logger = silentLogger,
): Promise<GatewayNode> {
  const key = generateNodeKey();
  const sw = testSwitch(key, { network: "gw-chain", moniker: "gw", ...p2p }, logger);
  const gw = new Gateway({ sw, logger, config: { ...DEFAULT_GATEWAY_CONFIG, laddr: "tcp://127.0.0.1:0", ...gateway }, ...(observer === undefined ? {} : { observer }) });
  const grpc = await gw.listen();
  let stopped = false;
  return {
    sw,
    gw,
    key,
    grpc,
    address: () => `${key.id}@127.0.0.1:${sw.listenAddress?.port ?? 0}`,
    start: async () => {
      await gw.waitForReactors();
      await sw.start();
      gw.setServing(true);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      gw.setServing(false);
      await sw.stop();
      await gw.close();
    },
  };
}

/** Nodes and attach clients a test file creates, and their clean-up (call `cleanup` in afterEach). */
export function gatewayFixtures(): {
  gwNode: (...args: Parameters<typeof createGatewayNode>) => Promise<GatewayNode>;
  attach: (node: GatewayNode, opts: ConstructorParameters<typeof AttachClient>[1]) => AttachClient;
  cleanup: () => Promise<void>;
} {
  const nodes: GatewayNode[] = [];
  const clients: AttachClient[] = [];
  return {
    gwNode: async (...args) => {
      const n = await createGatewayNode(...args);
      nodes.push(n);
      return n;
    },
    attach: (node, opts) => {
      const c = new AttachClient(node.grpc, opts);
      clients.push(c);
      return c;
    },
    cleanup: async () => {
      for (const c of clients.splice(0)) c.close();
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
    },
  };
}
