import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_HOME_DIR_NAME } from "../../src/config/defaults.js";
import {
  ConfigError,
  MissingConfigError,
  defaultConfig,
  loadConfig,
  parseConfigToml,
  resolveConfig,
  resolveHome,
} from "../../src/config/load.js";
import { ALL_KEYS, buildConfig, defaultMoniker, envVarName, type KeySpec } from "../../src/config/schema.js";

let home: string;

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "sb-config-"));
  await mkdir(join(home, "config"));
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

async function writeConfig(text: string): Promise<string> {
  const path = join(home, "config", "config.toml");
  await writeFile(path, text);
  return path;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split("\n");
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  it("every default parses, and matches the documented values", () => {
    const c = defaultConfig();
    expect(c.moniker).toBe(defaultMoniker());
    expect(c.logLevel).toBe("info");
    expect(c.logFormat).toBe("plain");
    expect(c.node).toEqual({ network: "switchboard-local", p2pVersion: 8, blockVersion: 11, appVersion: 0 });
    expect(c.p2p).toMatchObject({
      laddr: { host: "127.0.0.1", port: 26656 },
      externalAddress: "",
      seeds: [],
      persistentPeers: [],
      maxNumInboundPeers: 40,
      maxNumOutboundPeers: 10,
      sendRateBytesPerSecond: 5_120_000,
      recvRateBytesPerSecond: 5_120_000,
      flushThrottleTimeoutMs: 100,
      maxPacketMsgPayloadBytes: 1024,
      allowDuplicateIp: false,
      handshakeTimeoutMs: 3_000,
      dialTimeoutMs: 1_000,
      pex: true,
      seedMode: false,
      addrBookFile: "config/addrbook.json",
      addrBookStrict: true,
      maxConcurrentHandshakes: 64,
      acceptRatePerIpPerSecond: 5,
      acceptBurstPerIp: 20,
    });
    expect(c.grpc).toEqual({
      laddr: "tcp://127.0.0.1:26670",
      listenAddress: { kind: "tcp", host: "127.0.0.1", port: 26670 },
      reactors: [],
      registrationTimeoutMs: 60_000,
      eventQueueMaxMessages: 10_000,
      eventQueueMaxBytes: 67_108_864,
      defaultOverflowPolicy: "block",
      resumeWindowMs: 30_000,
      maxMessageBytes: 115_343_360,
      tlsCertFile: "",
      tlsKeyFile: "",
      tlsClientCaFile: "",
      credentialsFile: "",
    });
    expect(c.instrumentation).toEqual({ prometheus: false, prometheusListenAddr: { host: "", port: 26660 }, namespace: "cometbft" });
  });

  it("the typed config reads every key of the table", () => {
    const read = new Set<string>();
    buildConfig(<T>(spec: KeySpec<T>) => {
      read.add(spec.path);
      return spec.parse(spec.default.value, "file");
    });
    expect([...read].sort()).toEqual(ALL_KEYS.map((k) => k.path).sort());
  });

  it("every key has a doc, a form, a unit and a reason", () => {
    for (const k of ALL_KEYS) {
      expect(k.doc.length, k.path).toBeGreaterThan(10);
      expect(k.form.length, k.path).toBeGreaterThan(3);
      expect(k.default.reason.length, k.path).toBeGreaterThan(10);
      expect(typeof k.default.unit, k.path).toBe("string");
    }
  });
});

