/** What a CLI command may touch: injected, so that tests run commands in-process. */
import type { GatewayFactory, SwitchboardNode } from "../node.js";
import type { NodeClientFactory } from "./node-client.js";

export interface CliIo {
  /** Command results (one call per line, without the newline). */
  readonly stdout: (line: string) => void;
  /** Messages for people: errors, notices. */
  readonly stderr: (line: string) => void;
  /** Usually `process.env`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborting it stops a running `start` gracefully (main.ts: SIGINT, SIGTERM). */
  readonly signal?: AbortSignal;
  /** Where a started node's logs go. @default standard error */
  readonly logDestination?: { write(line: string): unknown };
  /** The reactor gateway for `start`. @default none */
  readonly gateway?: GatewayFactory;
  /** The NodeService client for net-info, peers, dial and stop-peer. @default "not available yet" */
  readonly nodeClient?: NodeClientFactory;
  /** Called once `start` has started the node. */
  readonly onStarted?: (node: SwitchboardNode) => void;
}
