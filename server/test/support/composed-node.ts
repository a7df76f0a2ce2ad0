/** Nodes built by the composition root (`createNode`) from flags, each in a temporary home, for tests. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/load.js";
import { createNode, type SwitchboardNode } from "../../src/node.js";
import { silentLogger } from "./nodes.js";

/**
 * `node(flags)` creates (does not start) a node listening on 127.0.0.1:0 in
 * network `network`, with `flags` on top; `cleanup` stops every node and
 * removes the homes (call it in afterEach).
 */
export function composedNodeFixtures(network: string): {
  node: (flags?: Record<string, string>) => Promise<SwitchboardNode>;
  cleanup: () => Promise<void>;
} {
  const nodes: SwitchboardNode[] = [];
  const homes: string[] = [];
  return {
    node: async (flags = {}) => {
      const home = await mkdtemp(join(tmpdir(), `sb-${network}-`));
      homes.push(home);
      const config = resolveConfig({ flags: { "node.network": network, "p2p.laddr": "tcp://127.0.0.1:0", ...flags } }).config;
      const n = await createNode(config, { home, logger: silentLogger });
      nodes.push(n);
      return n;
    },
    cleanup: async () => {
      await Promise.all(nodes.splice(0).map((n) => n.stop()));
      await Promise.all(homes.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
