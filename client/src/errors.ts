/**
 * The SDK's errors: one class per failure, each with what the caller needs to
 * decide what to do. Commands fail with {@link CommandError} (the node said
 * no; the stream lives on) or with one of the local errors below.
 *
 * @module
 */
import { status as Status } from "@grpc/grpc-js";
import { ErrorReason } from "./gen/switchboard/gateway/v1/gateway.js";

export { Status };

/** Why a command failed, beyond its gRPC code: `ErrorReason` without its `ERROR_REASON_` prefix. */
export type CommandErrorReason =
  | "UNSPECIFIED"
  | "UNKNOWN_PEER"
  | "PEER_REMOVED"
  | "CHANNEL_NOT_REGISTERED"
  | "MESSAGE_TOO_LARGE"
  | "CHANNEL_NOT_SUPPORTED_BY_PEER"
  | "INVALID_ADDRESS"
  | "PEER_DATA_FULL"
  | "INVALID_FIELD"
  | "NOT_REGISTERED"
  | "NODE_NOT_RUNNING"
  | "TOO_MANY_COMMANDS";

/** Maps the generated enum to {@link CommandErrorReason}; unknown values become `UNSPECIFIED`. */
export function reasonName(reason: ErrorReason | string): CommandErrorReason {
  const name = typeof reason === "string" ? reason : ErrorReason[reason];
  if (typeof name !== "string" || !name.startsWith("ERROR_REASON_") || name === "UNRECOGNIZED") return "UNSPECIFIED";
  return name.slice("ERROR_REASON_".length) as CommandErrorReason;
}

/** The name of a gRPC status code ("NOT_FOUND"), or the number when it is not a known code. */
export function statusName(code: number): string {
  return (Status as unknown as Record<number, string | undefined>)[code] ?? String(code);
}

/**
 * A status message as a sentence's middle: without grpc-js's empty
 * "Resolution note:" and without a final period.
 *
 * @internal
 */
export function tidyDetails(details: string): string {
  return details.replace(/\s*Resolution note:\s*$/, "").replace(/[.\s]+$/, "");
}

/** The base class of every error this SDK raises. */
export class SwitchboardClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The node refused a command (`CommandResult.error`). The stream is still
 * attached: the next command may succeed.
 *
 * @example
 * ```ts
 * try {
 *   await reactor.send(peer, 0x70, bytes);
 * } catch (err) {
 *   if (err instanceof CommandError && err.reason === "PEER_REMOVED") return; // it left meanwhile
 *   throw err;
 * }
 * ```
 */
export class CommandError extends SwitchboardClientError {
  constructor(
    /** The command, e.g. `"send"`. */
    readonly command: string,
    /** A gRPC status code: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, ... */
    readonly code: number,
    /** Why, in more detail than the code. */
    readonly reason: CommandErrorReason,
    /** The node's explanation; names the offending field when there is one. */
    readonly details: string,
  ) {
    super(`${command} failed: ${statusName(code)} (${reason}): ${details}`);
  }
}

/**
 * A gRPC call ended with a non-OK status: the Attach stream (and it will not be
 * retried, or retries are exhausted) or a NodeService call.
 */
export class StatusError extends SwitchboardClientError {
  constructor(
    /** The gRPC status code. */
    readonly code: number,
    /** The status message. */
    readonly details: string,
    /** The node's `switchboard-error-reason` trailer, when it sent one. */
    readonly reason: CommandErrorReason | undefined,
    what: string,
    options?: ErrorOptions,
  ) {
    super(`${what}: ${statusName(code)}: ${details}`, options);
  }
}

/**
 * The Attach stream failed for good: refused at registration (ALREADY_EXISTS,
 * INVALID_ARGUMENT, FAILED_PRECONDITION, ...) or still failing when the
 * reconnect attempts ran out. `events$` errors with it (`consume` and
 * `runReactor(...).done` reject with it).
 *
 * Its message is meant for the person running the reactor: what the node
 * said, and what to do when the SDK knows (`hint`), e.g. for ALREADY_EXISTS
 * which name or channel is taken. It carries no stack frames: it is made
 * asynchronously from the node's answer, so none would be the application's,
 * and an uncaught one then prints as its message alone.
 *
 * @example
 * ```ts
 * reactor.events$.subscribe({
 *   next: handle,
 *   error: (err: unknown) => {
 *     console.error(String(err)); // AttachError: reactor "app": the node at 127.0.0.1:26670 refused it: ALREADY_EXISTS: ...
 *     process.exitCode = 1;
 *   },
 * });
 * ```
 */
export class AttachError extends StatusError {
  readonly #hint: string | undefined;

  constructor(code: number, details: string, reason: CommandErrorReason | undefined, what: string, options?: ErrorOptions & { readonly hint?: string | undefined }) {
    super(code, details, reason, what, options);
    this.#hint = options?.hint;
    this.message = `${what}: ${statusName(code)}: ${tidyDetails(details)}${this.#hint === undefined ? "" : `. ${this.#hint}`}`;
    this.stack = `${this.name}: ${this.message}`;
  }

  /** What to do about it, when the SDK knows (it also ends the message). */
  get hint(): string | undefined {
    return this.#hint;
  }
}

/**
 * The stream broke while the command was on the wire: the node may or may not
 * have executed it. Commands are never re-sent on their own (a `send` is not
 * idempotent); re-issue it if that is safe.
 */
export class CommandInterruptedError extends SwitchboardClientError {
  readonly code = Status.UNAVAILABLE;
}

/**
 * A command was issued while no stream is wanted (nobody subscribed to
 * `events$`, or the client stopped), or the stream ended while it waited.
 */
export class NotAttachedError extends SwitchboardClientError {
  readonly code = Status.FAILED_PRECONDITION;
}

/** Too many commands are waiting (see `commandQueueCapacity`); this one was not queued. */
export class CommandQueueFullError extends SwitchboardClientError {
  readonly code = Status.RESOURCE_EXHAUSTED;
}

/** The node broke the protocol (an event out of order, a result of the wrong kind). The stream is abandoned. */
export class ProtocolError extends SwitchboardClientError {
  readonly code = Status.INTERNAL;
}

/** An option is out of range; the message names it. */
export class ConfigError extends SwitchboardClientError {}
