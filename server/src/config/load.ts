/**
 * Loading the configuration. Precedence, lowest first:
 *
 *     defaults  <  HOME/config/config.toml  <  SWITCHBOARD_<SECTION>_<KEY>  <  --<section>.<key>
 *
 * Every value, whatever its origin, goes through the same parser. Problems
 * are collected, not stopped at the first, and reported together in one
 * {@link ConfigError} whose lines each name where the value came from (the
 * file, the variable or the flag), the key and the expected form:
 *
 *     /home/me/.switchboard/config/config.toml: p2p.max_num_inbound_peers: expected a non-negative integer, got "x"
 *
 * Unknown keys, sections and `SWITCHBOARD_*` variables are errors too: a
 * misspelt key would otherwise be silently ignored.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { TomlError, parse as parseToml } from "smol-toml";
import { CRYPTO_BACKEND_ENV } from "../wire/crypto/backend.js";
import { CLI_ENV_VARS, CONFIG_FILE, DEFAULT_HOME_DIR_NAME, ENV_PREFIX, HOME_ENV_VAR } from "./defaults.js";
import {
  ALL_KEYS,
  KEYS_BY_PATH,
  type KeySpec,
  SECTIONS,
  type SwitchboardConfig,
  UNSUPPORTED_COMETBFT_KEYS,
  buildConfig,
  envVarName,
} from "./schema.js";
import { type RawOrigin, ValueError, describeRaw } from "./values.js";

/** One problem in the configuration. */
export interface ConfigIssue {
  /** The file path, `environment variable NAME` or `flag --name`. */
  readonly where: string;
  /** The key (`p2p.laddr`), when the problem is about one. */
  readonly key: string | null;
  readonly message: string;
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return issue.key === null ? `${issue.where}: ${issue.message}` : `${issue.where}: ${issue.key}: ${issue.message}`;
}

/** The configuration cannot be used; `issues` lists every problem found. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issues.map(formatConfigIssue).join("\n"));
    this.name = "ConfigError";
  }
}

/** Where a key's final value came from. */
export type ValueOrigin =
  | { readonly kind: "default" }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "flag"; readonly name: string };

/**
 * `SWITCHBOARD_*` variables that are not config keys: the home, the CLI's
 * credentials and the crypto backend switch. Add here rather than have them
 * refused (a node started in a shell where the CLI's token is set must start).
 */
export const RESERVED_ENV_VARS: ReadonlySet<string> = new Set([HOME_ENV_VAR, CRYPTO_BACKEND_ENV, ...Object.values(CLI_ENV_VARS)]);

export interface ConfigLayers {
  /** The parsed config file and its path (for messages). */
  readonly file?: { readonly path: string; readonly doc: Readonly<Record<string, unknown>> } | undefined;
  /** Usually `process.env`; only `SWITCHBOARD_*` entries are read. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Flag values by key path (`p2p.laddr`, `moniker`); strings as typed. */
  readonly flags?: Readonly<Record<string, string>> | undefined;
}

export interface ResolvedConfig {
  readonly config: SwitchboardConfig;
  /** Where each key's value came from, by key path. */
  readonly origins: ReadonlyMap<string, ValueOrigin>;
}

interface RawEntry {
  readonly value: unknown;
  readonly origin: ValueOrigin;
}

function whereOf(origin: ValueOrigin): string {
  switch (origin.kind) {
    case "default":
      return "default";
    case "file":
      return origin.path;
    case "env":
      return `environment variable ${origin.name}`;
    case "flag":
      return `flag ${origin.name}`;
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] as number;
      prev[j] = Math.min(up + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] as number;
}

