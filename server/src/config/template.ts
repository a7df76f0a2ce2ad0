/**
 * The `config.toml` that `switchboard init` writes: every key, with its
 * description and default in comments, in the manner of CometBFT's template.
 * Rendered from the key table, so it can never miss a key.
 */
import { ALL_KEYS, type KeySpec, SECTIONS, SECTION_TITLES, type TomlValue } from "./schema.js";

/** A TOML literal for a value. Strings use JSON escapes, which TOML basic strings share. */
export function tomlLiteral(value: TomlValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
}

/**
 * Converts a flag's text into the TOML type of the key's default, so that
 * `--p2p.max_num_inbound_peers=50` is written as `50`, not `"50"`. Call it on
 * text that already parsed.
 */
export function tomlValueFromText(spec: KeySpec<unknown>, text: string): TomlValue {
  const def = spec.default.value;
  if (typeof def === "number") return Number(text.trim());
  if (typeof def === "boolean") return text.trim().toLowerCase() === "true";
  if (Array.isArray(def)) {
    return text
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
  return text;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

function banner(title: string): string {
  const width = 71;
  const inner = width - 6;
  const pad = Math.max(0, inner - title.length);
  const left = Math.floor(pad / 2);
  return [
    "#".repeat(width),
    `###${" ".repeat(left)}${title}${" ".repeat(pad - left)}###`,
    "#".repeat(width),
  ].join("\n");
}

function defaultNote(spec: KeySpec<unknown>): string {
  const unit = spec.default.unit === "" || spec.default.unit === "duration" ? "" : ` ${spec.default.unit}`;
  return `Default: ${tomlLiteral(spec.default.value)}${unit}.`;
}

const HEADER = `# This is a TOML config file for Switchboard.
# For more information, see https://github.com/toml-lang/toml
#
# Keys and defaults follow CometBFT v0.38's config.toml where CometBFT has
# the setting. Every key can be overridden by an environment variable
# SWITCHBOARD_<SECTION>_<KEY> (e.g. SWITCHBOARD_P2P_LADDR) and by a flag of
# \`switchboard start\` named --<section>.<key> (e.g. --p2p.laddr), in that
# order of precedence. Durations are written as "100ms", "3s", "1m30s".
# Relative paths are relative to the home directory.
# server/docs/CONFIG.md describes every key.
`;

/**
 * Renders the config file with every key at its default, except those in
 * `values` (by key path, e.g. `"node.network"`).
 */
export function renderConfigToml(values: Readonly<Record<string, TomlValue>> = {}): string {
  const out: string[] = [HEADER];
  for (const section of SECTIONS) {
    out.push(banner(SECTION_TITLES[section]));
    if (section !== "") out.push(`[${section}]`);
    out.push("");
    for (const spec of ALL_KEYS.filter((k) => k.section === section)) {
      for (const line of wrap(spec.doc, 76)) out.push(`# ${line}`);
      out.push(`# ${defaultNote(spec)}`);
      out.push(`${spec.key} = ${tomlLiteral(values[spec.path] ?? spec.default.value)}`);
      out.push("");
    }
  }
  return `${out.join("\n").trimEnd()}\n`;
}
