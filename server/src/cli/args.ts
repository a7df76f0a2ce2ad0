/**
 * Command-line arguments, on node's `util.parseArgs`, with CometBFT's flag
 * spelling for config keys: `--<section>.<key>` (`--p2p.laddr`), top-level
 * keys bare (`--moniker`, `--log_level`). Hyphens and underscores are the
 * same in flag names (`--p2p.external-address` is CometBFT's spelling of
 * `--p2p.external_address`). A boolean config flag alone means true;
 * `--p2p.pex=false` or `--p2p.pex false` turns it off.
 */
import { parseArgs } from "node:util";
import { closest } from "../config/load.js";
import { ALL_KEYS, KEYS_BY_PATH } from "../config/schema.js";

/** Arguments that do not make a valid command line. */
export class CliUsageError extends Error {
  readonly code = "usage";
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}

export interface CommandOptionSpec {
  readonly type: "string" | "boolean";
  readonly description: string;
  /** Shown in help: `--home DIR`. */
  readonly valueName?: string;
}

export interface CommandArgsSpec {
  /** For messages: "switchboard start". */
  readonly command: string;
  readonly options: Readonly<Record<string, CommandOptionSpec>>;
  /** Accept `--<section>.<key>` for every config key. */
  readonly configFlags: boolean;
  /** Names of the positional arguments, in order; all required. */
  readonly positionals: readonly string[];
}

export interface ParsedArgs {
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
  /** Config flag values by key path (`p2p.laddr`). */
  readonly config: Readonly<Record<string, string>>;
  readonly positionals: readonly string[];
}

/** Flags that stand for a config key under another name. */
export const CONFIG_FLAG_ALIASES: Readonly<Record<string, string>> = {
  network: "node.network",
};

function normaliseFlagName(name: string): string {
  return name.replace(/-/g, "_");
}

function isBooleanKey(path: string): boolean {
  return typeof KEYS_BY_PATH.get(path)?.default.value === "boolean";
}

function configPathOf(name: string): string | undefined {
  const alias = CONFIG_FLAG_ALIASES[name];
  if (alias !== undefined) return alias;
  return KEYS_BY_PATH.has(name) ? name : undefined;
}

/**
 * Rewrites `--Name[=v]` to the canonical flag name, and gives boolean config
 * flags their value (`--p2p.pex` → `--p2p.pex=true`), so that parseArgs can
 * treat every config flag as a string.
 */
function normaliseTokens(argv: readonly string[], spec: CommandArgsSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i] as string;
    if (tok === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if (!tok.startsWith("--")) {
      out.push(tok);
      continue;
    }
    const eq = tok.indexOf("=");
    const rawName = eq === -1 ? tok.slice(2) : tok.slice(2, eq);
    const name = normaliseFlagName(rawName);
    const value = eq === -1 ? undefined : tok.slice(eq + 1);
    const path = spec.configFlags ? configPathOf(name) : undefined;
    if (path !== undefined && isBooleanKey(path) && value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && /^(true|false)$/i.test(next)) {
        out.push(`--${name}=${next}`);
        i++;
      } else {
        out.push(`--${name}=true`);
      }
      continue;
    }
    out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  return out;
}

function knownFlagNames(spec: CommandArgsSpec): string[] {
  const names = Object.keys(spec.options);
  if (spec.configFlags) names.push(...ALL_KEYS.map((k) => k.path), ...Object.keys(CONFIG_FLAG_ALIASES));
  return names;
}

function usageError(err: unknown, spec: CommandArgsSpec): CliUsageError {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const flag = /'(--?[^' ]+)/.exec(msg)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const name = (flag ?? "").replace(/^--?/, "");
      const hint = closest(name, knownFlagNames(spec));
      return new CliUsageError(
        `${spec.command}: unknown flag ${flag ?? msg}${hint === null ? "" : ` (did you mean --${hint}?)`}; see ${spec.command} --help`,
      );
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new CliUsageError(
        msg.includes("argument missing") ? `${spec.command}: flag ${flag ?? ""} needs a value` : `${spec.command}: flag ${flag ?? ""} does not take a value`,
      );
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /'([^']*)'/.exec(msg)?.[1] ?? "";
      return new CliUsageError(`${spec.command}: unexpected argument "${arg}"`);
    }
    default:
      return new CliUsageError(`${spec.command}: ${msg}`);
  }
}

/** Parses a command's arguments (after the command name). Throws {@link CliUsageError}. */
export function parseCommandArgs(argv: readonly string[], spec: CommandArgsSpec): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, o] of Object.entries(spec.options)) options[name] = { type: o.type };
  if (spec.configFlags) {
    for (const k of ALL_KEYS) options[k.path] = { type: "string" };
    for (const alias of Object.keys(CONFIG_FLAG_ALIASES)) options[alias] = { type: "string" };
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: normaliseTokens(argv, spec), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError(err, spec);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const config: Record<string, string> = {};
  const own: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const path = spec.configFlags && !(name in spec.options) ? configPathOf(name) : undefined;
    if (path !== undefined) config[path] = String(value);
    else own[name] = value;
  }
  const positionals = parsed.positionals;
  if (positionals.length < spec.positionals.length) {
    throw new CliUsageError(`${spec.command}: missing ${spec.positionals.slice(positionals.length).join(" ")}; usage: ${spec.command} ${spec.positionals.join(" ")}`);
  }
  if (positionals.length > spec.positionals.length) {
    throw new CliUsageError(`${spec.command}: unexpected argument "${positionals[spec.positionals.length] ?? ""}"`);
  }
  return { options: own, config, positionals };
}

/** Help text for a command's options: one column of flags, as wide as the longest, then the descriptions. */
export function formatOptionsHelp(spec: CommandArgsSpec): string {
  const own = Object.entries(spec.options).map(([name, o]) => [`  --${name}${o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""}`, o.description] as const);
  const config = spec.configFlags ? ALL_KEYS.map((k) => [`  --${k.path}`, k.doc] as const) : [];
  const width = Math.max(...[...own, ...config].map(([left]) => left.length)) + 2;
  const lines = own.map(([left, doc]) => `${left.padEnd(width)}${doc}`);
  if (config.length > 0) {
    lines.push("", "Config flags (override config.toml and SWITCHBOARD_* variables; see server/docs/CONFIG.md):");
    lines.push(...config.map(([left, doc]) => `${left.padEnd(width)}${doc}`));
  }
  return lines.join("\n");
}