/** The closest name within an edit distance of 2, if any. */
export function closest(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const c of candidates) {
    const dist = editDistance(name.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}

function unknownKeyMessage(path: string, candidates: Iterable<string>): string {
  const unsupported = UNSUPPORTED_COMETBFT_KEYS.get(path);
  if (unsupported !== undefined) return `a CometBFT key that Switchboard does not support (${unsupported}); remove it`;
  const hint = closest(path, candidates);
  return hint === null ? "unknown key" : `unknown key (did you mean "${hint}"?)`;
}

function readFileLayer(file: NonNullable<ConfigLayers["file"]>, raw: Map<string, RawEntry>, issues: ConfigIssue[]): void {
  const origin: ValueOrigin = { kind: "file", path: file.path };
  const add = (path: string, value: unknown): void => {
    if (KEYS_BY_PATH.has(path)) raw.set(path, { value, origin });
    else issues.push({ where: file.path, key: path, message: unknownKeyMessage(path, KEYS_BY_PATH.keys()) });
  };
  for (const [name, value] of Object.entries(file.doc)) {
    const isSection = SECTIONS.includes(name as (typeof SECTIONS)[number]) && name !== "";
    if (isSection) {
      if (!isTable(value)) {
        issues.push({ where: file.path, key: name, message: `expected a [${name}] table, got ${describeRaw(value)}` });
        continue;
      }
      for (const [k, v] of Object.entries(value)) add(`${name}.${k}`, v);
    } else if (isTable(value)) {
      const hint = closest(name, SECTIONS.filter((s) => s !== ""));
      issues.push({ where: file.path, key: null, message: `unknown section [${name}]${hint === null ? "" : ` (did you mean [${hint}]?)`}` });
    } else {
      add(name, value);
    }
  }
}

function readEnvLayer(env: NonNullable<ConfigLayers["env"]>, raw: Map<string, RawEntry>, issues: ConfigIssue[]): void {
  const byName = new Map(ALL_KEYS.map((k) => [envVarName(k), k]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV_VARS.has(name)) continue;
    // As viper does by default: an empty variable counts as unset.
    if (value === undefined || value === "") continue;
    const spec = byName.get(name);
    if (spec === undefined) {
      const hint = closest(name, byName.keys());
      issues.push({ where: `environment variable ${name}`, key: null, message: `not a config key${hint === null ? "" : ` (did you mean ${hint}?)`}` });
      continue;
    }
    raw.set(spec.path, { value, origin: { kind: "env", name } });
  }
}

function readFlagLayer(flags: NonNullable<ConfigLayers["flags"]>, raw: Map<string, RawEntry>, issues: ConfigIssue[]): void {
  for (const [path, value] of Object.entries(flags)) {
    if (!KEYS_BY_PATH.has(path)) {
      issues.push({ where: `flag --${path}`, key: null, message: unknownKeyMessage(path, KEYS_BY_PATH.keys()) });
      continue;
    }
    raw.set(path, { value, origin: { kind: "flag", name: `--${path}` } });
  }
}

/** The message for a value that does not parse. */
function valueMessage(spec: KeySpec<unknown>, value: unknown, err: ValueError): string {
  return `expected ${spec.form}, got ${describeRaw(value)}${err.detail === undefined ? "" : ` (${err.detail})`}`;
}

/**
 * Merges the layers over the defaults and validates every value. Throws
 * {@link ConfigError} listing every problem.
 */
export function resolveConfig(layers: ConfigLayers = {}): ResolvedConfig {
  const issues: ConfigIssue[] = [];
  const raw = new Map<string, RawEntry>(ALL_KEYS.map((k) => [k.path, { value: k.default.value, origin: { kind: "default" } }]));
  if (layers.file !== undefined) readFileLayer(layers.file, raw, issues);
  if (layers.env !== undefined) readEnvLayer(layers.env, raw, issues);
  if (layers.flags !== undefined) readFlagLayer(layers.flags, raw, issues);

  const parsed = new Map<string, unknown>();
  for (const spec of ALL_KEYS) {
    const entry = raw.get(spec.path) as RawEntry;
    const origin: RawOrigin = entry.origin.kind === "env" || entry.origin.kind === "flag" ? "text" : "file";
    try {
      parsed.set(spec.path, spec.parse(entry.value, origin));
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      const where = whereOf(entry.origin);
      // The key is in the variable's or flag's name already.
      const key = entry.origin.kind === "file" || entry.origin.kind === "default" ? spec.path : null;
      issues.push({ where, key, message: valueMessage(spec, entry.value, err) });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const config = buildConfig(<T>(spec: KeySpec<T>) => parsed.get(spec.path) as T);
  return { config, origins: new Map([...raw].map(([k, v]) => [k, v.origin])) };
}

/** The configuration with every key at its default. */
export function defaultConfig(): SwitchboardConfig {
  return resolveConfig().config;
}

/** Parses TOML text; `path` names the file in errors. */
export function parseConfigToml(text: string, path: string): Record<string, unknown> {
  try {
    return parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML";
      throw new ConfigError([{ where: `${path}:${err.line}:${err.column}`, key: null, message: `invalid TOML: ${first}` }]);
    }
    throw err;
  }
}

/** `--home`, else `$SWITCHBOARD_HOME`, else `~/.switchboard`; `explicit` is false for the last two. */
export function resolveHome(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): { home: string; explicit: boolean } {
  if (flag !== undefined && flag !== "") return { home: resolve(flag), explicit: true };
  const fromEnv = env[HOME_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== "") return { home: resolve(fromEnv), explicit: false };
  return { home: join(homedir(), DEFAULT_HOME_DIR_NAME), explicit: false };
}

export function configFilePath(home: string): string {
  return join(home, CONFIG_FILE);
}

/** The home directory has no config file. */
export class MissingConfigError extends Error {
  readonly code = "config_missing";
  constructor(
    readonly home: string,
    readonly path: string,
  ) {
    super(`no config file at ${path}: ${home} is not an initialised home (run: switchboard init --home ${home})`);
    this.name = "MissingConfigError";
  }
}

export interface LoadConfigOptions {
  /** The home directory (absolute or relative to the working directory). */
  readonly home: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly flags?: Readonly<Record<string, string>>;
  /** Fail with {@link MissingConfigError} when there is no config file; otherwise use the defaults. @default true */
  readonly requireFile?: boolean;
}

export interface LoadedConfig extends ResolvedConfig {
  /** Absolute home directory. */
  readonly home: string;
  readonly configFile: string;
  readonly fileExists: boolean;
}

/** Reads `HOME/config/config.toml` and resolves it with the environment and flags. */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const home = resolve(options.home);
  const path = configFilePath(home);
  let text: string | null = null;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTDIR") {
      throw new ConfigError([{ where: path, key: null, message: `cannot be read (${code ?? String(err)})` }]);
    }
    if (options.requireFile ?? true) throw new MissingConfigError(home, path);
  }
  const file = text === null ? undefined : { path, doc: parseConfigToml(text, path) };
  const resolved = resolveConfig({ file, env: options.env, flags: options.flags });
  return { ...resolved, home, configFile: path, fileExists: text !== null };
}
