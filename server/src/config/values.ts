/**
 * Parsers for the kinds of value a config key holds. Each takes the raw value
 * (a TOML value from the file, or a string from the environment or a flag)
 * and returns the typed value, or throws {@link ValueError} saying what is
 * wrong. The caller adds the file, key and expected form to the message.
 */
import { isAbsolute } from "node:path";
import { type NetAddress, NetAddressError, parseHostPort, parseNetAddressList } from "../p2p/net-address.js";
import { isValidNodeId, splitHostPort, isValidHost, parsePort } from "../wire/node-info.js";
import { MAX_TIMER_MS, formatDuration } from "../util/duration.js";

/** A raw value that does not have the expected form; `detail` says why, when the form alone does not. */
export class ValueError extends Error {
  constructor(readonly detail?: string) {
    super(detail ?? "invalid value");
    this.name = "ValueError";
  }
}

/**
 * Where a raw value came from: a TOML file keeps its types (`40` is a number,
 * `"40"` a string); the environment and flags give text, which is converted.
 */
export type RawOrigin = "file" | "text";

/** Longest duration a key takes: what Node's timers can wait (2^31 − 1 ms, about 24.8 days). */
export const MAX_DURATION_MS = MAX_TIMER_MS;

/** How a raw value reads in an error: strings quoted, tables and dates named. */
export function describeRaw(raw: unknown): string {
  if (typeof raw === "string") return JSON.stringify(raw);
  if (typeof raw === "number" || typeof raw === "boolean" || typeof raw === "bigint") return String(raw);
  if (Array.isArray(raw)) return `[${raw.map(describeRaw).join(", ")}]`;
  if (raw instanceof Date) return `the date ${raw.toISOString()}`;
  if (raw === null || raw === undefined) return "nothing";
  return "a table";
}

// ------------------------------------------------------------------ scalars

export function parseString(raw: unknown): string {
  if (typeof raw !== "string") throw new ValueError();
  return raw;
}

export function parseBoolean(raw: unknown, origin: RawOrigin): boolean {
  if (typeof raw === "boolean") return raw;
  if (origin === "text" && typeof raw === "string") {
    const s = raw.trim().toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
  }
  throw new ValueError();
}

/** An integer in [min, max]. From text, decimal digits with an optional sign. */
export function parseInteger(raw: unknown, origin: RawOrigin, min: number, max: number): number {
  let n: number;
  if (typeof raw === "number") n = raw;
  else if (typeof raw === "bigint") throw new ValueError(`at most ${max}`);
  else if (origin === "text" && typeof raw === "string" && /^\s*[+-]?\d+\s*$/.test(raw)) n = Number(raw.trim());
  else throw new ValueError();
  if (!Number.isSafeInteger(n)) throw new ValueError();
  if (n < min) throw new ValueError(`at least ${min}`);
  if (n > max) throw new ValueError(`at most ${max}`);
  return n;
}

/** A finite number greater than 0. */
export function parsePositiveNumber(raw: unknown, origin: RawOrigin): number {
  let n: number;
  if (typeof raw === "number") n = raw;
  else if (origin === "text" && typeof raw === "string" && /^\s*\+?(\d+(\.\d*)?|\.\d+)\s*$/.test(raw)) n = Number(raw.trim());
  else throw new ValueError();
  if (!Number.isFinite(n) || n <= 0) throw new ValueError();
  return n;
}

export function parseEnum<T extends string>(raw: unknown, values: readonly T[]): T {
  if (typeof raw === "string") {
    const s = raw.trim();
    const hit = values.find((v) => v === s);
    if (hit !== undefined) return hit;
  }
  throw new ValueError();
}

// ------------------------------------------------------------------ durations

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a duration in Go's `time.ParseDuration` spelling, as CometBFT's
 * config does: `"100ms"`, `"3s"`, `"1m30s"`, `"1.5h"`, or `"0"`. Returns
 * milliseconds. Negative durations are refused (no key takes one).
 */
