/**
 * The one place where an error becomes what a person reads. Expected
 * failures (bad config, bad address, port in use, corrupt key file, missing
 * home...) are typed and print their message alone; anything else is a bug
 * and prints its stack too, so it can be reported.
 */

/** A failure of a command that needs no more than its message. */
export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = "CliError";
  }
}

/** The home directory a command needs is not there. */
export class MissingHomeError extends CliError {
  constructor(readonly home: string) {
    super("home_missing", `home directory ${home} does not exist (create it with: switchboard init --home ${home})`);
    this.name = "MissingHomeError";
  }
}

/**
 * Text for an error. Typed errors of this code base carry a string `code`
 * (ConfigError, NodeKeyFileError, NetAddressError, NodeError, P2PError,
 * MetricsServerError, ...): their message is written for people. Other
 * errors are unexpected and keep their stack.
 */
export function describeError(err: unknown): { readonly message: string; readonly expected: boolean } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.length > 0) {
      // Node's own errors (ENOENT, EACCES...) have a code but a terse message: add the path when there is one.
      const path = (err as NodeJS.ErrnoException).path;
      const message = /^E[A-Z]+$/.test(code) && path !== undefined && !err.message.includes(path) ? `${err.message} (${path})` : err.message;
      return { message, expected: true };
    }
    return { message: err.stack ?? err.message, expected: false };
  }
  return { message: String(err), expected: false };
}
