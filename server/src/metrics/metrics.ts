/**
 * What the node reports, as an interface with a no-op default: a component
 * that is given no metrics pays nothing, and tests need no registry.
 *
 * Peer traffic is not pushed on the hot path: the implementation reads the
 * Switch's peers and each peer's `status()` when it is scraped.
 */
import type { Registry } from "prom-client";
import type { ConnectionDirection, ConnectionErrorCode, PeerErrorCode } from "../p2p/connection-errors.js";
import type { PeerStatus } from "../p2p/peer.js";
import type { PeerCounts } from "../p2p/switch-api.js";

/** One peer, as the metrics read it (a `Peer` is one). */
export interface PeerMetricsSource {
  readonly id: string;
  status(): PeerStatus;
}

/** The Switch, as the metrics read it at scrape time (a `Switch` is one). */
export interface SwitchMetricsSource {
  peers(): { list(): readonly PeerMetricsSource[] };
  numPeers(): PeerCounts;
  /** Inbound and outbound handshakes under way (0 when absent). */
  readonly handshakesInProgress?: number;
  /** Persistent peers being redialled (0 when absent). */
  readonly reconnectingPeers?: number;
  /** Source IPs tracked by the inbound attempt rate limit (0 when absent). */
  readonly acceptRateLimitTrackedIps?: number;
  /** Connections that never became peers, by direction and code (a closed set), since start. */
  connectionErrors?(): readonly { readonly direction: ConnectionDirection; readonly code: ConnectionErrorCode; readonly count: number }[];
  /** Peers dropped for an error, by code (a closed set), since start. */
  peerErrors?(): readonly { readonly code: PeerErrorCode; readonly count: number }[];
}

/**
 * Adds a component's own metrics to the node's registry. `namespace` is the
 * configured prefix (`cometbft` by default); the registry already carries the
 * node's default labels (`chain_id`).
 */
export type MetricsExtension = (registry: Registry, namespace: string) => void;

export interface Metrics {
  /** Reports `source`'s peers at every scrape from now on; replaces an earlier source. */
  observeSwitch(source: SwitchMetricsSource): void;
  /**
   * Bytes of one received message of `messageType` (CometBFT's label, e.g.
   * `p2p_PexRequest`). For the layer that decodes messages: the Switch only
   * sees bytes.
   */
  messageReceived(messageType: string, bytes: number): void;
  /** Bytes of one sent message of `messageType`. */
  messageSent(messageType: string, bytes: number): void;
  /** Lets another component (the gateway) add its metrics. Does nothing without Prometheus. */
  register(extension: MetricsExtension): void;
}

/** Metrics that record nothing. */
export const noopMetrics: Metrics = Object.freeze({
  observeSwitch(): void {
    /* nothing */
  },
  messageReceived(): void {
    /* nothing */
  },
  messageSent(): void {
    /* nothing */
  },
  register(): void {
    /* nothing */
  },
});