export function parseDurationMs(text: string): number {
  const s = text.trim();
  if (s === "0" || s === "+0") return 0;
  if (s.startsWith("-")) throw new ValueError("must not be negative");
  const body = s.startsWith("+") ? s.slice(1) : s;
  if (body.length === 0) throw new ValueError();
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < body.length) {
    const at = DURATION_PART.lastIndex;
    const m = DURATION_PART.exec(body);
    if (m === null || m.index !== at) {
      throw new ValueError(/^\d+(\.\d*)?$/.test(body) ? "a unit is required (ns, us, ms, s, m, h)" : undefined);
    }
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return total;
}

/** A duration string in [minMs, maxMs]; `minExclusive` makes 0 itself invalid. */
export function parseDuration(raw: unknown, options: { readonly minMs?: number; readonly positive?: boolean } = {}): number {
  if (typeof raw !== "string") throw new ValueError();
  const ms = parseDurationMs(raw);
  if (options.positive === true && ms <= 0) throw new ValueError("must be more than 0");
  if (options.minMs !== undefined && ms < options.minMs) throw new ValueError(`must be at least ${formatDuration(options.minMs)}`);
  if (ms > MAX_DURATION_MS) throw new ValueError(`must be at most ${formatDuration(MAX_DURATION_MS)}`);
  return ms;
}

export { formatDuration };

// ------------------------------------------------------------------ addresses

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

function scheme(s: string): string | null {
  const at = s.indexOf("://");
  return at === -1 ? null : s.slice(0, at).toLowerCase();
}

