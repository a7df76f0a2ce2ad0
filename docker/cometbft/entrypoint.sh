#!/bin/bash
# Entrypoint of the cluster's CometBFT nodes: the plain validators (docker/cometbft/Dockerfile) and the hosted ones
# (cometbft-switchboard, client/go/cometbft/Dockerfile: docker-compose.yml mounts this script into that image).
#
#   CMT_BIN             the command to run: cometbft (default) or cometbft-switchboard (same init, same home)
#
# On first start (no $CMTHOME/config/genesis.json) it initialises the home:
#   KEYS_DIR            node_key.json and priv_validator_key.json to use instead of fresh ones (the compose cluster
#                       mounts docker/keys/<name>: TEST-ONLY keys, so that node IDs and validators are known in advance)
#   GENESIS_FILE        a genesis.json to use as it is (the compose cluster's fixed four-validator genesis,
#                       docker/keys/genesis.json); without it, `init` writes a single-validator genesis and
#   CHAIN_ID            sets its chain_id (default switchboard-e2e)
# and writes config.toml: the kvstore app, p2p and RPC on every interface, allow_duplicate_ip, addr_book_strict=false,
# timeout_commit 500ms (as the interop tests' harness does), and:
#   MONIKER             (default cometbft)
#   PERSISTENT_PEERS    comma-separated ID@HOST:PORT (host names are resolved when the node starts)
#   PEX                 true|false (default false)
#   PROMETHEUS          true|false (default true; on :26660)
#   LOG_LEVEL           (default info)
# cometbft-switchboard ignores the p2p settings (its Switchboard node owns the connections).
# Then runs `$CMT_BIN start` with any extra arguments.
set -euo pipefail

home="${CMTHOME:-/cometbft}"
bin="${CMT_BIN:-cometbft}"
cfg="$home/config/config.toml"

# set_toml SECTION KEY VALUE: replace `KEY = ...` inside [SECTION] ("" = the top-level table). VALUE is TOML.
set_toml() {
  local section="$1" key="$2" value="$3" tmp
  tmp="$(mktemp)"
  awk -v sec="$section" -v key="$key" -v val="$value" '
    /^\[/ { cur = $0; gsub(/^\[|\].*$/, "", cur) }
    {
      if (cur == sec && $0 ~ "^" key "[ \t]*=") { print key " = " val; found = 1; next }
      print
    }
    END { if (!found) { print "set_toml: " sec "." key " not found" > "/dev/stderr"; exit 1 } }
  ' "$cfg" >"$tmp"
  cat "$tmp" >"$cfg" && rm -f "$tmp"
}

if [[ ! -f "$home/config/genesis.json" ]]; then
  mkdir -p "$home/config"
  if [[ -n "${KEYS_DIR:-}" ]]; then
    for f in node_key.json priv_validator_key.json; do
      [[ -f "$KEYS_DIR/$f" ]] && install -m 0600 "$KEYS_DIR/$f" "$home/config/$f"
    done
  fi
  # A validator key brought in needs its (fresh) signing state, which `cometbft init` only writes for a new key.
  mkdir -p "$home/data"
  [[ -f "$home/data/priv_validator_state.json" ]] || printf '{\n  "height": "0",\n  "round": 0,\n  "step": 0\n}' >"$home/data/priv_validator_state.json"
  "$bin" init --home "$home" >&2
  if [[ -n "${GENESIS_FILE:-}" ]]; then
    install -m 0644 "$GENESIS_FILE" "$home/config/genesis.json"
  else
    sed -i -E "s/\"chain_id\": *\"[^\"]*\"/\"chain_id\": \"${CHAIN_ID:-switchboard-e2e}\"/" "$home/config/genesis.json"
  fi
  set_toml "" proxy_app '"kvstore"'
  set_toml "" moniker "\"${MONIKER:-cometbft}\""
  set_toml "" log_level "\"${LOG_LEVEL:-info}\""
  set_toml rpc laddr '"tcp://0.0.0.0:26657"'
  set_toml p2p laddr '"tcp://0.0.0.0:26656"'
  set_toml p2p persistent_peers "\"${PERSISTENT_PEERS:-}\""
  set_toml p2p pex "${PEX:-false}"
  set_toml p2p allow_duplicate_ip true
  set_toml p2p addr_book_strict false
  set_toml consensus timeout_commit '"500ms"'
  set_toml instrumentation prometheus "${PROMETHEUS:-true}"
fi
echo "node ID $("$bin" show-node-id --home "$home")" >&2
exec "$bin" start --home "$home" "$@"
