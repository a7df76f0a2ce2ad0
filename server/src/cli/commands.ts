/**
 * The `switchboard` subcommands. Each takes its arguments (after the command
 * name) and the injected {@link CliIo}, and resolves with an exit code or
 * throws; `runCli` turns errors into messages.
 */
import { existsSync, readFileSync } from "node:fs";
import { access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NODE_KEY_FILE } from "../config/defaults.js";
import { configFilePath, loadConfig, resolveHome } from "../config/load.js";
import { createLogger } from "../config/logger.js";
import { grpcTarget, parseGrpcAddress, ValueError } from "../config/values.js";
import { createNode } from "../node.js";
import { NetAddressError, formatNetAddress, parseNetAddress } from "../p2p/net-address.js";
import { loadNodeKey } from "../p2p/node-key.js";
import { SWITCHBOARD_VERSION } from "../p2p/switch.js";
import { isValidNodeId } from "../wire/node-info.js";
import { type CommandArgsSpec, CliUsageError, parseCommandArgs } from "./args.js";
import { CliError, MissingHomeError } from "./errors.js";
import { initHome } from "./init.js";
import type { CliIo } from "./io.js";
import { cometNetInfoJson, type NodeClient, formatNetInfo, formatPeers, unavailableNodeClient } from "./node-client.js";

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

const HOME_OPTION = { type: "string", valueName: "DIR", description: "home directory (default: $SWITCHBOARD_HOME or ~/.switchboard)" } as const;

// ------------------------------------------------------------------ init

export const INIT_ARGS: CommandArgsSpec = {
  command: "switchboard init",
  options: { home: HOME_OPTION },
  configFlags: true,
  positionals: [],
};

export async function initCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, INIT_ARGS);
  const { home } = resolveHome(args.options["home"] as string | undefined, io.env);
  const result = await initHome(home, args.config, io.stdout);
  io.stdout(`node ID: ${result.nodeId}`);
  return 0;
}

// ------------------------------------------------------------------ start

export const START_ARGS: CommandArgsSpec = {
  command: "switchboard start",
  options: { home: HOME_OPTION },
  configFlags: true,
  positionals: [],
};

function waitForAbort(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return; // runs until the process ends
    if (signal.aborted) {
      resolve();
      return;
    }
    signal.addEventListener(
      "abort",
      () => {
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Loads the config, starts the node, prints its addresses, and runs until
 * `io.signal` aborts; then stops the node and resolves with 0. Without
 * `--home`, a home without a config is initialised first.
 */
export async function startCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, START_ARGS);
  const { home, explicit } = resolveHome(args.options["home"] as string | undefined, io.env);
  if (explicit && !(await exists(home))) throw new MissingHomeError(home);
  if (!explicit && !(await exists(configFilePath(home)))) {
    io.stdout(`initialising a new home at ${home}`);
    await initHome(home, {}, io.stdout);
  }
  const loaded = await loadConfig({ home, env: io.env, flags: args.config, requireFile: true });
  const config = loaded.config;
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    env: io.env,
    ...(io.logDestination === undefined ? {} : { destination: io.logDestination }),
  });
  const node = await createNode(config, { home, logger, ...(io.gateway === undefined ? {} : { gateway: io.gateway }) });
  try {
    // A signal while the node waits for its reactors stops the start, cleanly.
    await node.start(io.signal);
  } catch (err) {
    if (io.signal?.aborted === true) {
      io.stdout(`stopped before the node started (${(err as Error).message})`);
      return 0;
    }
    throw err;
  }

  const grpc = node.gatewayAddress();
  io.stdout("Switchboard node started");
  io.stdout(`  node ID   ${node.nodeKey.id}`);
  io.stdout(`  network   ${config.node.network} (moniker ${config.moniker})`);
  io.stdout(`  p2p       ${node.p2pListenAddress() ?? "-"}  (peers dial ${node.p2pAddress() ?? "-"})`);
  io.stdout(`  gRPC      ${grpc ?? `not started: this build has no reactor gateway (grpc.laddr ${config.grpc.laddr})`}`);
  io.stdout(`  metrics   ${node.metricsUrl() ?? "off (instrumentation.prometheus = false)"}`);
  io.stdout(`  home      ${home}`);
  io.onStarted?.(node);

  await waitForAbort(io.signal);
  await node.stop();
  return 0;
}

// ------------------------------------------------------------------ show-node-id

export const SHOW_NODE_ID_ARGS: CommandArgsSpec = {
  command: "switchboard show-node-id",
  options: { home: HOME_OPTION },
  configFlags: false,
  positionals: [],
};

/** Prints the node ID derived from `HOME/config/node_key.json` (never creates a key). */
export async function showNodeIdCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, SHOW_NODE_ID_ARGS);
  const { home } = resolveHome(args.options["home"] as string | undefined, io.env);
  if (!(await exists(home))) throw new MissingHomeError(home);
  const key = await loadNodeKey(join(home, NODE_KEY_FILE));
  io.stdout(key.id);
  return 0;
}

// ------------------------------------------------------------------ version

export const VERSION_ARGS: CommandArgsSpec = { command: "switchboard version", options: {}, configFlags: false, positionals: [] };

