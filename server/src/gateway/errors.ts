/**
 * Typed errors of the gateway. Each maps to exactly one gRPC status code in
 * `status-mapping.ts`; nothing else crosses the gRPC boundary.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { ErrorReason } from "../gen/switchboard/gateway/v1/gateway.js";

export class GatewayError extends Error {
  constructor(
    readonly grpcCode: GrpcStatus,
    readonly reason: ErrorReason,
    message: string,
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

export const invalidField = (field: string, problem: string): GatewayError =>
  new GatewayError(GrpcStatus.INVALID_ARGUMENT, ErrorReason.ERROR_REASON_INVALID_FIELD, `${field}: ${problem}`);

export const notFound = (reason: ErrorReason, message: string): GatewayError => new GatewayError(GrpcStatus.NOT_FOUND, reason, message);

export const failedPrecondition = (reason: ErrorReason, message: string): GatewayError =>
  new GatewayError(GrpcStatus.FAILED_PRECONDITION, reason, message);

/** The gateway could not listen on grpc.laddr; the message says why and what to do. */
export class GatewayListenError extends Error {
  readonly code = "gateway_listen_failed";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GatewayListenError";
  }
}

/** A remote reactor's queue overflowed under the disconnect-peer policy. */
export class EventQueueOverflowError extends Error {
  readonly code = "event_queue_overflow";
  constructor(reactor: string, channelId: number) {
    super(`reactor "${reactor}" fell behind: its event queue is full (channel 0x${channelId.toString(16).padStart(2, "0")}, policy disconnect-peer)`);
    this.name = "EventQueueOverflowError";
  }
}
