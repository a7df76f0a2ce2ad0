/**
 * Renders `server/docs/CONFIG.md` from the key table. A test compares the
 * file with this output, so the document cannot drift from the code;
 * `npx vitest run server/test/config --update` rewrites it.
 */
import { CONFIG_FILE, ENV_PREFIX, HOME_ENV_VAR, NODE_KEY_FILE } from "./defaults.js";
import { RESERVED_ENV_VARS } from "./load.js";
import { ALL_KEYS, SECTIONS, SECTION_TITLES, UNSUPPORTED_COMETBFT_KEYS, envVarName, flagName } from "./schema.js";
import { tomlLiteral } from "./template.js";

const INTRO = `# Configuration

<!-- Generated from server/src/config/schema.ts and defaults.ts by
     server/src/config/docs.ts; a test fails when this file is stale.
     Regenerate: npx vitest run server/test/config --update -->

Switchboard reads its configuration from \`HOME/${CONFIG_FILE}\`, a TOML file
whose sections and keys follow CometBFT v0.38's \`config.toml\` where CometBFT
has the setting. \`switchboard init\` writes it with every key and a comment for
each.

## Where the home directory is

1. \`--home DIR\`;
2. else \`$${HOME_ENV_VAR}\`;
3. else \`~/.switchboard\`.

\`switchboard start\` without \`--home\` initialises the home directory when it has
no config file yet (the newcomer's \`npm start\`). With an explicit \`--home\`, a
missing config file is an error, so that a mistyped path never creates a new
node identity. The node key lives in \`HOME/${NODE_KEY_FILE}\`, in CometBFT's
format (a key moves between CometBFT and Switchboard unchanged); it is created
when missing and never overwritten.

## Precedence

Lowest first: **defaults < config file < environment < flags**.

- Environment: \`${ENV_PREFIX}<SECTION>_<KEY>\` in upper case, e.g.
  \`SWITCHBOARD_P2P_LADDR\`, \`SWITCHBOARD_MONIKER\`. An empty variable counts as
  unset. A \`${ENV_PREFIX}*\` variable that is not a key is an error, except
  ${[...RESERVED_ENV_VARS].map((v) => `\`${v}\``).join(", ")} (the home, the crypto backend
  switch and the CLI's credentials, which a node started in the same shell ignores).
- Flags of \`switchboard start\`: \`--<section>.<key>\` in CometBFT's spelling,
  e.g. \`--p2p.laddr\`, \`--p2p.persistent_peers\`, \`--moniker\`, \`--log_level\`;
  \`--flag=value\` or \`--flag value\`; a boolean flag alone means \`true\`
  (\`--p2p.pex=false\` turns it off). Hyphens may stand for underscores
  (\`--p2p.external-address\`, CometBFT's spelling of that one flag).

## Values and errors

- Durations use Go's spelling, as CometBFT's do: \`"100ms"\`, \`"3s"\`, \`"1m30s"\`,
  \`"1.5h"\` (units ns, us, ms, s, m, h); at most about 24.8 days (Node's timer
  limit).
- Lists of peers are comma-separated \`ID@HOST:PORT\` strings, as in CometBFT.
  \`grpc.reactors\` takes a TOML array or a comma-separated string.
- In the file a value must have its TOML type (\`40\`, not \`"40"\`); environment
  variables and flags are text and are converted.
- Everything is validated at start. Every problem is reported, one per line,
  naming where the value came from, the key and the expected form:

  \`\`\`
  /home/me/.switchboard/config/config.toml: p2p.max_num_inbound_peers: expected a non-negative integer, got "x"
  environment variable SWITCHBOARD_P2P_LADDR: expected an address tcp://HOST:PORT, got "nowhere"
  \`\`\`
- Unknown sections and keys are errors, with a suggestion when one is close.
  CometBFT keys that Switchboard does not implement are named as such:
${[...UNSUPPORTED_COMETBFT_KEYS].map(([k, why]) => `  \`${k}\` (${why})`).join(";\n")}.

## Differences from CometBFT

- \`p2p.laddr\` defaults to \`tcp://127.0.0.1:26656\` (CometBFT: \`tcp://0.0.0.0:26656\`):
  a newcomer's node is not reachable from the network until they say so. Set
  \`tcp://0.0.0.0:26656\` (and usually \`p2p.external_address\`) to join a network.
- \`p2p.handshake_timeout\` and \`p2p.dial_timeout\`: CometBFT ignores its settings
  (20s and 3s) and hard-codes 3s and 1s. Switchboard defaults to the values
  CometBFT really applies, and honours the keys.
- \`p2p.seeds\` are used by the PEX reactor only (as in CometBFT); with
  \`p2p.pex = false\` they are ignored, with a warning, and so is \`p2p.seed_mode\`.
- \`p2p.seed_mode\`: a seed's crawl dials count towards
  \`p2p.max_num_outbound_peers\` (CometBFT's seed dials without that bound).
  So that the slots keep turning over, a crawled peer is let go once it has
  answered, or once its request has gone 2 min unanswered, where CometBFT
  keeps it up to 28 h; other non-persistent peers are let go after 28 h, as
  in CometBFT.
- \`[node]\`, \`[grpc]\`, \`p2p.max_concurrent_handshakes\`, \`p2p.accept_rate_per_ip\`
  and \`p2p.accept_burst_per_ip\` are Switchboard's own.
- \`p2p.persistent_peers\` are redialled on CometBFT's schedule, except that a
  peer refused as incompatible (another network or block protocol version, or
  no channel in common) goes straight to the exponential backoff (3 s, 9 s,
  27 s, …) instead of redialling every 5 s first: that will not change until
  one of the nodes is reconfigured. A node that lists no channel (no reactor,
  PEX off) refuses a peer that lists some, as that peer refuses it (CometBFT
  accepts it and is dropped at once, again at every redial).
- Logs go to standard error (standard output carries command results such as
  the start banner). \`log_format = "plain"\` (the default) writes one line per
  record, rendered by pino-pretty, not CometBFT's \`I[…] msg key=value\`:
  \`[2026-01-02T15:04:05.000Z] INFO: switch: inbound peer rejected {"peer_id":"…","reason":"no_common_channel",…}\`,
  coloured on a terminal only (never with \`NO_COLOR\` set). \`log_format = "json"\`
  writes the same fields as one JSON object per line (\`level\`, \`time\`,
  \`module\`, …, \`msg\`). A refused peer is logged at info once per peer and
  reason every 10 minutes; repeats meanwhile at debug.
`;

function escapeCell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/** The whole of CONFIG.md. */
export function renderConfigDoc(): string {
  const out: string[] = [INTRO];
  out.push("## Keys\n");
  for (const section of SECTIONS) {
    const keys = ALL_KEYS.filter((k) => k.section === section);
    out.push(`### ${section === "" ? "Top level" : `[${section}]`} — ${SECTION_TITLES[section]}\n`);
    out.push("| key | default | unit | environment variable | flag |");
    out.push("| --- | --- | --- | --- | --- |");
    for (const k of keys) {
      const unit = k.default.unit === "" ? "—" : k.default.unit;
      out.push(`| \`${k.key}\` | \`${escapeCell(tomlLiteral(k.default.value))}\` | ${unit} | \`${envVarName(k)}\` | \`${flagName(k)}\` |`);
    }
    out.push("");
    for (const k of keys) {
      out.push(`- **\`${k.path}\`**: ${k.doc}. Expected: ${k.form}. Default \`${tomlLiteral(k.default.value)}\`: ${k.default.reason}.`);
    }
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
