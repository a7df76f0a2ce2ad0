/**
 * Every default of the SDK, in one place, with its unit and the reason for it.
 *
 * @module
 */

/**
 * Events the node may send before the application has consumed any: 256.
 * Enough to keep a stream busy across one round trip at tens of thousands of
 * events per second, small enough that a slow reactor holds little memory.
 */
export const DEFAULT_CREDIT_WINDOW_MESSAGES = 256;

/**
 * Payload bytes the node may send before the application has consumed any:
 * 16 MiB. One event may overdraw it by its own size (a 100 MB block still
 * arrives), so this bounds memory, not the largest message.
 */
export const DEFAULT_CREDIT_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Commands sent and not yet answered, at most: 1024, the node's own limit per
 * stream (beyond it the node answers RESOURCE_EXHAUSTED).
 */
export const DEFAULT_MAX_INFLIGHT_COMMANDS = 1024;

/**
 * Payload bytes of commands sent and not yet answered, at most: 16 MiB. This
 * bounds what grpc-js buffers for us (it buffers without limit when writes are
 * not paced); one larger command still goes alone.
 */
export const DEFAULT_MAX_INFLIGHT_COMMAND_BYTES = 16 * 1024 * 1024;

/**
 * Commands waiting for the stream (re-attaching, or too many in flight), at
 * most: 1024. Beyond it a command fails at once with `CommandQueueFullError`,
 * like `trySend`: the application decides whether to wait or drop.
 */
export const DEFAULT_COMMAND_QUEUE_CAPACITY = 1024;

/** Re-attach attempts after a failure: unlimited — a reactor should outlive node restarts. */
export const DEFAULT_RECONNECT_COUNT = Number.POSITIVE_INFINITY;
/** First re-attach delay: 100 ms, well inside the node's default 30 s resume window. */
export const DEFAULT_RECONNECT_INITIAL_DELAY_MS = 100;
/** Longest re-attach delay: 5 s, so a restarted node is found quickly. */
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 5_000;
/** Growth of the delay per failed attempt: 2 (exponential backoff). */
export const DEFAULT_RECONNECT_MULTIPLIER = 2;
/** Random spread of each delay, ± this fraction: 0.2, so reactors restarted together do not retry in lockstep. */
export const DEFAULT_RECONNECT_JITTER = 0.2;

/**
 * @deprecated Not used any more: the SDK's channel sets no message limit of
 * its own, and keeps to the largest message the node tells in Registered
 * (`limits.max_message_bytes`). Kept for code that imported it.
 */
export const DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 128 * 1024 * 1024;

/**
 * HTTP/2 receive window of the SDK's gRPC channel, per stream and per
 * connection (grpc-js's `grpc-node.flow_control_window`): 16 MiB, the default
 * credit window in bytes. grpc-js's own default (64 KiB) makes the node wait
 * for a window update every 64 KiB of events, long before credit would; the
 * credit window, not this one, bounds what the node may send.
 * `channelOptions` overrides it.
 */
export const DEFAULT_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Environment variable that turns on the state-machine trace (to stderr). Not
 * `SWITCHBOARD_*`: the node reads every such variable as a config key and
 * refuses unknown ones, and a reactor often shares its shell with a node.
 */
export const TRACE_ENV_VAR = "SB_CLIENT_TRACE";

/**
 * While the node cannot be reached, the client says so through its `logger`
 * at the first failed attempt and then at most once per this interval: 30 s
 * (attempts run every 5 s at most, so about every sixth one), so that a
 * reactor started before its node, or outliving it, is never silent and
 * never floods its log.
 */
export const UNREACHABLE_WARNING_INTERVAL_MS = 30_000;
