/**
 * What the CLI's `net-info`, `peers`, `dial` and `stop-peer` need from a
 * running node. The implementation over gRPC (NodeService, see
 * proto/switchboard/gateway/v1/gateway.proto) is plugged in through
 * {@link NodeClientFactory}; until then these commands say the service is not
 * available yet. The shapes follow the NodeService messages.
 */

/** One connected peer, as `ListPeers` and `GetNetInfo` describe it. */
export interface NodePeer {
  readonly peerId: string;
  /** Unique per connection. */
  readonly connectionId: string;
  readonly outbound: boolean;
  readonly persistent: boolean;
  readonly unconditional: boolean;
  /** host:port of the TCP connection. */
  readonly remoteAddress: string;
  /** ID@HOST:PORT to reach the peer. */
  readonly socketAddress: string;
  readonly moniker: string;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sendRateBytesPerSecond: number;
  readonly recvRateBytesPerSecond: number;
  /** Seconds since the connection was added. */
  readonly durationSeconds: number;
  /** What the peer said about itself, when the node reports it. */
  readonly nodeInfo?: NodePeerInfo;
  /** Per-channel send state, when the node reports it. */
  readonly channels?: readonly { id: number; sendQueueCapacity: number; sendQueueSize: number; priority: number; recentlySent: number }[];
}

/** A peer's NodeInfo, as the node reports it. */
export interface NodePeerInfo {
  readonly id: string;
  readonly listenAddr: string;
  readonly network: string;
  readonly version: string;
  /** Channel IDs as lower-case hex, two digits each (CometBFT's JSON form). */
  readonly channels: string;
  readonly moniker: string;
  readonly protocolVersion: { readonly p2p: string; readonly block: string; readonly app: string };
  readonly txIndex: string;
  readonly rpcAddress: string;
}

/** CometBFT's `/net_info`, as `GetNetInfo` returns it. */
export interface NodeNetInfo {
  readonly listening: boolean;
  readonly listeners: readonly string[];
  readonly nPeers: number;
  readonly peers: readonly NodePeer[];
}

/** The outcome of dialing one address. */
export interface NodeDialOutcome {
  readonly address: string;
  readonly connected: boolean;
  /** Why not, when not connected. */
  readonly error: string;
}

export interface NodeClient {
  netInfo(): Promise<NodeNetInfo>;
  peers(): Promise<readonly NodePeer[]>;
  /** Dials `ID@HOST:PORT` and waits for the outcome. */
  dial(address: string): Promise<NodeDialOutcome>;
  /** Disconnects a peer: gracefully, or as misbehaving when `reason` is given. */
  stopPeer(peerId: string, reason?: string): Promise<void>;
  close(): void;
}

/** Connects to the node's gRPC endpoint (`host:port` or `unix:///path`). */
export type NodeClientFactory = (target: string) => NodeClient | Promise<NodeClient>;

/** The CLI was built without a NodeService client. */
export class NodeServiceUnavailableError extends Error {
  readonly code = "node_service_unavailable";
  constructor(command: string, target: string) {
    super(`${command}: cannot query the node at ${target}: the gRPC NodeService client is not available in this build yet`);
    this.name = "NodeServiceUnavailableError";
  }
}

/** A factory that fails for every target, until the gRPC client exists. */
export function unavailableNodeClient(command: string): NodeClientFactory {
  return (target) => {
    throw new NodeServiceUnavailableError(command, target);
  };
}

// ------------------------------------------------------------------ output

/** `1.5 KiB`, `12 B`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i] ?? ""}`;
}

/** `45s`, `3m12s`, `2h05m`, `3d04h`. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, "0")}h`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** The peers as a table, one line each. */
export function formatPeers(peers: readonly NodePeer[]): string {
  if (peers.length === 0) return "no peers";
  const rows = peers.map((p) => [
    p.peerId,
    p.outbound ? "out" : "in",
    p.remoteAddress,
    formatUptime(p.durationSeconds),
    formatBytes(p.bytesSent),
    formatBytes(p.bytesReceived),
    [p.persistent ? "persistent" : "", p.unconditional ? "unconditional" : ""].filter((s) => s !== "").join(",") || "-",
    p.moniker,
  ]);
  return table(["PEER ID", "DIR", "ADDRESS", "UP", "SENT", "RECEIVED", "FLAGS", "MONIKER"], rows);
}

export function formatNetInfo(info: NodeNetInfo): string {
  const lines = [
    `listening: ${info.listening ? "yes" : "no"}`,
    `listeners: ${info.listeners.length === 0 ? "-" : info.listeners.join(", ")}`,
    `peers:     ${info.nPeers}`,
  ];
  if (info.peers.length > 0) lines.push("", formatPeers(info.peers));
  return lines.join("\n");
}

/**
 * `net-info --json`: the result object of CometBFT's `/net_info` RPC, with its
 * field names and its habit of writing integers as strings.
 */
export function cometNetInfoJson(info: NodeNetInfo): unknown {
  return {
    listening: info.listening,
    listeners: info.listeners,
    n_peers: String(info.nPeers),
    peers: info.peers.map((p) => ({
      node_info: {
        protocol_version: p.nodeInfo?.protocolVersion ?? { p2p: "", block: "", app: "" },
        id: p.nodeInfo?.id ?? p.peerId,
        listen_addr: p.nodeInfo?.listenAddr ?? "",
        network: p.nodeInfo?.network ?? "",
        version: p.nodeInfo?.version ?? "",
        channels: p.nodeInfo?.channels ?? "",
        moniker: p.nodeInfo?.moniker ?? p.moniker,
        other: { tx_index: p.nodeInfo?.txIndex ?? "", rpc_address: p.nodeInfo?.rpcAddress ?? "" },
      },
      is_outbound: p.outbound,
      connection_status: {
        Duration: String(p.durationSeconds * 1_000_000_000),
        SendMonitor: { Bytes: String(p.bytesSent), CurRate: String(p.sendRateBytesPerSecond) },
        RecvMonitor: { Bytes: String(p.bytesReceived), CurRate: String(p.recvRateBytesPerSecond) },
        Channels: (p.channels ?? []).map((c) => ({
          ID: c.id,
          SendQueueCapacity: String(c.sendQueueCapacity),
          SendQueueSize: String(c.sendQueueSize),
          Priority: String(c.priority),
          RecentlySent: String(c.recentlySent),
        })),
      },
      remote_ip: p.remoteAddress.replace(/:\d+$/, "").replace(/^\[|\]$/g, ""),
    })),
  };
}
