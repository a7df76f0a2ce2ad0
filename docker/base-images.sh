#!/usr/bin/env bash
# Makes sure the base images the cluster's Dockerfiles build FROM exist locally:
#
#   node:20-bookworm-slim   server/Dockerfile, examples/typescript/Dockerfile
#   python:3.11-slim        examples/python/Dockerfile
#   golang:1.22             docker/cometbft/Dockerfile, examples/go/*/Dockerfile, client/go/cometbft/Dockerfile
#   debian:bookworm-slim    runtime stages of the Go images
#
# For each image: present locally -> nothing to do; else `docker pull`; only when no registry answers is a
# STAND-IN built offline and tagged with the same name, so the Dockerfiles build unchanged. Each stand-in says so
# on stdout and carries the label `org.switchboard.standin=true` (the e2e test prints which bases are stand-ins).
#
# A stand-in is a Debian bookworm `debootstrap --variant=minbase` rootfs (built once, ~30 s, cached under
# $STANDIN_DIR) plus:
#   node:20-bookworm-slim  the host's `node` binary and npm (so the host must have Node 20), user `node` (uid 1000)
#                          as in the real image
#   python:3.11-slim       Debian's python3 (3.11), pip and venv installed into the rootfs with apt, `python`/`pip`
#                          links, and no EXTERNALLY-MANAGED marker (the real image's pip installs system-wide)
#   golang:1.22            the host's Go toolchain (`go env GOROOT`, copied to /usr/local/go; it may be newer than
#                          1.22: `go version` inside tells), GOPATH=/go, GOTOOLCHAIN=local as in the real image
#   debian:bookworm-slim   the rootfs as it is
# and, in every one, the host's CA bundle (the registries are reached through a proxy whose CA only the host's
# bundle has) at /etc/ssl/certs/ca-certificates.crt and /usr/local/share/ca-certificates/host-ca-bundle.crt, with
# SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, PIP_CERT and REQUESTS_CA_BUNDLE pointing at it.
#
# Usage: bash docker/base-images.sh [IMAGE...]      (default: all four)
# Env:   STANDIN_DIR (default /var/tmp/switchboard-standins), DEBIAN_MIRROR (default: the host's apt mirror),
#        FORCE_STANDIN=1 (rebuild stand-ins even when the images exist)
set -euo pipefail

log() { printf '[base-images] %s\n' "$*"; }
die() { printf '[base-images] ERROR: %s\n' "$*" >&2; exit 1; }

