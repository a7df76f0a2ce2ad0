/**
 * The `switchboard` command line. {@link runCli} dispatches to a subcommand
 * and turns every error into a message and exit code 1 (see errors.ts);
 * main.ts wires it to the process (argv, stdout, signals, exit code).
 */
import { ConfigError } from "../config/load.js";
import { type CommandArgsSpec, formatOptionsHelp } from "./args.js";
import {
  DIAL_ARGS,
  INIT_ARGS,
  NET_INFO_ARGS,
  PEERS_ARGS,
  SHOW_NODE_ID_ARGS,
  START_ARGS,
  STOP_PEER_ARGS,
  VERSION_ARGS,
  dialCommand,
  initCommand,
  netInfoCommand,
  peersCommand,
  showNodeIdCommand,
  startCommand,
  stopPeerCommand,
  versionCommand,
} from "./commands.js";
import { describeError } from "./errors.js";
import type { CliIo } from "./io.js";

export type { CliIo } from "./io.js";
export { CliUsageError, parseCommandArgs } from "./args.js";
export { CliError, MissingHomeError, describeError } from "./errors.js";
export { initHome, type InitResult } from "./init.js";
export {
  NodeServiceUnavailableError,
  formatNetInfo,
  formatPeers,
  unavailableNodeClient,
  type NodeClient,
  type NodeClientFactory,
  type NodeDialOutcome,
  type NodeNetInfo,
  type NodePeer,
} from "./node-client.js";

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly args: CommandArgsSpec;
  readonly run: (argv: readonly string[], io: CliIo) => Promise<number> | number;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  init: {
    summary: "create HOME/config/config.toml and the node key (never overwrites)",
    usage: "switchboard init [--home DIR] [--network ID] [--moniker NAME] [--<section>.<key> VALUE ...]",
    args: INIT_ARGS,
    run: initCommand,
  },
  start: {
    summary: "run the node until SIGINT or SIGTERM",
    usage: "switchboard start [--home DIR] [--<section>.<key> VALUE ...]",
    args: START_ARGS,
    run: startCommand,
  },
  "show-node-id": {
    summary: "print this node's ID (from HOME/config/node_key.json)",
    usage: "switchboard show-node-id [--home DIR]",
    args: SHOW_NODE_ID_ARGS,
    run: showNodeIdCommand,
  },
  version: { summary: "print the version and protocol versions", usage: "switchboard version", args: VERSION_ARGS, run: versionCommand },
  "net-info": {
    summary: "listeners and peers of a running node",
    usage: "switchboard net-info [--grpc ADDR | --home DIR] [--json]",
    args: NET_INFO_ARGS,
    run: netInfoCommand,
  },
  peers: { summary: "peers of a running node", usage: "switchboard peers [--grpc ADDR | --home DIR] [--json]", args: PEERS_ARGS, run: peersCommand },
  dial: {
    summary: "make a running node dial a peer",
    usage: "switchboard dial ID@HOST:PORT [--grpc ADDR | --home DIR] [--json]",
    args: DIAL_ARGS,
    run: dialCommand,
  },
  "stop-peer": {
    summary: "make a running node disconnect a peer",
    usage: "switchboard stop-peer PEER_ID [--reason TEXT] [--grpc ADDR | --home DIR]",
    args: STOP_PEER_ARGS,
    run: stopPeerCommand,
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    "Switchboard: a CometBFT v0.38 wire-compatible p2p node that serves its reactors over gRPC.",
    "",
    "Usage: switchboard <command> [flags]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    "",
    "Run `switchboard <command> --help` for a command's flags. Configuration: server/docs/CONFIG.md.",
  ].join("\n");
}

function commandHelp(c: Command): string {
  return [`Usage: ${c.usage}`, "", `${c.summary[0]?.toUpperCase() ?? ""}${c.summary.slice(1)}.`, "", "Flags:", formatOptionsHelp(c.args)].join("\n");
}

function print(write: (line: string) => void, text: string): void {
  for (const line of text.split("\n")) write(line);
}

/** Runs `switchboard <argv...>`; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    print(io.stderr, mainHelp());
    return 1;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    print(io.stdout, topic === undefined ? mainHelp() : commandHelp(topic));
    return 0;
  }
  if (name === "--version") return versionCommand([], io);
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`switchboard: unknown command "${name}"`);
    print(io.stderr, mainHelp());
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    print(io.stdout, commandHelp(command));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const { message, expected } = describeError(err);
    if (err instanceof ConfigError) {
      io.stderr(`error: switchboard ${name}: invalid configuration:`);
      for (const line of message.split("\n")) io.stderr(`  ${line}`);
    } else if (expected) {
      print(io.stderr, message.startsWith("switchboard") ? `error: ${message}` : `error: switchboard ${name}: ${message}`);
    } else {
      print(io.stderr, `error: switchboard ${name} failed unexpectedly (please report this):\n${message}`);
    }
    return 1;
  }
}
