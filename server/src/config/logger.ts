/**
 * The node's root logger, built from `log_level` and `log_format`.
 *
 * - JSON (default): one object per line with `level` as a name and an ISO
 *   time, for log collectors.
 * - plain: `TIME LEVEL message key=value ...`, for people.
 *
 * Components take child loggers: `logger.child({ module: "switch" })`, and
 * use the field names `peer_id`, `ch_id` and `reactor` for those things.
 * Logs go to standard error; standard output is for command results.
 *
 * Key material is never logged: any field named like a private key or seed is
 * replaced by "[REDACTED]" at any depth up to three levels (see
 * {@link REDACTED_FIELDS}).
 */
import pino, { type DestinationStream, type Logger } from "pino";
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

export interface LoggerOptions {
  readonly level: LogLevel | "silent";
  readonly format: LogFormat;
  /** Where lines go. @default standard error */
  readonly destination?: { write(line: string): unknown };
}

function plainValue(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  if (typeof v === "object" && "message" in v && typeof v.message === "string") return JSON.stringify(v.message);
  return JSON.stringify(v);
}

const OMIT_IN_PLAIN = new Set(["level", "time", "msg"]);

/** One JSON log line as a line of text. */
export function formatPlainLine(json: string): string {
  let obj: Record<string, unknown>;
  try {
    obj = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = (typeof obj["level"] === "string" ? obj["level"] : "").toUpperCase().padEnd(5);
  const time = typeof obj["time"] === "string" ? obj["time"] : new Date().toISOString();
  const msg = typeof obj["msg"] === "string" ? obj["msg"] : "";
  const fields = Object.entries(obj)
    .filter(([k]) => !OMIT_IN_PLAIN.has(k))
    .map(([k, v]) => `${k}=${plainValue(v)}`);
  return `${time} ${level} ${msg}${fields.length > 0 ? ` ${fields.join(" ")}` : ""}\n`;
}

/** The root logger. */
export function createLogger(options: LoggerOptions): Logger {
  const sink = options.destination ?? process.stderr;
  const stream: DestinationStream =
    options.format === "plain"
      ? {
          write(line: string): void {
            sink.write(formatPlainLine(line));
          },
        }
      : {
          write(line: string): void {
            sink.write(line);
          },
        };
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
