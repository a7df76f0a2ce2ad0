/**
 * Switchboard reactor SDK for TypeScript: write CometBFT reactors in another
 * process, attached to a Switchboard node over gRPC.
 *
 * - {@link ReactorClient}: events as an rxjs Observable (or async iterable, or
 *   awaited handler) with credit-based backpressure, resume after transport
 *   failures, and commands as Promises.
 * - {@link runReactor}: the same, written like CometBFT's Go `Reactor`.
 * - {@link NodeClient}: the node-wide NodeService.
 *
 * @example
 * ```ts
 * import { ReactorClient } from "@switchboard/client";
 *
 * const reactor = new ReactorClient({ target: "127.0.0.1:26670", name: "app", channels: [{ id: 0x70, priority: 5 }] });
 * reactor.receive$(0x70).subscribe({
 *   next: ({ peer, message }) => void reactor.send(peer, 0x70, message), // echo
 *   error: (err: unknown) => console.error(String(err)), // e.g. AttachError: the name is taken on that node
 * });
 * ```
 *
 * @module
 */
export { ReactorClient, type ConsumeOptions, type ReactorClientOptions, type ReactorLogger } from "./reactor-client.js";
export { runReactor, dispatch, type Reactor, type RunningReactor } from "./run-reactor.js";
export { NodeClient, DEFAULT_NODE_CALL_TIMEOUT_MS, type DialOutcome, type NetInfo, type NodeCallOptions } from "./node-client.js";
export { Backoff, resolveReconnectConfig, type ReconnectConfig, type ResolvedReconnectConfig } from "./backoff.js";
export { callMetadata, createGrpcAttachTransport, toGrpcTarget, type AttachTransport, type GrpcAttachTransport, type GrpcConnectionOptions } from "./transport.js";
export {
  AttachError,
  CommandError,
  CommandInterruptedError,
  CommandQueueFullError,
  ConfigError,
  NotAttachedError,
  ProtocolError,
  Status,
  StatusError,
  SwitchboardClientError,
  reasonName,
  type CommandErrorReason,
} from "./errors.js";
export * from "./defaults.js";
export type {
  AddPeerEvent,
  BroadcastResult,
  ChannelConfig,
  ChannelStatus,
  Envelope,
  InitPeerEvent,
  NodeEvent,
  NodeInfo,
  OverflowPolicy,
  PeerCounts,
  PeerInfo,
  PeerRef,
  PeerStatus,
  ReactorEvent,
  ReceiveEvent,
  RemovePeerEvent,
  SessionEvent,
  StartEvent,
  StopEvent,
} from "./types.js";
export type { EngineStateName as ReactorClientState } from "./internal/engine.js";