describe("precedence: defaults < file < environment < flags", () => {
  it("each layer overrides the one below, key by key", async () => {
    const path = await writeConfig(`
moniker = "from-file"
[p2p]
max_num_inbound_peers = 1
send_rate = 2
recv_rate = 3
`);
    const loaded = await loadConfig({
      home,
      env: { SWITCHBOARD_P2P_MAX_NUM_INBOUND_PEERS: "11", SWITCHBOARD_P2P_SEND_RATE: "12", PATH: "/bin", SWITCHBOARD_HOME: "/elsewhere" },
      flags: { "p2p.max_num_inbound_peers": "21" },
    });
    expect(loaded.fileExists).toBe(true);
    expect(loaded.configFile).toBe(path);
    expect(loaded.config.moniker).toBe("from-file");
    expect(loaded.config.p2p.maxNumInboundPeers).toBe(21);
    expect(loaded.config.p2p.sendRateBytesPerSecond).toBe(12);
    expect(loaded.config.p2p.recvRateBytesPerSecond).toBe(3);
    expect(loaded.config.p2p.maxNumOutboundPeers).toBe(10);
    expect(loaded.origins.get("p2p.max_num_inbound_peers")).toEqual({ kind: "flag", name: "--p2p.max_num_inbound_peers" });
    expect(loaded.origins.get("p2p.send_rate")).toEqual({ kind: "env", name: "SWITCHBOARD_P2P_SEND_RATE" });
    expect(loaded.origins.get("p2p.recv_rate")).toEqual({ kind: "file", path });
    expect(loaded.origins.get("p2p.max_num_outbound_peers")).toEqual({ kind: "default" });
  });

  it("top-level keys use SWITCHBOARD_<KEY>; an empty variable counts as unset", () => {
    const c = resolveConfig({ env: { SWITCHBOARD_MONIKER: "env-name", SWITCHBOARD_LOG_LEVEL: "" } }).config;
    expect(c.moniker).toBe("env-name");
    expect(c.logLevel).toBe("info");
  });

  it("a missing file is an error unless asked otherwise", async () => {
    await expect(loadConfig({ home, env: {} })).rejects.toThrow(MissingConfigError);
    await expect(loadConfig({ home, env: {} })).rejects.toThrow(/switchboard init --home/);
    const loaded = await loadConfig({ home, env: {}, requireFile: false });
    expect(loaded.fileExists).toBe(false);
    expect(loaded.config).toEqual(defaultConfig());
  });

  it("resolves the home: --home, else $SWITCHBOARD_HOME, else ~/.switchboard", () => {
    expect(resolveHome("/a", { SWITCHBOARD_HOME: "/b" })).toEqual({ home: "/a", explicit: true });
    expect(resolveHome(undefined, { SWITCHBOARD_HOME: "/b" })).toEqual({ home: "/b", explicit: false });
    const fallback = resolveHome(undefined, {});
    expect(fallback.explicit).toBe(false);
    expect(fallback.home.endsWith(DEFAULT_HOME_DIR_NAME)).toBe(true);
  });
});

/** A value of the wrong TOML type for each key: what a file might hold by mistake. */
function wrongTomlValue(spec: KeySpec<unknown>): string {
  const d = spec.default.value;
  if (typeof d === "number") return '"x"';
  if (typeof d === "boolean") return '"x"';
  if (Array.isArray(d)) return "5";
  return "12345";
}

/** Text that no key accepts in its form, for the environment and flags. */
const BAD_TEXT: Readonly<Record<string, string>> = {
  moniker: "tab\there",
  log_level: "loud",
  log_format: "xml",
  "node.network": "has space",
  "node.p2p_version": "eight",
  "node.block_version": "-1",
  "node.app_version": "1.5",
  "p2p.laddr": "nowhere",
  "p2p.external_address": "1.2.3.4",
  "p2p.seeds": "1.2.3.4:26656",
  "p2p.persistent_peers": "abc@1.2.3.4:26656",
  "p2p.max_num_inbound_peers": "x",
  "p2p.max_num_outbound_peers": "-3",
  "p2p.unconditional_peer_ids": "abc",
  "p2p.private_peer_ids": "xyz",
  "p2p.send_rate": "fast",
  "p2p.recv_rate": "5e6",
  "p2p.flush_throttle_timeout": "100",
  "p2p.send_queue_max_bytes_per_channel": "0",
  "p2p.send_queue_max_bytes": "16MiB",
  "p2p.max_packet_msg_payload_size": "0",
  "p2p.allow_duplicate_ip": "yes",
  "p2p.handshake_timeout": "0s",
  "p2p.dial_timeout": "-1s",
  "p2p.pex": "on",
  "p2p.seed_mode": "seed",
  "p2p.addr_book_file": "   ",
  "p2p.addr_book_strict": "1",
  "p2p.max_concurrent_handshakes": "0",
  "p2p.accept_rate_per_ip": "0",
  "p2p.accept_burst_per_ip": "many",
  "grpc.laddr": "unix://relative",
  "grpc.reactors": "a b",
  "grpc.registration_timeout": "soon",
  "grpc.event_queue_max_messages": "0",
  "grpc.event_queue_max_bytes": "big",
  "grpc.default_overflow_policy": "drop",
  "grpc.resume_window": "30",
  "grpc.max_message_bytes": "10",
  "grpc.tls_cert_file": "   ",
  "grpc.tls_key_file": "key\u0000file",
  "grpc.tls_client_ca_file": "   ",
  "grpc.credentials_file": "line\nbreak",
  "instrumentation.prometheus": "please",
  "instrumentation.prometheus_listen_addr": "26660",
  "instrumentation.namespace": "1bad",
};

