/**
 * Defaults of the reactor gateway, owned here and imported by everything else
 * (the gateway's own config, remote reactors' limits, the config layer,
 * CONFIG.md). The reasons for the values are in `config/defaults.ts`, beside
 * the `[grpc]` keys that override them.
 */
/** `grpc.laddr`: loopback, the gateway is not for the open network. */
export const DEFAULT_GRPC_LADDR = "tcp://127.0.0.1:26670";
/** `grpc.registration_timeout`: how long start waits for the reactors it was told to wait for. */
export const DEFAULT_REGISTRATION_TIMEOUT_MS = 60_000;
/**
 * How long an Attach stream may stay open without sending Register (not a
 * config key): SDKs send it at once, so 10 s is generous; a stream that
 * never registers is ended with DEADLINE_EXCEEDED instead of holding an
 * HTTP/2 stream forever.
 */
export const ATTACH_REGISTER_DEADLINE_MS = 10_000;
/**
 * A gateway connection with no call in progress for this long is closed
 * (grpc-js `grpc.max_connection_idle_ms`, with GOAWAY): an SDK keeps its
 * Attach stream open and a CLI call is short, so only connections that do
 * nothing (an HTTP/2 preface and no call) are reclaimed.
 */
export const GATEWAY_IDLE_CONNECTION_MS = 60_000;
/** Concurrent calls on one gateway connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): an SDK client uses one Attach stream per connection. */
export const GATEWAY_MAX_STREAMS_PER_CONNECTION = 100;
/** `grpc.event_queue_max_messages`: events queued for one reactor stream, at most. */
export const DEFAULT_EVENT_QUEUE_MAX_MESSAGES = 10_000;
/** `grpc.event_queue_max_bytes`: payload bytes of events queued for one reactor stream, at most (64 MiB). */
export const DEFAULT_EVENT_QUEUE_MAX_BYTES = 64 * 1024 * 1024;
/** `grpc.default_overflow_policy`: what a full event queue does unless the reactor chose. */
export const DEFAULT_OVERFLOW_POLICY = "block" as const;
/** `grpc.resume_window`: how long a dropped stream may come back and resume its session. */
export const DEFAULT_RESUME_WINDOW_MS = 30_000;
/** `grpc.max_message_bytes`: largest gRPC message either way (110 MiB: a 100 MiB blocksync message and its envelope). */
export const DEFAULT_MAX_MESSAGE_BYTES = 110 * 1024 * 1024;
