import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultConfig, loadConfig } from "../../src/config/load.js";
import { cliDone } from "./run-cli.js";

// The shared handshake vector's key A: an independent implementation derived this ID.
const VECTOR_SEED = "80b176e12969e5d13d9c1ce0975d96debb9cf2cf77b825404b4f0eb61e736356";
const VECTOR_PUB = "3df408ce07b468a759a666587826a51d69a3a8c5a97179d14fe1483f25814d05";
const VECTOR_ID = "0b14a087357f7ba164bed9f4d5a15d249341b273";

function keyFileText(seedHex: string, pubHex: string): string {
  const value = Buffer.concat([Buffer.from(seedHex, "hex"), Buffer.from(pubHex, "hex")]).toString("base64");
  return `${JSON.stringify({ priv_key: { type: "tendermint/PrivKeyEd25519", value } })}\n`;
}

/** CometBFT's node ID: hex of the first 20 bytes of SHA-256 of the ed25519 public key. */
function cometbftNodeId(keyFileJson: string): string {
  const doc = JSON.parse(keyFileJson) as { priv_key: { value: string } };
  const pub = Buffer.from(doc.priv_key.value, "base64").subarray(32);
  return createHash("sha256").update(pub).digest().subarray(0, 20).toString("hex");
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-init-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchboard init", () => {
  it("writes a config that loads back to the defaults, and a node key", async () => {
    const home = join(dir, "node");
    const r = await cliDone(["init", "--home", home]);
    expect(r.code).toBe(0);
    const keyText = await readFile(join(home, "config", "node_key.json"), "utf8");
    expect(r.stdout.split("\n")).toEqual([
      `wrote ${join(home, "config", "config.toml")}`,
      `generated node key ${join(home, "config", "node_key.json")}`,
      `node ID: ${cometbftNodeId(keyText)}`,
    ]);
    expect((await loadConfig({ home, env: {} })).config).toEqual(defaultConfig());
    expect((await stat(join(home, "config", "node_key.json"))).mode & 0o777).toBe(0o600);
  });

  it("--network, --moniker and any config flag go into the new file", async () => {
    const home = join(dir, "node");
    expect((await cliDone(["init", "--home", home, "--network", "my-chain", "--moniker", "alice", "--p2p.max_num_inbound_peers", "7", "--p2p.pex=false"])).code).toBe(0);
    const c = (await loadConfig({ home, env: {} })).config;
    expect([c.node.network, c.moniker, c.p2p.maxNumInboundPeers, c.p2p.pex]).toEqual(["my-chain", "alice", 7, false]);
    expect(await readFile(join(home, "config", "config.toml"), "utf8")).toContain("max_num_inbound_peers = 7\n");
  });

  it("never overwrites a key, and leaves an existing config alone", async () => {
    const home = join(dir, "node");
    await mkdir(join(home, "config"), { recursive: true });
    const key = keyFileText(VECTOR_SEED, VECTOR_PUB);
    const config = 'moniker = "mine"\n';
    await writeFile(join(home, "config", "node_key.json"), key);
    await writeFile(join(home, "config", "config.toml"), config);
    const r = await cliDone(["init", "--home", home, "--network", "other"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`config file ${join(home, "config", "config.toml")} already exists; left unchanged`);
    expect(r.stdout).toContain("already exists; kept");
    expect(r.stdout).toContain(`node ID: ${VECTOR_ID}`);
    expect(await readFile(join(home, "config", "node_key.json"), "utf8")).toBe(key);
    expect(await readFile(join(home, "config", "config.toml"), "utf8")).toBe(config);
    // Twice in a row: same identity.
    const again = await cliDone(["init", "--home", home]);
    expect(again.stdout).toContain(`node ID: ${VECTOR_ID}`);
  });

  it("writes nothing for an invalid value", async () => {
    const home = join(dir, "node");
    const r = await cliDone(["init", "--home", home, "--network", "has space"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('flag --node.network: expected a chain ID (1 to 50 printable characters, no spaces), got "has space"');
    await expect(stat(home)).rejects.toThrow();
  });

  it("refuses to go on over a corrupt key file", async () => {
    const home = join(dir, "node");
    await mkdir(join(home, "config"), { recursive: true });
    await writeFile(join(home, "config", "node_key.json"), "{not json");
    const r = await cliDone(["init", "--home", home]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: switchboard init: node key file ${join(home, "config", "node_key.json")}: not valid JSON`);
    expect(await readFile(join(home, "config", "node_key.json"), "utf8")).toBe("{not json");
  });
});

describe("switchboard show-node-id", () => {
  it("prints the ID CometBFT derives from the key file's public key", async () => {
    const home = join(dir, "node");
    await cliDone(["init", "--home", home]);
    const r = await cliDone(["show-node-id", "--home", home]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(cometbftNodeId(await readFile(join(home, "config", "node_key.json"), "utf8")));
    expect(r.stdout).toMatch(/^[0-9a-f]{40}$/);
  });

  it("matches the ID of an independently computed vector", async () => {
    const home = join(dir, "node");
    await mkdir(join(home, "config"), { recursive: true });
    await writeFile(join(home, "config", "node_key.json"), keyFileText(VECTOR_SEED, VECTOR_PUB));
    expect(await cliDone(["show-node-id", "--home", home])).toEqual({ code: 0, stdout: VECTOR_ID, stderr: "" });
    // $SWITCHBOARD_HOME works the same.
    expect((await cliDone(["show-node-id"], { SWITCHBOARD_HOME: home })).stdout).toBe(VECTOR_ID);
  });

  it("errors a person understands: missing home, missing key, corrupt key, mismatched halves", async () => {
    const missing = await cliDone(["show-node-id", "--home", join(dir, "nope")]);
    expect(missing).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: switchboard show-node-id: home directory ${join(dir, "nope")} does not exist (create it with: switchboard init --home ${join(dir, "nope")})`,
    });
    const home = join(dir, "node");
    await mkdir(join(home, "config"), { recursive: true });
    const keyPath = join(home, "config", "node_key.json");
    const noKey = await cliDone(["show-node-id", "--home", home]);
    expect(noKey.stderr).toBe(`error: switchboard show-node-id: node key file ${keyPath}: does not exist`);
    await writeFile(keyPath, '{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"AAAA"}}');
    expect((await cliDone(["show-node-id", "--home", home])).stderr).toBe(`error: switchboard show-node-id: node key file ${keyPath}: priv_key.value holds 3 bytes, expected 64`);
    await writeFile(keyPath, keyFileText(VECTOR_SEED, "00".repeat(32)));
    const mismatched = await cliDone(["show-node-id", "--home", home]);
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toBe(`error: switchboard show-node-id: node key file ${keyPath}: the public half does not match the private key`);
  });
});

describe("switchboard version", () => {
  it("prints the package and protocol versions", async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    const r = await cliDone(["version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe(`switchboard ${pkg.version}`);
    expect(r.stdout).toContain("p2p 8, block 11");
  });
});
