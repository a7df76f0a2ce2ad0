/** A real root logger (config/logger.ts) whose JSON lines a test reads back. */
import type { Logger } from "pino";
import { createLogger } from "../../src/config/logger.js";

export type LogRecord = Readonly<Record<string, unknown>> & { readonly level: string; readonly msg: string };

export interface CapturedLogs {
  readonly logger: Logger;
  /** Every line written, as written. */
  readonly lines: string[];
  /** Every line, parsed. */
  records(): LogRecord[];
  /** The records with message `msg` (and, when given, at `level`). */
  find(msg: string | RegExp, level?: string): LogRecord[];
}

export function captureLogs(level: "trace" | "debug" | "info" = "debug"): CapturedLogs {
  const lines: string[] = [];
  const logger = createLogger({ level, format: "json", env: {}, destination: { write: (l: string) => lines.push(l) } });
  const records = (): LogRecord[] => lines.map((l) => JSON.parse(l) as LogRecord);
  return {
    logger,
    lines,
    records,
    find: (msg, lvl) => records().filter((r) => (typeof msg === "string" ? r.msg === msg : msg.test(r.msg)) && (lvl === undefined || r.level === lvl)),
  };
}

/**
 * The keys of a JSON object's top level, in order, repeats kept (JSON.parse
 * keeps only the last of a repeated key, so it cannot tell).
 */
export function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < json.length) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      // A string directly inside the top-level object, followed by a colon, is a key.
      if (depth === 1 && json.slice(j + 1).trimStart().startsWith(":")) keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      i = j + 1;
      continue;
    }
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    i++;
  }
  return keys;
}

/** The keys that occur more than once at the top level of a JSON line. */
export function duplicateKeys(json: string): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const k of topLevelKeys(json)) (seen.has(k) ? dup : seen).add(k);
  return [...dup];
}
