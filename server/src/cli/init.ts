/**
 * `switchboard init`: creates `HOME/config/config.toml` (every key, with
 * comments) and `HOME/config/node_key.json`. Never overwrites: an existing
 * config is left alone, an existing key is kept (and checked).
 */
import { access, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CONFIG_FILE, NODE_KEY_FILE } from "../config/defaults.js";
import { resolveConfig } from "../config/load.js";
import { KEYS_BY_PATH, MONIKER, type TomlValue, defaultMoniker } from "../config/schema.js";
import { renderConfigToml, tomlValueFromText } from "../config/template.js";
import { generateNodeKey, loadNodeKey, saveNodeKey } from "../p2p/node-key.js";
import { writeFileAtomic } from "../util/atomic-file.js";

export interface InitResult {
  readonly home: string;
  readonly configFile: string;
  readonly keyFile: string;
  readonly nodeId: string;
  readonly wroteConfig: boolean;
  readonly generatedKey: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Initialises `home`. `values` are config flag values by key path (from
 * `--network`, `--moniker`, `--p2p.laddr`...): validated, then written into
 * a new config file.
 */
export async function initHome(home: string, values: Readonly<Record<string, string>>, notice: (line: string) => void): Promise<InitResult> {
  // Validate first: nothing is written for a bad value.
  resolveConfig({ flags: values });
  const configFile = join(home, CONFIG_FILE);
  const keyFile = join(home, NODE_KEY_FILE);
  await mkdir(dirname(configFile), { recursive: true, mode: 0o700 });

  let wroteConfig = false;
  if (await exists(configFile)) {
    notice(`config file ${configFile} already exists; left unchanged`);
  } else {
    const toml: Record<string, TomlValue> = { [MONIKER.path]: defaultMoniker() };
    for (const [path, text] of Object.entries(values)) {
      const spec = KEYS_BY_PATH.get(path);
      if (spec !== undefined) toml[path] = tomlValueFromText(spec, text);
    }
    await writeFileAtomic(configFile, renderConfigToml(toml));
    wroteConfig = true;
    notice(`wrote ${configFile}`);
  }

  let generatedKey = false;
  let nodeId: string;
  if (await exists(keyFile)) {
    nodeId = (await loadNodeKey(keyFile)).id;
    notice(`node key ${keyFile} already exists; kept`);
  } else {
    const key = generateNodeKey();
    await saveNodeKey(keyFile, key);
    nodeId = key.id;
    generatedKey = true;
    notice(`generated node key ${keyFile}`);
  }
  return { home, configFile, keyFile, nodeId, wroteConfig, generatedKey };
}
