/**
 * The Attach call as an Observable: subscribing opens the bidirectional
 * stream and writes every request the SDK emits; unsubscribing cancels the
 * call. The SDK's state machine only sees this function, so tests drive it
 * with a fake (a marble-test cold observable, or a scripted node).
 *
 * @module
 */
import { type ChannelCredentials, type ChannelOptions, Metadata, type ServiceError, credentials as grpcCredentials, makeGenericClientConstructor } from "@grpc/grpc-js";
import { Observable } from "rxjs";
import { DEFAULT_FLOW_CONTROL_WINDOW_BYTES, DEFAULT_RECONNECT_INITIAL_DELAY_MS, DEFAULT_RECONNECT_MAX_DELAY_MS } from "./defaults.js";
import { type AttachRequest, type AttachResponse, ReactorGatewayServiceClient, ReactorGatewayServiceService } from "./gen/switchboard/gateway/v1/gateway.js";
import { encodeAttachRequest } from "./internal/encode.js";
import { Outbox, limitsFromRegistered } from "./internal/outbox.js";

/** The generated client, with our encoder of AttachRequests (the same bytes, each payload copied once). */
const AttachClient = makeGenericClientConstructor(
  { attach: { ...ReactorGatewayServiceService.attach, requestSerialize: encodeAttachRequest } },
  "switchboard.gateway.v1.ReactorGatewayService",
) as unknown as typeof ReactorGatewayServiceClient;

/**
 * Opens one Attach call. The returned Observable is cold: each subscription
 * is one call. It must subscribe to `requests` synchronously when it is
 * subscribed (the SDK writes Register right after), write each request in
 * order, emit each response, complete when the node ends the stream with OK,
 * error with the `ServiceError` otherwise, and cancel the call on unsubscribe.
 */
export type AttachTransport = (requests: Observable<AttachRequest>) => Observable<AttachResponse>;

/** How to reach the node over gRPC. */
export interface GrpcConnectionOptions {
  /**
   * TLS or mutual TLS (`credentials.createSsl(ca, key, cert)` from grpc-js);
   * the node requires TLS when its gateway listens off loopback.
   * @default insecure (plaintext) credentials
   */
  readonly credentials?: ChannelCredentials;
  /**
   * Bearer token sent as `authorization: Bearer <token>` on every call, when
   * the node has a `grpc.credentials_file` (the reactor's token for Attach,
   * the admin token for NodeService dial/stop-peer).
   */
  readonly token?: string;
  /** grpc-js channel options, merged over the SDK's (message size limits, reconnect backoff). */
  readonly channelOptions?: ChannelOptions;
}

/** Accepts `host:port`, `tcp://host:port` and `unix:///path`, returns what grpc-js expects. */
export function toGrpcTarget(target: string): string {
  return target.startsWith("tcp://") ? target.slice("tcp://".length) : target;
}

/** The metadata of every call: the bearer token, if any. */
export function callMetadata(token: string | undefined): Metadata {
  const md = new Metadata();
  if (token !== undefined && token !== "") md.set("authorization", `Bearer ${token}`);
  return md;
}

/** An {@link AttachTransport} over one grpc-js channel, and the function that closes the channel. */
export interface GrpcAttachTransport {
  readonly transport: AttachTransport;
  close(): void;
}

/**
 * Creates the real transport: one grpc-js channel to `target`, one Attach
 * call per subscription. What the SDK writes during one turn of the event
 * loop (acks, credit, commands) goes to the node as one RequestBatch.
 *
 * @example
 * ```ts
 * const { transport, close } = createGrpcAttachTransport("127.0.0.1:26670", { reconnectDelayMs: 100 });
 * ```
 */
export function createGrpcAttachTransport(target: string, options: GrpcConnectionOptions & { readonly reconnectDelayMs?: number; readonly maxReconnectDelayMs?: number } = {}): GrpcAttachTransport {
  const client = new AttachClient(toGrpcTarget(target), options.credentials ?? grpcCredentials.createInsecure(), {
    // No limit of the SDK's own: the node tells its largest message in Registered, and the SDK keeps to it (internal/outbox.ts).
    "grpc.max_receive_message_length": -1,
    "grpc.max_send_message_length": -1,
    // The SDK's own backoff decides when to retry; keep the channel's from adding seconds to it.
    "grpc.initial_reconnect_backoff_ms": Math.max(1, options.reconnectDelayMs ?? DEFAULT_RECONNECT_INITIAL_DELAY_MS),
    "grpc.max_reconnect_backoff_ms": Math.max(1, options.maxReconnectDelayMs ?? DEFAULT_RECONNECT_MAX_DELAY_MS),
    // The HTTP/2 receive window (per stream and per connection): grpc-js's default of 64 KiB would hold the node's events back long before credit does.
    "grpc-node.flow_control_window": DEFAULT_FLOW_CONTROL_WINDOW_BYTES,
    ...options.channelOptions,
  });
  const transport: AttachTransport = (requests) =>
    new Observable<AttachResponse>((subscriber) => {
      const call = client.attach(callMetadata(options.token));
      let done = false;
      const outbox = new Outbox((req) => {
        if (!done) call.write(req);
      });
      call.on("data", (res: AttachResponse) => {
        if (done) return;
        // The node's limits, for what is written from now on.
        if (res.msg?.$case === "registered") outbox.setLimits(limitsFromRegistered(res.msg.value.limits));
        subscriber.next(res);
      });
      // Kept after teardown: cancel() makes grpc-js emit CANCELLED, which must not go unhandled.
      call.on("error", (err: ServiceError) => {
        if (done) return;
        done = true;
        subscriber.error(err);
      });
      // grpc-js emits 'error' synchronously on a non-OK status, and 'end' a tick later: 'end' alone means OK.
      call.on("end", () => {
        if (done) return;
        done = true;
        subscriber.complete();
      });
      const writes = requests.subscribe({
        next: (req) => {
          if (!done) outbox.add(req);
        },
        complete: () => {
          if (done) return;
          outbox.flush();
          call.end();
        },
      });
      return () => {
        writes.unsubscribe();
        outbox.discard();
        if (!done) {
          done = true;
          call.cancel();
        }
      };
    });
  return { transport, close: () => client.close() };
}