/** The server package's version, from the package.json above this module (in src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "@switchboard/server" && typeof pkg.version === "string") return pkg.version;
    }
    dir = dirname(dir);
  }
  return "unknown";
}

export function versionCommand(argv: readonly string[], io: CliIo): number {
  parseCommandArgs(argv, VERSION_ARGS);
  io.stdout(`switchboard ${packageVersion()}`);
  io.stdout(`  wire compatible with CometBFT v0.38 (NodeInfo version "${SWITCHBOARD_VERSION}")`);
  io.stdout("  protocol versions: p2p 8, block 11, app 0 (defaults; see [node] in config.toml)");
  return 0;
}

// ------------------------------------------------------------------ commands on a running node

const REMOTE_OPTIONS = {
  grpc: { type: "string", valueName: "ADDR", description: "the node's gRPC address (HOST:PORT or unix:///PATH); default: grpc.laddr of the home's config" },
  home: HOME_OPTION,
  json: { type: "boolean", description: "print JSON instead of text" },
} as const;

export const NET_INFO_ARGS: CommandArgsSpec = { command: "switchboard net-info", options: REMOTE_OPTIONS, configFlags: false, positionals: [] };
export const PEERS_ARGS: CommandArgsSpec = { command: "switchboard peers", options: REMOTE_OPTIONS, configFlags: false, positionals: [] };
export const DIAL_ARGS: CommandArgsSpec = { command: "switchboard dial", options: REMOTE_OPTIONS, configFlags: false, positionals: ["ID@HOST:PORT"] };
export const STOP_PEER_ARGS: CommandArgsSpec = {
  command: "switchboard stop-peer",
  options: { ...REMOTE_OPTIONS, reason: { type: "string", valueName: "TEXT", description: "stop the peer as misbehaving, for this reason (persistent peers are redialled)" } },
  configFlags: false,
  positionals: ["PEER_ID"],
};

/** The gRPC target: `--grpc`, else `grpc.laddr` from the home's config (or its default). */
export async function resolveGrpcTarget(options: Readonly<Record<string, string | boolean | undefined>>, io: CliIo, command: string): Promise<string> {
  const flag = options["grpc"];
  if (typeof flag === "string") {
    try {
      return grpcTarget(parseGrpcAddress(flag));
    } catch (err) {
      const detail = err instanceof ValueError && err.detail !== undefined ? ` (${err.detail})` : "";
      throw new CliUsageError(`${command}: --grpc: expected HOST:PORT or unix:///PATH, got "${flag}"${detail}`);
    }
  }
  const { home, explicit } = resolveHome(options["home"] as string | undefined, io.env);
  if (explicit && !(await exists(home))) throw new MissingHomeError(home);
  const loaded = await loadConfig({ home, env: io.env, requireFile: explicit });
  const addr = loaded.config.grpc.listenAddress;
  // A node listening on every interface is reached on loopback.
  if (addr.kind === "tcp" && (addr.host === "0.0.0.0" || addr.host === "::")) {
    return grpcTarget({ ...addr, host: addr.host === "::" ? "::1" : "127.0.0.1" });
  }
  return grpcTarget(addr);
}

async function withClient(command: string, options: Readonly<Record<string, string | boolean | undefined>>, io: CliIo, run: (client: NodeClient) => Promise<number>): Promise<number> {
  const target = await resolveGrpcTarget(options, io, `switchboard ${command}`);
  const factory = io.nodeClient ?? unavailableNodeClient(`switchboard ${command}`);
  const client = await factory(target);
  try {
    return await run(client);
  } finally {
    client.close();
  }
}

function printJson(io: CliIo, value: unknown): void {
  for (const line of JSON.stringify(value, null, 2).split("\n")) io.stdout(line);
}

function printText(io: CliIo, text: string): void {
  for (const line of text.split("\n")) io.stdout(line);
}

export async function netInfoCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, NET_INFO_ARGS);
  return withClient("net-info", args.options, io, async (client) => {
    const info = await client.netInfo();
    if (args.options["json"] === true) printJson(io, cometNetInfoJson(info));
    else printText(io, formatNetInfo(info));
    return 0;
  });
}

export async function peersCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, PEERS_ARGS);
  return withClient("peers", args.options, io, async (client) => {
    const peers = await client.peers();
    if (args.options["json"] === true) printJson(io, peers);
    else printText(io, formatPeers(peers));
    return 0;
  });
}

/** Validates `ID@HOST:PORT` before anything is contacted. */
export function parseDialAddress(text: string): string {
  try {
    return formatNetAddress(parseNetAddress(text));
  } catch (err) {
    if (err instanceof NetAddressError) throw new CliUsageError(`switchboard dial: ${err.message}`);
    throw err;
  }
}

export async function dialCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, DIAL_ARGS);
  const address = parseDialAddress(args.positionals[0] as string);
  return withClient("dial", args.options, io, async (client) => {
    const outcome = await client.dial(address);
    if (args.options["json"] === true) printJson(io, outcome);
    if (!outcome.connected) throw new CliError("dial_failed", `switchboard dial: ${address}: ${outcome.error || "not connected"}`);
    if (args.options["json"] !== true) io.stdout(`connected to ${address}`);
    return 0;
  });
}

/** Validates a node ID (40 hex characters), returned in lower case. */
export function parsePeerId(text: string): string {
  if (!isValidNodeId(text)) throw new CliUsageError(`switchboard stop-peer: "${text}" is not a node ID (40 hex characters)`);
  return text.toLowerCase();
}

export async function stopPeerCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(argv, STOP_PEER_ARGS);
  const id = parsePeerId(args.positionals[0] as string);
  const reason = args.options["reason"];
  return withClient("stop-peer", args.options, io, async (client) => {
    await (typeof reason === "string" ? client.stopPeer(id, reason) : client.stopPeer(id));
    io.stdout(`stopped peer ${id}`);
    return 0;
  });
}
