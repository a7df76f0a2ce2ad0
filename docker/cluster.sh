#!/usr/bin/env bash
# The docker-compose cluster (docker-compose.yml at the repository root), brought up for real.
#
#   bash docker/cluster.sh up      install Docker if missing, start dockerd if none runs, make sure the base images
#                                  exist (stand-ins only where no registry answers), build, start, wait until healthy
#   bash docker/cluster.sh test    up, then the black-box e2e test (docker/e2e.test.mjs), then down — always, even
#                                  when something failed; exits with the test's status
#   bash docker/cluster.sh down    docker-compose down -v, and stop the dockerd this script started
#   bash docker/cluster.sh status  docker-compose ps
#
# Env:
#   DOCKER_STORAGE_DRIVER  storage driver for a dockerd this script starts (default: overlay2 if it works, else vfs)
#   KEEP_DOCKERD=1         `down` leaves the dockerd it started running (warm images for the next run)
#   KEEP_CLUSTER=1         `test` leaves the cluster up afterwards (to look at it; `down` when done)
#   CLUSTER_UP_TIMEOUT_S   how long `up` waits for the cluster to be healthy (default 300)
# Logs: .cache/docker/ (dockerd.log, compose-build.log, and on failure every container's log).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
STATE="$REPO/.cache/docker"
mkdir -p "$STATE"
export DOCKER_CLIENT_TIMEOUT=300 COMPOSE_HTTP_TIMEOUT=300

log() { printf '[cluster %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

compose() {
  if command -v docker-compose >/dev/null 2>&1; then docker-compose "$@"; else docker compose "$@"; fi
}

ensure_docker_installed() {
  local missing=()
  command -v docker >/dev/null 2>&1 || missing+=(docker.io)
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then missing+=(docker-compose); fi
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing with apt: ${missing[*]}"
    [[ "$(id -u)" == 0 ]] || die "need root to apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$STATE/apt.log" 2>&1
    # shellcheck disable=SC2046
    apt-get install -y -q $(printf '%s\n' "${missing[@]}" | sort -u) >>"$STATE/apt.log" 2>&1 \
      || { tail -20 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
  fi
}

start_dockerd_with() { # start_dockerd_with DRIVER: 0 when a dockerd with that driver answers
  local driver="$1"
  log "starting dockerd --storage-driver=$driver --iptables=false (log: $STATE/dockerd.log)"
  setsid dockerd --storage-driver="$driver" --iptables=false >"$STATE/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd.pid"
  for _ in $(seq 60); do
    if docker info >/dev/null 2>&1; then
      [[ "$(docker info -f '{{.Driver}}' 2>/dev/null)" == "$driver" ]] && return 0
      break
    fi
    kill -0 "$(cat "$STATE/dockerd.pid")" 2>/dev/null || break
    sleep 1
  done
  stop_our_dockerd
  return 1
}

stop_our_dockerd() {
  [[ -f "$STATE/dockerd.pid" ]] || return 0
  local pid; pid="$(cat "$STATE/dockerd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping the dockerd we started (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$STATE/dockerd.pid"
}

ensure_dockerd() {
  if docker info >/dev/null 2>&1; then
    log "dockerd is running (storage driver $(docker info -f '{{.Driver}}'))"
    return
  fi
  [[ "$(id -u)" == 0 ]] || die "no Docker daemon answers, and starting one needs root"
  if [[ -n "${DOCKER_STORAGE_DRIVER:-}" ]]; then
    start_dockerd_with "$DOCKER_STORAGE_DRIVER" || die "dockerd did not start (see $STATE/dockerd.log)"
  elif ! start_dockerd_with overlay2; then
    log "overlay2 does not work here: falling back to vfs (slower: every layer is a full copy)"
    start_dockerd_with vfs || die "dockerd did not start (see $STATE/dockerd.log)"
  fi
  log "dockerd is up (storage driver $(docker info -f '{{.Driver}}'))"
}

wait_healthy() {
  local timeout="${CLUSTER_UP_TIMEOUT_S:-300}" start; start=$(date +%s)
  local services=(node0 node1 node2 node3 cometbft cometbft1 hosted0 hosted1)
  while true; do
    local pending=()
    for s in "${services[@]}"; do
      local id health
      id="$(compose ps -q "$s")"
      health="$( [[ -n "$id" ]] && docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)"
      [[ "$health" == healthy ]] || pending+=("$s=$health")
    done
    if [[ ${#pending[@]} -eq 0 ]]; then
      log "cluster healthy after $(( $(date +%s) - start ))s"
      return 0
    fi
    if (( $(date +%s) - start > timeout )); then
      log "not healthy after ${timeout}s: ${pending[*]}"
      return 1
    fi
    sleep 3
  done
}

dump_logs() {
  local dir="$STATE/logs"
  mkdir -p "$dir"
  for s in $(compose config --services 2>/dev/null); do
    local id; id="$(compose ps -q "$s" 2>/dev/null || true)"
    [[ -n "$id" ]] && docker logs "$id" >"$dir/$s.log" 2>&1 || true
  done
  log "container logs saved in $dir"
}

cmd_up() {
  local t0; t0=$(date +%s)
  ensure_docker_installed
  ensure_dockerd
  bash docker/base-images.sh
  log "building images (log: $STATE/compose-build.log)"
  local tb; tb=$(date +%s)
  # In parallel (Go compiles and npm installs overlap), but node1..3, cometbft1 and hosted1 only after node0, cometbft
  # and hosted0: they are the same images.
  local first=() s
  for s in $(compose config --services); do [[ "$s" =~ ^(node|cometbft|hosted)[1-9][0-9]*$ ]] || first+=("$s"); done
  { compose build --parallel "${first[@]}" && compose build; } >"$STATE/compose-build.log" 2>&1 \
    || { tail -40 "$STATE/compose-build.log" >&2; die "docker-compose build failed (log: $STATE/compose-build.log)"; }
  log "images built in $(( $(date +%s) - tb ))s"
  compose up -d --remove-orphans
  if ! wait_healthy; then
    compose ps || true
    dump_logs
    return 1
  fi
  compose ps
  log "up in $(( $(date +%s) - t0 ))s"
}

cmd_down() {
  if docker info >/dev/null 2>&1; then
    compose down -v --remove-orphans --timeout 10 || true
  fi
  if [[ "${KEEP_DOCKERD:-0}" != 1 ]]; then stop_our_dockerd; fi
}

on_test_exit() {
  local rc="$1"
  trap - EXIT
  set +e
  [[ "$rc" == 0 ]] || dump_logs
  if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then cmd_down; fi
  log "cluster test finished in $(( $(date +%s) - TEST_T0 ))s, exit $rc"
  exit "$rc"
}

cmd_test() {
  TEST_T0=$(date +%s)
  trap 'on_test_exit $?' EXIT
  trap 'exit 130' INT TERM
  cmd_up
  log "running the e2e test: node --test docker/e2e.test.mjs"
  node --test --test-reporter=spec --test-concurrency=1 docker/e2e.test.mjs
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  test) cmd_test ;;
  status) compose ps ;;
  *) echo "usage: bash docker/cluster.sh up|test|down|status" >&2; exit 2 ;;
esac
