/**
 * The one place where errors become gRPC statuses. Our typed errors map to
 * their code and message; anything else becomes UNKNOWN with a generic
 * message (and a warning in the log), so internals never leak to clients.
 */
import { type ServiceError, Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type CommandError, ErrorReason } from "../gen/switchboard/gateway/v1/gateway.js";
import { NetAddressError } from "../p2p/net-address.js";
import { PeerDataFullError } from "../p2p/peer.js";
import { AlreadyConnectedError, ConnectionRejectedError, DialError, OutboundLimitError, SwitchConfigError, SwitchStoppingError } from "../p2p/errors.js";
import { GatewayError } from "./errors.js";
import { GatewaySecurityError } from "./security.js";

interface Mapped {
  readonly code: GrpcStatus;
  readonly reason: ErrorReason;
  readonly message: string;
}

function map(err: unknown, logger: Logger): Mapped {
  if (err instanceof GatewayError) return { code: err.grpcCode, reason: err.reason, message: err.message };
  if (err instanceof GatewaySecurityError) return { code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: err.message };
  if (err instanceof NetAddressError) return { code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_ADDRESS, message: err.message };
  if (err instanceof PeerDataFullError) return { code: GrpcStatus.RESOURCE_EXHAUSTED, reason: ErrorReason.ERROR_REASON_PEER_DATA_FULL, message: err.message };
  if (err instanceof SwitchStoppingError) return { code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_NODE_NOT_RUNNING, message: err.message };
  if (err instanceof AlreadyConnectedError) return { code: GrpcStatus.ALREADY_EXISTS, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: err.message };
  if (err instanceof OutboundLimitError) return { code: GrpcStatus.RESOURCE_EXHAUSTED, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: err.message };
  if (err instanceof SwitchConfigError) return { code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: err.message };
  if (err instanceof DialError || err instanceof ConnectionRejectedError) {
    return { code: GrpcStatus.UNAVAILABLE, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: err.message };
  }
  logger.warn({ err }, "unexpected error mapped to UNKNOWN");
  return { code: GrpcStatus.UNKNOWN, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: "internal error" };
}

/** A command's failure, for a CommandResult: the stream lives on. */
export function toCommandError(err: unknown, logger: Logger): CommandError {
  const m = map(err, logger);
  return { code: m.code, message: m.message, reason: m.reason };
}

/** A status that ends a call. */
export function toServiceError(err: unknown, logger: Logger): Partial<ServiceError> {
  const m = map(err, logger);
  const metadata = new Metadata();
  metadata.set("switchboard-error-reason", ErrorReason[m.reason]);
  return { code: m.code, details: m.message, metadata };
}