describe("validation errors name where, the key and the expected form", () => {
  it("has a bad text for every key", () => {
    expect(Object.keys(BAD_TEXT).sort()).toEqual(ALL_KEYS.map((k) => k.path).sort());
  });

  it.each(ALL_KEYS.map((k) => [k.path, k] as const))("file: %s of the wrong type", async (_path, spec) => {
    const toml = spec.section === "" ? `${spec.key} = ${wrongTomlValue(spec)}\n` : `[${spec.section}]\n${spec.key} = ${wrongTomlValue(spec)}\n`;
    const path = await writeConfig(toml);
    const err = await loadConfig({ home, env: {} }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).toContain(`${path}: ${spec.path}: expected ${spec.form}, got ${wrongTomlValue(spec)}`);
    expect((err as ConfigError).issues).toHaveLength(1);
  });

  it.each(ALL_KEYS.map((k) => [k.path, k] as const))("environment and flag: %s", (_path, spec) => {
    const text = BAD_TEXT[spec.path] as string;
    const env = envVarName(spec);
    const fromEnv = issuesOf(() => resolveConfig({ env: { [env]: text } }));
    expect(fromEnv).toHaveLength(1);
    expect(fromEnv[0]).toContain(`environment variable ${env}: expected ${spec.form}, got ${JSON.stringify(text)}`);
    const fromFlag = issuesOf(() => resolveConfig({ flags: { [spec.path]: text } }));
    expect(fromFlag).toHaveLength(1);
    expect(fromFlag[0]).toContain(`flag --${spec.path}: expected ${spec.form}, got ${JSON.stringify(text)}`);
  });

  it("the example from the brief, exactly", async () => {
    const path = await writeConfig('[p2p]\nmax_num_inbound_peers = "x"\n');
    await expect(loadConfig({ home, env: {} })).rejects.toThrow(`${path}: p2p.max_num_inbound_peers: expected a non-negative integer, got "x"`);
  });

  it("reports every problem at once, with details where the form is not enough", () => {
    const lines = issuesOf(() =>
      resolveConfig({
        file: { path: "/h/config.toml", doc: parseConfigToml('[p2p]\nhandshake_timeout = "3"\nseeds = "zz@1.2.3.4:1"\n', "/h/config.toml") },
        flags: { "p2p.laddr": "tcp://1.2.3.4:70000" },
      }),
    );
    expect(lines).toHaveLength(3);
    expect(lines).toContain('/h/config.toml: p2p.handshake_timeout: expected a duration above 0 such as "3s", got "3" (a unit is required (ns, us, ms, s, m, h))');
    expect(lines.join("\n")).toMatch(/p2p\.seeds: expected a comma-separated list of ID@HOST:PORT, got "zz@1\.2\.3\.4:1" \(.*node ID "zz" is not 40 hex characters\)/);
    expect(lines.join("\n")).toMatch(/flag --p2p\.laddr: .*"70000" is not a valid port/);
  });

  it("values in range but of the right type pass: durations, addresses, lists", () => {
    const c = resolveConfig({
      file: {
        path: "f",
        doc: parseConfigToml(
          `[p2p]
flush_throttle_timeout = "10ms"
handshake_timeout = "1m30s"
external_address = "159.89.10.97:26656"
persistent_peers = "${"ab".repeat(20)}@10.0.0.1:26656"
[grpc]
laddr = "unix:///run/switchboard/grpc.sock"
reactors = ["mempool", "blocksync"]
resume_window = "0"
`,
          "f",
        ),
      },
    }).config;
    expect(c.p2p.flushThrottleTimeoutMs).toBe(10);
    expect(c.p2p.handshakeTimeoutMs).toBe(90_000);
    expect(c.p2p.externalAddress).toBe("159.89.10.97:26656");
    expect(c.p2p.persistentPeers).toEqual([{ id: "ab".repeat(20), host: "10.0.0.1", port: 26656 }]);
    expect(c.grpc.listenAddress).toEqual({ kind: "unix", path: "/run/switchboard/grpc.sock" });
    expect(c.grpc.laddr).toBe("unix:///run/switchboard/grpc.sock");
    expect(c.grpc.reactors).toEqual(["mempool", "blocksync"]);
    expect(c.grpc.resumeWindowMs).toBe(0);
  });
});