function hostPortDetail(err: unknown): string | undefined {
  if (err instanceof NetAddressError) {
    const m = /: (.*) \(expected/.exec(err.message);
    return m?.[1];
  }
  return undefined;
}

/** `[tcp://]HOST:PORT`; `minPort` is 0 where "any free port" makes sense (listen addresses). */
export function parseTcpAddress(raw: unknown, minPort: number): HostPort {
  if (typeof raw !== "string") throw new ValueError();
  const s = raw.trim();
  const sch = scheme(s);
  if (sch !== null && sch !== "tcp") throw new ValueError(`"${sch}://" is not supported here, only tcp://`);
  let hp: HostPort;
  try {
    hp = parseHostPort(s);
  } catch (err) {
    throw new ValueError(hostPortDetail(err));
  }
  if (hp.port < minPort) throw new ValueError(`port must be at least ${minPort}`);
  return hp;
}

/** `""` or `[tcp://]HOST:PORT` with a real port: what NodeInfo will advertise. */
export function parseExternalAddress(raw: unknown): string {
  if (typeof raw !== "string") throw new ValueError();
  const s = raw.trim();
  if (s === "") return "";
  parseTcpAddress(s, 1);
  return s;
}

/**
 * `[HOST]:PORT` as Go's net.Listen takes it (CometBFT's
 * `prometheus_listen_addr`): an empty host means every interface.
 */
export function parseListenHostPort(raw: unknown): HostPort {
  if (typeof raw !== "string") throw new ValueError();
  const s = raw.trim();
  const sch = scheme(s);
  if (sch !== null && sch !== "tcp") throw new ValueError(`"${sch}://" is not supported here`);
  const body = sch === null ? s : s.slice(s.indexOf("://") + 3);
  if (body.startsWith(":")) {
    const port = parsePort(body.slice(1));
    if (port === null) throw new ValueError(`"${body.slice(1)}" is not a valid port`);
    return { host: "", port };
  }
  const hp = splitHostPort(body);
  if (hp === null) throw new ValueError();
  if (!isValidHost(hp.host)) throw new ValueError(`"${hp.host}" is not a valid host`);
  const port = parsePort(hp.port);
  if (port === null) throw new ValueError(`"${hp.port}" is not a valid port`);
  return { host: hp.host, port };
}

/** Where the gRPC gateway listens. */
export type GrpcListenAddress =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

/** `tcp://HOST:PORT`, `HOST:PORT` or `unix:///ABSOLUTE/PATH`. */
export function parseGrpcAddress(raw: unknown): GrpcListenAddress {
  if (typeof raw !== "string") throw new ValueError();
  const s = raw.trim();
  if (scheme(s) === "unix") {
    const path = s.slice("unix://".length);
    if (path.length === 0 || !isAbsolute(path)) throw new ValueError("a unix socket path must be absolute: unix:///path/to/socket");
    return { kind: "unix", path };
  }
  const hp = parseTcpAddress(s, 0);
  return { kind: "tcp", host: hp.host, port: hp.port };
}

/** The address in the form grpc-js's `bindAsync` and clients take: `host:port` or `unix:///path`. */
export function grpcTarget(addr: GrpcListenAddress): string {
  if (addr.kind === "unix") return `unix://${addr.path}`;
  return addr.host.includes(":") ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

// ------------------------------------------------------------------ lists

function splitList(raw: unknown, allowArray: boolean): string[] {
  if (typeof raw === "string") {
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
  if (allowArray && Array.isArray(raw) && raw.every((x) => typeof x === "string")) {
    return (raw).map((s) => s.trim()).filter((s) => s.length > 0);
  }
  throw new ValueError();
}

/** A comma-separated list of `ID@HOST:PORT` (CometBFT's `seeds`, `persistent_peers`). */
export function parsePeerList(raw: unknown): NetAddress[] {
  if (typeof raw !== "string") throw new ValueError();
  let list: NetAddress[];
  try {
    list = parseNetAddressList(raw);
  } catch (err) {
    throw new ValueError(err instanceof NetAddressError ? err.message.replace(/ \(expected ID@HOST:PORT\)$/, "") : undefined);
  }
  const seen = new Set<string>();
  for (const a of list) {
    if (seen.has(a.id)) throw new ValueError(`node ID ${a.id} is listed twice`);
    seen.add(a.id);
  }
  return list;
}

/** A comma-separated list of node IDs, returned in lower case. */
export function parseIdList(raw: unknown): string[] {
  const ids = splitList(raw, false);
  for (const id of ids) if (!isValidNodeId(id)) throw new ValueError(`"${id}" is not 40 hex characters`);
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Reactor names: a TOML array of strings or a comma-separated string; unique. */
export function parseNameList(raw: unknown): string[] {
  const names = splitList(raw, true);
  const seen = new Set<string>();
  for (const n of names) {
    if (!NAME_PATTERN.test(n)) throw new ValueError(`"${n}" is not a name (letters, digits, "_", "." and "-", at most 64)`);
    if (seen.has(n)) throw new ValueError(`"${n}" is listed twice`);
    seen.add(n);
  }
  return names;
}

// ------------------------------------------------------------------ names

function isPrintableAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** What NodeInfo accepts as a moniker: printable ASCII, not only spaces. Empty means "use the host name". */
export function parseMoniker(raw: unknown): string {
  const s = parseString(raw);
  if (s === "") return s;
  if (!isPrintableAscii(s) || s.trim().length === 0) throw new ValueError("printable ASCII, not only spaces");
  return s;
}

/** Most characters in a chain ID (CometBFT's `MaxChainIDLen`). */
export const MAX_CHAIN_ID_LENGTH = 50;

export function parseChainId(raw: unknown): string {
  const s = parseString(raw);
  if (s.length === 0) throw new ValueError("must not be empty");
  if (s.length > MAX_CHAIN_ID_LENGTH) throw new ValueError(`at most ${MAX_CHAIN_ID_LENGTH} characters`);
  if (!isPrintableAscii(s) || /\s/.test(s)) throw new ValueError("printable ASCII without spaces");
  return s;
}

export function parseMetricNamespace(raw: unknown): string {
  const s = parseString(raw);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) throw new ValueError("letters, digits and underscores, not starting with a digit");
  return s;
}

export function parseRelativeOrAbsolutePath(raw: unknown): string {
  const s = parseString(raw).trim();
  if (s.length === 0) throw new ValueError("must not be empty");
  return s;
}

/** An optional file path: "" for none; otherwise not blank and free of control characters. */
export function parseOptionalPath(raw: unknown): string {
  const s = parseString(raw);
  if (s === "") return "";
  if (s.trim() === "") throw new ValueError("is blank (use \"\" for none)");
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f]/.test(s)) throw new ValueError("contains a control character");
  return s.trim();
}
