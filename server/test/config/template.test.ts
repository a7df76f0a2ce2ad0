import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { renderConfigDoc } from "../../src/config/docs.js";
import { defaultConfig, parseConfigToml, resolveConfig } from "../../src/config/load.js";
import { ALL_KEYS, KEYS_BY_PATH, envVarName, flagName } from "../../src/config/schema.js";
import { renderConfigToml, tomlLiteral, tomlValueFromText } from "../../src/config/template.js";

const CONFIG_MD = join(import.meta.dirname, "../../docs/CONFIG.md");

function load(text: string): ReturnType<typeof resolveConfig>["config"] {
  return resolveConfig({ file: { path: "config.toml", doc: parseConfigToml(text, "config.toml") } }).config;
}

describe("the init template", () => {
  it("loads back to the defaults", () => {
    expect(load(renderConfigToml())).toEqual(defaultConfig());
  });

  it("holds every key, each under its section, with a comment above", () => {
    const text = renderConfigToml();
    const doc = parseConfigToml(text, "t");
    for (const k of ALL_KEYS) {
      const holder = k.section === "" ? doc : (doc[k.section] as Record<string, unknown>);
      expect(holder, k.path).toHaveProperty(k.key);
      const at = text.indexOf(`\n${k.key} = `, k.section === "" ? 0 : text.indexOf(`[${k.section}]`));
      expect(text.slice(0, at).trimEnd().split("\n").pop()?.startsWith("# Default:"), k.path).toBe(true);
    }
  });

  it("writes overrides with their TOML types, and they load back", () => {
    const values = {
      "node.network": "my-chain",
      moniker: 'quote " and \\ backslash',
      "p2p.max_num_inbound_peers": tomlValueFromText(KEYS_BY_PATH.get("p2p.max_num_inbound_peers")!, "7"),
      "p2p.pex": tomlValueFromText(KEYS_BY_PATH.get("p2p.pex")!, "false"),
      "grpc.reactors": tomlValueFromText(KEYS_BY_PATH.get("grpc.reactors")!, "mempool, blocksync"),
    };
    expect(values["p2p.max_num_inbound_peers"]).toBe(7);
    expect(values["p2p.pex"]).toBe(false);
    const c = load(renderConfigToml(values));
    expect(c.node.network).toBe("my-chain");
    expect(c.moniker).toBe('quote " and \\ backslash');
    expect(c.p2p.maxNumInboundPeers).toBe(7);
    expect(c.p2p.pex).toBe(false);
    expect(c.grpc.reactors).toEqual(["mempool", "blocksync"]);
  });

  it("quotes strings the way TOML reads them", () => {
    for (const s of ["plain", 'a"b', "back\\slash", "tab\there", "new\nline", "ünïcödé"]) {
      expect(parseConfigToml(`k = ${tomlLiteral(s)}`, "t")["k"]).toBe(s);
    }
    expect(parseConfigToml(`k = ${tomlLiteral(["a", "b"])}`, "t")["k"]).toEqual(["a", "b"]);
  });
});

describe("CONFIG.md", () => {
  it("is the rendering of the key table (regenerate with: npx vitest run server/test/config --update)", async () => {
    await expect(renderConfigDoc()).toMatchFileSnapshot(CONFIG_MD);
  });

  it("documents every key with its default, environment variable, flag and reason", async () => {
    const text = await readFile(CONFIG_MD, "utf8");
    for (const k of ALL_KEYS) {
      expect(text, k.path).toContain(`\`${envVarName(k)}\``);
      expect(text, k.path).toContain(`\`${flagName(k)}\``);
      expect(text, k.path).toContain(`**\`${k.path}\`**`);
      expect(text, k.path).toContain(k.default.reason);
    }
    expect(text).toContain("tcp://0.0.0.0:26656");
  });
});
