/**
 * `NodeClient`: the node-wide unary NodeService (node info, net info, peers,
 * dial, stop-peer), for tools and tests. Each method returns a Promise and
 * fails with a {@link StatusError}.
 *
 * @module
 */
import { type CallOptions, type Metadata, type ServiceError, credentials as grpcCredentials } from "@grpc/grpc-js";
import { StatusError, reasonName } from "./errors.js";
import {
  type DialPeersResponse,
  type GetNetInfoResponse,
  type GetNodeInfoResponse,
  type ListPeersResponse,
  NodeServiceClient,
  type StopPeerResponse,
} from "./gen/switchboard/gateway/v1/gateway.js";
import { nodeInfoFromApi, peerStatusFromApi } from "./internal/convert.js";
import { type GrpcConnectionOptions, callMetadata, toGrpcTarget } from "./transport.js";
import type { NodeInfo, PeerStatus } from "./types.js";

/** CometBFT's `/net_info`, from the node. */
export interface NetInfo {
  readonly listening: boolean;
  readonly listeners: readonly string[];
  readonly nPeers: number;
  readonly peers: readonly PeerStatus[];
}

/** The result of dialing one address. */
export interface DialOutcome {
  readonly address: string;
  readonly connected: boolean;
  /** Why not, when not connected. */
  readonly error: string;
}

/** Per-call options. */
export interface NodeCallOptions {
  /** Give up after this long, in ms. @default 10000 */
  readonly timeoutMs?: number;
  /** Cancels the call. */
  readonly signal?: AbortSignal;
}

/** Default deadline of a NodeService call: 10 s; a dial may take the node's dial + handshake timeouts. */
export const DEFAULT_NODE_CALL_TIMEOUT_MS = 10_000;

/**
 * A client of the node's NodeService.
 *
 * @example
 * ```ts
 * import { NodeClient } from "@switchboard/client";
 *
 * const node = new NodeClient("127.0.0.1:26670");
 * try {
 *   const info = await node.getNodeInfo();
 *   console.log(info.nodeId, info.network);
 *   const [outcome] = await node.dialPeers(["e0f1...@127.0.0.1:26656"]);
 *   console.log(outcome?.connected);
 * } finally {
 *   node.close();
 * }
 * ```
 */
export class NodeClient {
  private readonly client: NodeServiceClient;
  private readonly token: string | undefined;

  constructor(target: string, options: GrpcConnectionOptions = {}) {
    this.token = options.token;
    this.client = new NodeServiceClient(toGrpcTarget(target), options.credentials ?? grpcCredentials.createInsecure(), options.channelOptions ?? {});
  }

  /** The node's own NodeInfo. */
  async getNodeInfo(options?: NodeCallOptions): Promise<NodeInfo> {
    const res = await this.unary<GetNodeInfoResponse>("getNodeInfo", options, (md, co, cb) => this.client.getNodeInfo({}, md, co, cb));
    return nodeInfoFromApi(res.nodeInfo);
  }

  /** Listeners and peers, shaped like CometBFT's `/net_info`. */
  async getNetInfo(options?: NodeCallOptions): Promise<NetInfo> {
    const res = await this.unary<GetNetInfoResponse>("getNetInfo", options, (md, co, cb) => this.client.getNetInfo({}, md, co, cb));
    return { listening: res.listening, listeners: res.listeners, nPeers: res.nPeers, peers: res.peers.map(peerStatusFromApi) };
  }

  /** Connected peers with their connection status. */
  async listPeers(options?: NodeCallOptions): Promise<PeerStatus[]> {
    const res = await this.unary<ListPeersResponse>("listPeers", options, (md, co, cb) => this.client.listPeers({}, md, co, cb));
    return res.peers.map(peerStatusFromApi);
  }

  /** Dials `id@host:port` addresses and waits for each outcome (one per address, in order). */
  async dialPeers(addresses: readonly string[], options?: NodeCallOptions): Promise<DialOutcome[]> {
    const res = await this.unary<DialPeersResponse>("dialPeers", options, (md, co, cb) => this.client.dialPeers({ addresses: [...addresses] }, md, co, cb));
    return res.outcomes.map((o) => ({ address: o.address, connected: o.connected, error: o.error }));
  }

  /** Disconnects a peer: gracefully, or as misbehaving when `reason` is given. */
  async stopPeer(peerId: string, reason = "", options?: NodeCallOptions): Promise<void> {
    await this.unary<StopPeerResponse>("stopPeer", options, (md, co, cb) => this.client.stopPeer({ peerId, reason }, md, co, cb));
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }

  private unary<Res>(
    method: string,
    options: NodeCallOptions | undefined,
    start: (md: Metadata, co: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => { cancel(): void },
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted === true) {
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        return;
      }
      const deadline = new Date(Date.now() + (options?.timeoutMs ?? DEFAULT_NODE_CALL_TIMEOUT_MS));
      const onAbort = (): void => call.cancel();
      const call = start(callMetadata(this.token), { deadline }, (err, res) => {
        signal?.removeEventListener("abort", onAbort);
        if (err === null) {
          resolve(res);
          return;
        }
        const raw = err.metadata.get("switchboard-error-reason")[0];
        reject(new StatusError(err.code, err.details, typeof raw === "string" ? reasonName(`ERROR_REASON_${raw.replace(/^ERROR_REASON_/, "")}`) : undefined, `NodeService.${method}`, { cause: err }));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
