/** The CLI's NodeClient over the node's gRPC NodeService. */
import { readFileSync } from "node:fs";
import { type ChannelCredentials, Metadata, type ServiceError, credentials, status } from "@grpc/grpc-js";
import {
  type DialPeersResponse,
  type GetNetInfoResponse,
  type ListPeersResponse,
  NodeServiceClient,
  type PeerStatus,
  type StopPeerResponse,
} from "../gen/switchboard/gateway/v1/gateway.js";
import { CLI_ENV_VARS } from "../config/defaults.js";
import type { NodeClient, NodeClientFactory, NodePeer } from "./node-client.js";

/** A NodeService call that failed; the message is the node's own. */
export class NodeServiceCallError extends Error {
  readonly code = "node_service_call_failed";
  constructor(target: string, err: ServiceError) {
    super(
      err.code === status.UNAVAILABLE
        ? `cannot reach the node at ${target}: is it running? (${err.details})`
        : err.code === status.UNAUTHENTICATED || err.code === status.PERMISSION_DENIED
          ? `${err.details} (set SWITCHBOARD_GRPC_TOKEN, or SWITCHBOARD_GRPC_CERT_FILE and SWITCHBOARD_GRPC_KEY_FILE)`
          : err.details,
    );
    this.name = "NodeServiceCallError";
  }
}

function peerOf(p: PeerStatus): NodePeer {
  const ni = p.peer?.nodeInfo;
  return {
    peerId: p.peer?.peerId ?? "",
    connectionId: p.peer?.connectionId ?? "",
    outbound: p.peer?.outbound ?? false,
    persistent: p.peer?.persistent ?? false,
    unconditional: p.peer?.unconditional ?? false,
    remoteAddress: p.peer?.remoteAddress ?? "",
    socketAddress: p.peer?.socketAddress ?? "",
    moniker: p.peer?.nodeInfo?.moniker ?? "",
    bytesSent: Number(p.bytesSent),
    bytesReceived: Number(p.bytesReceived),
    sendRateBytesPerSecond: Number(p.sendRate),
    recvRateBytesPerSecond: Number(p.recvRate),
    durationSeconds: Number(p.durationSeconds),
    channels: p.channels.map((c) => ({
      id: c.id,
      sendQueueCapacity: c.sendQueueCapacity,
      sendQueueSize: c.sendQueueSize,
      priority: c.priority,
      recentlySent: Number(c.recentlySent),
    })),
    ...(ni === undefined
      ? {}
      : {
          nodeInfo: {
            id: ni.nodeId,
            listenAddr: ni.listenAddr,
            network: ni.network,
            version: ni.version,
            channels: Buffer.from(ni.channels).toString("hex"),
            moniker: ni.moniker,
            protocolVersion: { p2p: String(ni.p2pVersion), block: String(ni.blockVersion), app: String(ni.appVersion) },
            txIndex: ni.txIndex,
            rpcAddress: ni.rpcAddress,
          },
        }),
  };
}

/** How the CLI authenticates to a gateway that asks for it. */
export interface NodeClientSecurity {
  /** Bearer token (the admin token for dial and stop-peer). */
  readonly token?: string | undefined;
  /** PEM CA that signed the gateway's certificate: connect with TLS. */
  readonly caFile?: string | undefined;
  /** PEM client certificate and key, for mutual TLS. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

/**
 * The CLI's security settings from the environment: SWITCHBOARD_GRPC_TOKEN,
 * SWITCHBOARD_GRPC_CA_FILE, SWITCHBOARD_GRPC_CERT_FILE, SWITCHBOARD_GRPC_KEY_FILE.
 */
export function nodeClientSecurityFromEnv(env: Readonly<Record<string, string | undefined>>): NodeClientSecurity {
  return {
    token: env[CLI_ENV_VARS.token],
    caFile: env[CLI_ENV_VARS.caFile],
    certFile: env[CLI_ENV_VARS.certFile],
    keyFile: env[CLI_ENV_VARS.keyFile],
  };
}

function channelCredentials(sec: NodeClientSecurity): ChannelCredentials {
  const none = (v: string | undefined): boolean => v === undefined || v === "";
  if (none(sec.caFile) && none(sec.certFile)) return credentials.createInsecure();
  const read = (path: string | undefined): Buffer | null => (none(path) ? null : readFileSync(path as string));
  return credentials.createSsl(read(sec.caFile), read(sec.keyFile), read(sec.certFile));
}

/** A NodeClient factory that authenticates as `security` says. */
export function createGrpcNodeClient(security: NodeClientSecurity = {}): NodeClientFactory {
  return (target) => grpcNodeClientWith(target, security);
}

/** `host:port` or `unix:///path` (also accepts `tcp://host:port`), no TLS, no token. */
export const grpcNodeClient: NodeClientFactory = (target) => grpcNodeClientWith(target, {});

function grpcNodeClientWith(target: string, security: NodeClientSecurity): NodeClient {
  const address = target.startsWith("unix://") ? `unix:${target.slice("unix://".length)}` : target.replace(/^tcp:\/\//, "");
  const client = new NodeServiceClient(address, channelCredentials(security));
  const metadata = (): Metadata => {
    const md = new Metadata();
    if (security.token !== undefined && security.token !== "") md.set("authorization", `Bearer ${security.token}`);
    return md;
  };
  const deadline = (): Date => new Date(Date.now() + 10_000);
  const options = (): { deadline: Date } => ({ deadline: deadline() });
  const call = <Res>(invoke: (cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> =>
    new Promise((resolve, reject) => {
      invoke((err, res) => {
        if (err !== null) reject(new NodeServiceCallError(target, err));
        else resolve(res);
      });
    });
  const nc: NodeClient = {
    async netInfo() {
      const r = await call<GetNetInfoResponse>((cb) => client.getNetInfo({}, metadata(), options(), cb));
      return { listening: r.listening, listeners: r.listeners, nPeers: r.nPeers, peers: r.peers.map(peerOf) };
    },
    async peers() {
      const r = await call<ListPeersResponse>((cb) => client.listPeers({}, metadata(), options(), cb));
      return r.peers.map(peerOf);
    },
    async dial(address) {
      const r = await call<DialPeersResponse>((cb) => client.dialPeers({ addresses: [address] }, metadata(), options(), cb));
      const o = r.outcomes[0];
      return { address, connected: o?.connected ?? false, error: o?.error ?? "no outcome" };
    },
    async stopPeer(peerId, reason) {
      await call<StopPeerResponse>((cb) => client.stopPeer({ peerId, reason: reason ?? "" }, metadata(), options(), cb));
    },
    close() {
      client.close();
    },
  };
  return nc;
}