STANDIN_DIR="${STANDIN_DIR:-/var/tmp/switchboard-standins}"
ALL_IMAGES=(node:20-bookworm-slim python:3.11-slim golang:1.22 debian:bookworm-slim)
images=("$@")
[[ ${#images[@]} -gt 0 ]] || images=("${ALL_IMAGES[@]}")

host_mirror() {
  local m=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    m="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
  fi
  if [[ -z "$m" && -f /etc/apt/sources.list ]]; then
    m="$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list)"
  fi
  printf '%s' "${m:-http://deb.debian.org/debian}"
}

ca_bundle() {
  local f
  for f in "${NODE_EXTRA_CA_CERTS:-}" "${SSL_CERT_FILE:-}" /etc/ssl/certs/ca-certificates.crt; do
    [[ -n "$f" && -s "$f" ]] && { printf '%s' "$f"; return; }
  done
  die "no CA bundle found on the host (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, /etc/ssl/certs/ca-certificates.crt)"
}

# The minbase rootfs, built once and kept as a tarball ($BASE_TAR).
BASE_TAR="$STANDIN_DIR/bookworm-minbase.tar"
ensure_base_tar() {
  local tar="$BASE_TAR"
  if [[ ! -s "$tar" ]]; then
    command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -q debootstrap >/dev/null; }
    local root="$STANDIN_DIR/rootfs.tmp"
    rm -rf "$root"; mkdir -p "$root"
    local mirror; mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
    log "debootstrap --variant=minbase bookworm from $mirror"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >"$STANDIN_DIR/debootstrap.log" 2>&1 \
      || { tail -20 "$STANDIN_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $STANDIN_DIR/debootstrap.log)"; }
    # Slim it as the -slim images are: no apt lists, docs, man pages or locales.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    rm -rf "$root"
  fi
}

# new_root NAME: a fresh copy of the minbase rootfs under $STANDIN_DIR/NAME, with the host's CA bundle.
new_root() {
  local root="$STANDIN_DIR/$1"
  rm -rf "$root"; mkdir -p "$root"
  tar -C "$root" -xf "$BASE_TAR"
  local ca; ca="$(ca_bundle)"
  install -D -m 0644 "$ca" "$root/usr/local/share/ca-certificates/host-ca-bundle.crt"
  install -D -m 0644 "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
  printf '%s' "$root"
}

CA_ENV=(--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'
  --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host-ca-bundle.crt'
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt'
  --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt'
  --change 'LABEL org.switchboard.standin=true')

import_root() { # import_root ROOT IMAGE [--change ...]
  local root="$1" image="$2"; shift 2
  : >"$root/etc/resolv.conf"
  tar -C "$root" -c . | docker import "${CA_ENV[@]}" "$@" - "$image" >/dev/null
  rm -rf "$root"
}

standin_debian() {
  local root; root="$(new_root debian)"
  import_root "$root" debian:bookworm-slim --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]'
}

standin_node() {
  local node_bin npm_dir root
  node_bin="$(readlink -f "$(command -v node)")" || die "no node on the host"
  "$node_bin" --version | grep -q '^v20\.' || log "warning: the host's node is $("$node_bin" --version), not 20.x"
  npm_dir="$(npm root -g 2>/dev/null)/npm"; [[ -f "$npm_dir/bin/npm-cli.js" ]] || die "npm not found at $npm_dir"
  root="$(new_root node)"
  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  # The real image's user `node` (uid/gid 1000).
  echo 'node:x:1000:1000::/home/node:/bin/sh' >>"$root/etc/passwd"
  echo 'node:x:1000:' >>"$root/etc/group"
  echo 'node:*:19000:0:99999:7:::' >>"$root/etc/shadow"
  mkdir -p "$root/home/node" && chown 1000:1000 "$root/home/node"
  import_root "$root" node:20-bookworm-slim \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$("$node_bin" --version | sed 's/^v//')" --change 'CMD ["node"]'
}

standin_python() {
  local root mirror; root="$(new_root python)"
  mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$root/etc/apt/sources.list"
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends python3 python3-pip python3-venv' \
    >"$STANDIN_DIR/python-apt.log" 2>&1 || { tail -20 "$STANDIN_DIR/python-apt.log" >&2; die "apt-get in the python rootfs failed"; }
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/*
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
  ln -sf /usr/bin/python3 "$root/usr/local/bin/python3"
  ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
  ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip3"
  import_root "$root" python:3.11-slim \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV PYTHONUNBUFFERED=1' --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' --change 'CMD ["python3"]'
}

standin_golang() {
  local goroot root
  command -v go >/dev/null || die "no Go toolchain on the host (needed for the golang stand-in)"
  goroot="$(go env GOROOT)"
  root="$(new_root golang)"
  mkdir -p "$root/usr/local/go" "$root/go/bin" "$root/go/src"
  # The toolchain without its test data and docs.
  tar -C "$goroot" --exclude=./test --exclude=./doc --exclude=./api --exclude='./pkg/*_race' -c . | tar -C "$root/usr/local/go" -x
  chmod 1777 "$root/go"
  import_root "$root" golang:1.22 \
    --change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local' --change "ENV GOLANG_VERSION=$(go env GOVERSION | sed 's/^go//')" \
    --change 'WORKDIR /go'
}

mkdir -p "$STANDIN_DIR"
for image in "${images[@]}"; do
  if [[ "${FORCE_STANDIN:-0}" != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
    if [[ "$(docker image inspect -f '{{index .Config.Labels "org.switchboard.standin"}}' "$image")" == true ]]; then
      log "$image: present (a STAND-IN built earlier, no registry answered then)"
    else
      log "$image: present"
    fi
    continue
  fi
  if [[ "${FORCE_STANDIN:-0}" != 1 ]] && timeout 600 docker pull -q "$image" >/dev/null 2>"$STANDIN_DIR/pull.err"; then
    log "$image: pulled from the registry"
    continue
  fi
  [[ "${FORCE_STANDIN:-0}" == 1 ]] || log "$image: no registry answered ($(head -c 200 "$STANDIN_DIR/pull.err" | tr '\n' ' '))"
  start=$(date +%s)
  ensure_base_tar
  case "$image" in
    node:20-bookworm-slim) standin_node ;;
    python:3.11-slim) standin_python ;;
    golang:1.22) standin_golang ;;
    debian:bookworm-slim) standin_debian ;;
    *) die "no stand-in recipe for $image" ;;
  esac
  log "$image: STAND-IN built offline (debootstrap + host toolchain) in $(( $(date +%s) - start ))s — not the registry's image"
done
