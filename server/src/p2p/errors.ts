/**
 * Typed errors of the p2p layer (transport, switch, peers). Each has a stable
 * `code` for logs and metrics.
 */
export abstract class P2PError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Why the transport refused a connection: CometBFT's categories, and the
 * accept filter's rules told apart (`rate_limited`, `duplicate_ip`,
 * `too_many_handshakes`; `filtered` for any other refusal).
 */
export type RejectReason =
  | "handshake_failed"
  | "auth_failure"
  | "node_info_invalid"
  | "self"
  | "incompatible"
  | "filtered"
  | "rate_limited"
  | "duplicate_ip"
  | "too_many_handshakes"
  | "handshake_evicted"
  | "timeout";

/** A connection the transport refused during or before the upgrade. */
export class ConnectionRejectedError extends P2PError {
  readonly code = "connection_rejected";
  /** The authenticated node ID, when the refusal came after the SecretConnection handshake. */
  readonly peerId: string | undefined;
  constructor(
    readonly reason: RejectReason,
    /** Why, for people (the message without the "connection rejected" prefix). */
    readonly detail: string,
    options?: ErrorOptions & { readonly peerId?: string },
  ) {
    super(`connection rejected (${reason}): ${detail}`, options);
    this.peerId = options?.peerId;
  }
}

/** A TCP dial that failed or did not complete in time. */
export class DialError extends P2PError {
  readonly code = "dial_failed";
  constructor(
    readonly address: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`dial ${address}: ${detail}`, options);
  }
}

// ------------------------------------------------------------ the Switch's

/** Misuse of the Switch API (adding a reactor late, a channel conflict...). */
export class SwitchConfigError extends P2PError {
  readonly code = "switch_config";
}

/** A dial refused because the peer is connected, being dialed, or shares an IP with a peer. */
export class AlreadyConnectedError extends P2PError {
  readonly code = "already_connected_or_dialing";
}

/** A dial refused because the outbound limit is reached. */
export class OutboundLimitError extends P2PError {
  readonly code = "outbound_limit";
}

/** The peer's connection failed while it was being started. */
export class P2PStartError extends P2PError {
  readonly code = "peer_start_failed";
}

/** The peer was removed because the Switch is stopping. */
export class SwitchStoppingError extends P2PError {
  readonly code = "switch_stopping";
}