describe("p2p.seed_mode", () => {
  it("loads from the file, the environment and a flag (off by default)", async () => {
    expect(defaultConfig().p2p.seedMode).toBe(false);
    await writeConfig("[p2p]\nseed_mode = true\n");
    const loaded = await loadConfig({ home, env: {} });
    expect(loaded.config.p2p.seedMode).toBe(true);
    expect(resolveConfig({ env: { SWITCHBOARD_P2P_SEED_MODE: "true" } }).config.p2p.seedMode).toBe(true);
    expect(resolveConfig({ flags: { "p2p.seed_mode": "false" }, env: { SWITCHBOARD_P2P_SEED_MODE: "true" } }).config.p2p.seedMode).toBe(false);
  });
});

describe("unknown keys are errors", () => {
  it("in the file: keys, sections, with suggestions, and CometBFT keys we do not support", async () => {
    const path = await writeConfig(`
monikr = "x"
[p2p]
ladr = "tcp://1.2.3.4:1"
test_dial_fail = true
[rpc]
laddr = "tcp://127.0.0.1:26657"
[p2p.nested]
x = 1
`);
    const err = (await loadConfig({ home, env: {} }).catch((e: unknown) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    const lines = err.message.split("\n");
    expect(lines).toContain(`${path}: monikr: unknown key (did you mean "moniker"?)`);
    expect(lines).toContain(`${path}: p2p.ladr: unknown key (did you mean "p2p.laddr"?)`);
    expect(lines.find((l) => l.startsWith(`${path}: p2p.test_dial_fail: a CometBFT key that Switchboard does not support`))).toBeDefined();
    expect(lines).toContain(`${path}: unknown section [rpc] (did you mean [grpc]?)`);
    expect(lines).toContain(`${path}: p2p.nested: unknown key`);
  });

  it("a section that is not a table", () => {
    expect(issuesOf(() => resolveConfig({ file: { path: "f", doc: { p2p: 3 } } }))).toEqual(["f: p2p: expected a [p2p] table, got 3"]);
  });

  it("SWITCHBOARD_* variables that are not keys (SWITCHBOARD_HOME excepted)", () => {
    expect(issuesOf(() => resolveConfig({ env: { SWITCHBOARD_P2P_LADR: "x", SWITCHBOARD_HOME: "/h", OTHER: "y" } }))).toEqual([
      "environment variable SWITCHBOARD_P2P_LADR: not a config key (did you mean SWITCHBOARD_P2P_LADDR?)",
    ]);
  });

  it("the CLI's credentials and the crypto backend switch in the same shell are not config keys, and not refused", () => {
    const env = {
      SWITCHBOARD_GRPC_TOKEN: "t0ken-for-the-cli-only",
      SWITCHBOARD_GRPC_CA_FILE: "/ca.pem",
      SWITCHBOARD_GRPC_CERT_FILE: "/cert.pem",
      SWITCHBOARD_GRPC_KEY_FILE: "/key.pem",
      SWITCHBOARD_CRYPTO_BACKEND: "node",
    };
    expect(() => resolveConfig({ env })).not.toThrow();
  });

  it("flags that are not keys", () => {
    expect(issuesOf(() => resolveConfig({ flags: { "p2p.pexx": "true" } }))).toEqual(['flag --p2p.pexx: unknown key (did you mean "p2p.pex"?)']);
  });

  it("TOML syntax errors name the file, line and column", async () => {
    const path = await writeConfig('moniker = "a"\n[p2p]\nladdr = \n');
    await expect(loadConfig({ home, env: {} })).rejects.toThrow(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3:\\d+: invalid TOML: `));
  });
});
