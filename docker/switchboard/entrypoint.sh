#!/bin/sh
# Entrypoint of the switchboard image (server/Dockerfile).
#
#   docker run IMAGE [--<section>.<key> VALUE ...]   initialises $SWITCHBOARD_HOME if it has no config yet, then
#                                                    runs `switchboard start --home $SWITCHBOARD_HOME FLAGS...`
#   docker run IMAGE switchboard net-info ...        any other command runs as it is
#
# Initialisation (only when $SWITCHBOARD_HOME/config/config.toml is missing):
#   NODE_KEY_FILE             a node_key.json to use instead of a fresh key (copied in; the home's key is never
#                             overwritten afterwards). Not a SWITCHBOARD_* variable: those must all be config keys.
#   SWITCHBOARD_NODE_NETWORK  chain ID written to the config (also read at start, as every SWITCHBOARD_* key is)
#   SWITCHBOARD_MONIKER       moniker (default: the container's host name)
set -eu

case "${1:-}" in
  ""|-*) ;;
  *) exec "$@" ;;
esac

home="${SWITCHBOARD_HOME:?SWITCHBOARD_HOME must be set}"
if [ ! -f "$home/config/config.toml" ]; then
  mkdir -p "$home/config"
  if [ -n "${NODE_KEY_FILE:-}" ] && [ ! -f "$home/config/node_key.json" ]; then
    cp "$NODE_KEY_FILE" "$home/config/node_key.json"
    chmod 600 "$home/config/node_key.json"
  fi
  switchboard init --home "$home" \
    --network "${SWITCHBOARD_NODE_NETWORK:-switchboard-local}" \
    --moniker "${SWITCHBOARD_MONIKER:-$(hostname)}" >&2
fi
echo "node ID $(switchboard show-node-id --home "$home")" >&2
exec switchboard start --home "$home" "$@"
