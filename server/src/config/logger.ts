/**
 * The node's root logger, built from `log_level` and `log_format`.
 *
 * - plain (default): one line of text per record, for people, rendered by
 *   pino-pretty: `[TIME] LEVEL: module: message {"key":"value",...}`, the
 *   time in UTC, colours only on a terminal (and never with `NO_COLOR` set or
 *   `TERM=dumb`). CometBFT prints text by default too.
 * - json: one object per line with `level` as a name and an ISO time, for log
 *   collectors (CometBFT's `log_format = "json"`).
 *
 * Components take child loggers: `logger.child({ module: "switch" })`, and
 * use the field names `peer_id`, `ch_id` and `reactor` for those things. A
 * field bound on a child logger is not repeated in its calls (pino would
 * write the key twice).
 * Logs go to standard error; standard output is for command results.
 *
 * Key material is never logged: any field named like a private key or seed is
 * replaced by "[REDACTED]" at any depth up to three levels (see
 * {@link REDACTED_FIELDS}), in either format (redaction happens before the
 * line is rendered).
 */
import pino, { type DestinationStream, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import type { LogFormat, LogLevel } from "./schema.js";

/** Field names whose values are replaced by "[REDACTED]" in every log line. */
export const REDACTED_FIELDS: readonly string[] = [
  "priv_key",
  "privKey",
  "private_key",
  "privateKey",
  "secret",
  "secretKey",
  "secret_key",
  "seed",
  "nodeKey",
  "node_key",
];

const REDACT_PATHS: readonly string[] = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

/** Where log lines go: standard error, or anything with `write` (tests capture lines this way). */
export interface LogDestination {
  write(line: string): unknown;
  /** True for a terminal: plain lines are coloured then. */
  readonly isTTY?: boolean;
}

export interface LoggerOptions {
  readonly level: LogLevel | "silent";
  readonly format: LogFormat;
  /** Where lines go. @default standard error */
  readonly destination?: LogDestination;
  /** Read for `NO_COLOR` and `TERM`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Colours for plain lines: on a terminal only, unless `NO_COLOR` is set (no-color.org) or the terminal is dumb. */
export function plainColours(destination: LogDestination, env: Readonly<Record<string, string | undefined>>): boolean {
  if (destination.isTTY !== true) return false;
  if ((env["NO_COLOR"] ?? "") !== "") return false;
  return env["TERM"] !== "dumb";
}

/**
 * pino-pretty's renderer for plain lines: one line per record (objects and
 * errors inline as JSON), the module before the message.
 */
function plainRenderer(colorize: boolean): (line: string) => string {
  return prettyFactory({
    colorize,
    singleLine: true,
    // Errors inline too: pino-pretty prints error-like fields over several lines otherwise.
    errorLikeObjectKeys: [],
    translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    messageFormat: "{if module}{module}: {end}{msg}",
    ignore: "module",
  });
}

/** The root logger. */
export function createLogger(options: LoggerOptions): Logger {
  const sink: LogDestination = options.destination ?? process.stderr;
  let stream: DestinationStream;
  if (options.format === "plain") {
    const render = plainRenderer(plainColours(sink, options.env ?? process.env));
    stream = {
      write(line: string): void {
        sink.write(render(line));
      },
    };
  } else {
    stream = {
      write(line: string): void {
        sink.write(line);
      },
    };
  }
  return pino(
    {
      level: options.level,
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
      },
      redact: { paths: [...REDACT_PATHS], censor: "[REDACTED]" },
    },
    stream,
  );
}
