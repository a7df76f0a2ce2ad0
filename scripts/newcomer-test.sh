#!/usr/bin/env bash
# What a newcomer does with the reactor SDKs, for each of TypeScript, Python
# and Go:
#   1. packs the SDKs with the documented command (`npm run sdk:pack`);
#   2. creates a project OUTSIDE the repository (mktemp -d) that depends on its
#      SDK package the way the SDK's README says ("Use it from your own
#      project"), with the README's reactor program copied from the README
#      itself (the code block after `<!-- newcomer-test: FILE -->`);
#   3. starts two Switchboard nodes (free loopback ports, --grpc.reactors app,
#      persistent peers of each other), runs the program against each, and
#      checks that each prints the other node's greeting and its answer, and
#      that nothing loops (every message is a greeting or the answer to one).
# Prints PASS/FAIL per language and `newcomer: N passed, N failed`; exits
# non-zero on any failure. Needs `npm ci && npm run build` (the node), Python
# >= 3.11, Go, and the package registries.
# Usage: scripts/newcomer-test.sh [typescript] [python] [go]   (default: all three)
# NEWCOMER_KEEP=1 keeps the temporary projects, logs and node homes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
cli=$repo/server/bin/switchboard.js
python=${PYTHON:-python3}
langs=("$@")
[[ ${#langs[@]} -gt 0 ]] || langs=(typescript python go)

FLOW_TIMEOUT_S=${NEWCOMER_FLOW_TIMEOUT_S:-60}

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-newcomer.XXXXXX")
case $work/ in "$repo"/*) echo "newcomer: the temporary directory $work is inside the repository" >&2; exit 1 ;; esac
pidfile=$work/pids
: >"$pidfile"

# Every process this script starts is recorded in $pidfile and ended here.
stop_pids() {
  local pids
  mapfile -t pids <"$1"
  [[ ${#pids[@]} -gt 0 ]] || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive == 1 ]] || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
cleanup() {
  stop_pids "$pidfile"
  if [[ ${NEWCOMER_KEEP:-} == 1 ]]; then
    echo "newcomer: kept $work (NEWCOMER_KEEP=1)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[newcomer %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# Writes ./NAME: the code block that follows `<!-- newcomer-test: NAME -->` in README.
from_readme() {
  local readme=$1 name=$2 code
  code=$(awk -v marker="<!-- newcomer-test: $name -->" '
    $0 == marker { armed = 1; next }
    armed == 1 && /^```/ { armed = 2; next }
    armed == 2 && /^```/ { exit }
    armed == 2 { print }
  ' "$readme")
  if [[ -z $code ]]; then
    echo "no code block marked <!-- newcomer-test: $name --> in $readme" >&2
    return 1
  fi
  printf '%s\n' "$code" >"$name"
}

# Free TCP ports on 127.0.0.1, held together while chosen so that they differ.
free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = Array.from({ length: n }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, "127.0.0.1", () => r(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });
  ' "$1"
}

wait_for_line() { # FILE PATTERN TIMEOUT_S
  local deadline=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- packages

log "packing the SDKs: npm run sdk:pack"
npm run --silent sdk:pack
sdk=$repo/.cache/sdk
version=$(node -p 'require("./client/package.json").version')
py_version=$(sed -n 's/^version = "\(.*\)"/\1/p' client/python/pyproject.toml)
ts_pkg=$sdk/switchboard-client-$version.tgz
py_wheel=$sdk/switchboard_reactor-$py_version-py3-none-any.whl
go_pkg=$sdk/switchboard-client-go-$version.tar.gz
for f in "$ts_pkg" "$py_wheel" "$sdk/switchboard_reactor-$py_version.tar.gz" "$go_pkg"; do
  [[ -f $f ]] || { echo "newcomer: sdk:pack did not write $f" >&2; exit 1; }
done

# ---------------------------------------------------------------- projects
# Each setup_LANG runs in its language's directory, makes the project as the
# SDK's README says, and writes ./run-command: the command line that runs the
# reactor from there (run_pair appends the node's gateway address).

setup_typescript() {
  npm init -y >/dev/null
  npm pkg set type=module
  npm install --no-audit --no-fund --loglevel=error "$ts_pkg"
  npm install --no-audit --no-fund --loglevel=error --save-dev typescript @types/node
  grep -q '"@switchboard/client": "file:' package.json
  from_readme "$repo/client/README.md" tsconfig.json
  from_readme "$repo/client/README.md" reactor.ts
  npx tsc
  echo "node dist/reactor.js" >run-command
}

setup_python() {
  "$python" -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "$py_wheel"
  from_readme "$repo/client/python/README.md" reactor.py
  .venv/bin/python -c 'import switchboard_reactor; assert "site-packages" in switchboard_reactor.__file__, switchboard_reactor.__file__'
  echo ".venv/bin/python reactor.py" >run-command
}

setup_go() {
  tar -xzf "$go_pkg" # ./switchboard-client-go
  mkdir my-reactor
  cd my-reactor
  go mod init example.com/my-reactor
  go mod edit -replace github.com/switchboard-p2p/switchboard/client/go=../switchboard-client-go
  from_readme "$repo/client/go/README.md" main.go
  go mod tidy 2>&1
  grep -q '^require github.com/switchboard-p2p/switchboard/client/go ' go.mod
  go build -o reactor .
  echo "my-reactor/reactor" >../run-command
}

# ---------------------------------------------------------------- the run

# run_pair LANG DIR: two nodes, the project's reactor on each; checks the flow.
run_pair() {
  local lang=$1 dir=$2 run_cmd ports i
  read -r run_cmd <"$dir/run-command"
  read -ra ports < <(free_ports 4)
  local p2p=("${ports[0]}" "${ports[1]}") grpc=("${ports[2]}" "${ports[3]}") id=() node_pid=() reactor_pid=()
  for i in 0 1; do
    node "$cli" init --home "$dir/node$i" --network newcomer --moniker "$lang$i" >/dev/null
    id[i]=$(node "$cli" show-node-id --home "$dir/node$i")
  done
  for i in 0 1; do
    local other=$((1 - i))
    node "$cli" start --home "$dir/node$i" \
      --p2p.laddr "tcp://127.0.0.1:${p2p[i]}" --grpc.laddr "tcp://127.0.0.1:${grpc[i]}" \
      --grpc.reactors app --p2p.persistent_peers "${id[other]}@127.0.0.1:${p2p[other]}" \
      --p2p.pex false --p2p.allow_duplicate_ip true \
      >"$dir/node$i.out" 2>"$dir/node$i.log" &
    node_pid[i]=$!
    echo "${node_pid[i]}" >>"$pidfile"
  done
  for i in 0 1; do
    wait_for_line "$dir/node$i.log" "gateway listening" 20 || { echo "node$i: the gateway did not listen within 20 s"; return 1; }
  done
  for i in 0 1; do
    # shellcheck disable=SC2086 # run_cmd is a command line of our own
    (cd "$dir" && exec $run_cmd "127.0.0.1:${grpc[i]}") >"$dir/reactor$i.log" 2>&1 &
    reactor_pid[i]=$!
    echo "${reactor_pid[i]}" >>"$pidfile"
  done
  log "$lang: nodes ${id[0]:0:8}… and ${id[1]:0:8}…, a reactor on each; waiting for the greetings"

  local deadline=$((SECONDS + FLOW_TIMEOUT_S)) ok=0
  while ((SECONDS < deadline)); do
    ok=1
    for i in 0 1; do
      local other=$((1 - i))
      grep -qx "${id[other]} says: hello" "$dir/reactor$i.log" || ok=0
      grep -qx "${id[other]} says: hello back" "$dir/reactor$i.log" || ok=0
      kill -0 "${reactor_pid[i]}" 2>/dev/null || { echo "reactor$i exited early"; return 1; }
      kill -0 "${node_pid[i]}" 2>/dev/null || { echo "node$i exited early"; return 1; }
    done
    [[ $ok == 1 ]] && break
    sleep 0.2
  done
  if [[ $ok != 1 ]]; then
    echo "no greeting and answer both ways within ${FLOW_TIMEOUT_S} s"
    return 1
  fi
  # A loop (each side answering the other's answer) would go on: give it time
  # to show, then check every message is a greeting or the answer to one.
  sleep 2
  local said greeted
  said=$(cat "$dir"/reactor[01].log | grep -c " says: " || true)
  greeted=$(cat "$dir"/reactor[01].log | grep -c "^sent hello to " || true)
  if ((said > 2 * greeted)); then
    echo "$said messages received for $greeted greetings: the reactors answer answers"
    return 1
  fi
  log "$lang: ${id[0]:0:8}… and ${id[1]:0:8}… greeted and answered each other ($said messages for $greeted greetings)"

  # The node stops: each reactor's event stream ends and the program exits.
  kill -TERM "${node_pid[@]}" 2>/dev/null || true
  local exited=1
  deadline=$((SECONDS + 15))
  for i in 0 1; do
    while kill -0 "${reactor_pid[i]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -0 "${reactor_pid[i]}" 2>/dev/null && exited=0
  done
  if [[ $exited == 1 ]]; then
    log "$lang: both reactors ended when their node stopped"
  else
    log "$lang: a reactor was still running 15 s after its node stopped (killed)"
  fi
}

show_logs() {
  local dir=$1 f
  for f in "$dir"/setup.log "$dir"/reactor0.log "$dir"/reactor1.log "$dir"/node0.log "$dir"/node1.log; do
    [[ -f $f ]] || continue
    echo "--- ${f#"$work"/} (last 30 lines)"
    tail -n 30 "$f"
  done
}

passed=0
failed=0
failures=()
for lang in "${langs[@]}"; do
  case $lang in typescript | python | go) ;; *) echo "newcomer: unknown language $lang" >&2; exit 2 ;; esac
  dir=$work/$lang
  mkdir -p "$dir"
  start=$SECONDS
  log "$lang: a project outside the repository in $dir"
  set +e
  (
    set -euo pipefail
    cd "$dir"
    "setup_$lang" >"$dir/setup.log" 2>&1
  )
  rc=$?
  if [[ $rc != 0 ]]; then
    reason="setting up the project failed (exit $rc)"
  else
    (
      set -euo pipefail
      run_pair "$lang" "$dir"
    ) >"$dir/run.log" 2>&1
    rc=$?
    cat "$dir/run.log"
    reason=$(grep -v '^\[newcomer' "$dir/run.log" | tail -n 1)
  fi
  set -e
  if [[ $rc == 0 ]]; then
    echo "PASS $lang ($((SECONDS - start)) s): packaged SDK installed outside the repository, greetings flowed between two nodes"
    passed=$((passed + 1))
  else
    show_logs "$dir"
    echo "FAIL $lang ($((SECONDS - start)) s): ${reason:-exit $rc}"
    failed=$((failed + 1))
    failures+=("$lang")
  fi
  # Nodes and reactors of this language, if any are left.
  stop_pids "$pidfile"
  : >"$pidfile"
done

echo "newcomer: $passed passed, $failed failed"
[[ $failed == 0 ]]
