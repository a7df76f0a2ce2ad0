"""Test harness: real Switchboard nodes, started with the CLI as child processes.

    node = await SwitchboardNode.create(tmp_path, "a")           # switchboard init
    node.start("--grpc.resume_window", "200ms")             # switchboard start (gRPC and p2p on port 0)
    grpc_target = await node.wait_grpc()                    # parsed from the 'gateway listening' log line
    ... attach reactors (the node waits for them) ...
    p2p = await node.wait_started()                         # parsed from the start banner: ID@127.0.0.1:PORT
    await node.stop()                                       # SIGTERM, then SIGKILL

No process outlives the tests: each child gets PR_SET_PDEATHSIG=SIGKILL (via ``setpriv``: it dies with
the test process, even on SIGKILL), :func:`kill_all` (the fixtures' teardown, and at exit) kills what is left.
Logs: ``<home>/stdout.log`` and ``<home>/stderr.log``; failures include their tails.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[4]
CLI = REPO_ROOT / "server" / "bin" / "switchboard.js"
NODE_BIN = os.environ.get("NODE_BIN") or shutil.which("node") or "node"

_BANNER_P2P = re.compile(r"^\s+p2p\s+tcp://\S+\s+\(peers dial (\S+@\S+)\)", re.MULTILINE)
_LIVE: set[SwitchboardNode] = set()


#: Children get PR_SET_PDEATHSIG=SIGKILL through util-linux's setpriv when it is there. (Not through
#: preexec_fn: running Python in a forked child of a process with gRPC threads can crash the child.)
_SETPRIV = shutil.which("setpriv")


def _command(*args: str) -> list[str]:
    prefix = [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []
    return [*prefix, NODE_BIN, str(CLI), *args]


async def run_cli(*args: str) -> str:
    """Runs a short CLI command (e.g. init) and returns its stdout."""
    proc = await asyncio.create_subprocess_exec(
        NODE_BIN, str(CLI), *args, cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0:
        raise RuntimeError(f"switchboard {' '.join(args)} failed ({proc.returncode}):\n{err.decode()}{out.decode()}")
    return out.decode()


def init_homes(root: Path, monikers: list[str], network: str = "sb-python-test") -> dict[str, Path]:
    """Runs ``switchboard init`` for each moniker at once (CLI start-up is the slow part); returns the homes."""
    homes = {m: root / m for m in monikers}
    procs = [
        subprocess.Popen(
            _command("init", "--home", str(home), "--network", network, "--moniker", m),
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        for m, home in homes.items()
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"switchboard init failed ({proc.returncode}):\n{out.decode()}")
    return homes


def node_id_of(home: Path) -> str:
    """The node ID from ``config/node_key.json``: hex of the first 20 bytes of SHA-256(ed25519 public key),
    as CometBFT (and ``switchboard show-node-id``) derive it."""
    key = json.loads((home / "config" / "node_key.json").read_text())["priv_key"]["value"]
    return hashlib.sha256(base64.b64decode(key)[32:]).hexdigest()[:40]


class SwitchboardNode:
    """One node in its own home directory."""

    def __init__(self, home: Path, moniker: str, network: str, node_id: str) -> None:
        self.home = home
        self.moniker = moniker
        self.network = network
        self.node_id = node_id
        self.proc: subprocess.Popen[bytes] | None = None
        self.stdout_path = home / "stdout.log"
        self.stderr_path = home / "stderr.log"
        self._grpc: str | None = None
        self._p2p: str | None = None

    @classmethod
    def from_template(cls, template: Path, tmp: Path, moniker: str, network: str = "sb-python-test") -> SwitchboardNode:
        """A copy of a home made by :func:`init_homes` (its key included: a node ID is unique per template)."""
        home = tmp / moniker
        shutil.copytree(template, home)
        return cls(home, moniker, network, node_id_of(home))

    @classmethod
    async def create(cls, tmp: Path, moniker: str, network: str = "sb-python-test") -> SwitchboardNode:
        """``switchboard init`` in ``tmp/moniker``."""
        home = tmp / moniker
        await run_cli("init", "--home", str(home), "--network", network, "--moniker", moniker)
        return cls(home, moniker, network, node_id_of(home))

    def start(
        self, *extra: str, reactors: str = "app", persistent_peers: str = "", env: Mapping[str, str] | None = None
    ) -> None:
        """Starts ``switchboard start`` with the scenario defaults (``--grpc.reactors app``, loopback, no PEX);
        ``env`` adds to (or overrides) this process's environment."""
        args = [
            *_command("start"), "--home", str(self.home),
            "--p2p.laddr", "tcp://127.0.0.1:0",
            "--grpc.laddr", "tcp://127.0.0.1:0",
            "--p2p.allow_duplicate_ip", "true",
            "--p2p.pex", "false",
            "--log_format", "json",
        ]  # fmt: skip
        if reactors:
            args += ["--grpc.reactors", reactors]
        if persistent_peers:
            args += ["--p2p.persistent_peers", persistent_peers]
        args += list(extra)
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                args, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=None if env is None else {**os.environ, **env},
            )  # fmt: skip
        _LIVE.add(self)

    def _read(self, path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {p.name} ---\n" + "\n".join(self._read(p).splitlines()[-lines:])
            for p in (self.stdout_path, self.stderr_path)
        )

    async def _poll(self, what: str, find: object, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            value = find() if callable(find) else None
            if value:
                return str(value)
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"node {self.moniker} exited ({code}) while waiting for {what}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {self.moniker}: no {what} within {timeout_s} s\n{self.log_tail()}")
            await asyncio.sleep(0.02)

    def _find_grpc(self) -> str | None:
        for line in self._read(self.stderr_path).splitlines():
            if '"gateway listening"' in line:
                try:
                    return str(json.loads(line)["addr"])
                except (ValueError, KeyError):
                    continue
        return None

    def _find_metrics(self) -> str | None:
        for line in self._read(self.stderr_path).splitlines():
            if '"serving metrics"' in line:
                try:
                    return str(json.loads(line)["url"])
                except (ValueError, KeyError):
                    continue
        return None

    def _find_p2p(self) -> str | None:
        m = _BANNER_P2P.search(self._read(self.stdout_path))
        return m.group(1) if m else None

    async def wait_grpc(self, timeout_s: float = 20.0) -> str:
        """The gRPC address (host:port) once the gateway listens."""
        if self._grpc is None:
            self._grpc = await self._poll("gRPC address", self._find_grpc, timeout_s)
        return self._grpc

    async def wait_metrics_url(self, timeout_s: float = 20.0) -> str:
        """The Prometheus URL, for a node started with ``--instrumentation.prometheus true``
        (``--instrumentation.prometheus_listen_addr 127.0.0.1:0`` picks a free port)."""
        return await self._poll("metrics URL", self._find_metrics, timeout_s)

    async def wait_started(self, timeout_s: float = 20.0) -> str:
        """``ID@127.0.0.1:PORT`` once the node started its Switch (every awaited reactor registered)."""
        if self._p2p is None:
            self._p2p = await self._poll("start banner", self._find_p2p, timeout_s)
        return self._p2p

    @property
    def started(self) -> bool:
        """True once the start banner was printed (the Switch started)."""
        return self._p2p is not None or self._find_p2p() is not None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """Sends SIGTERM (the graceful stop) without waiting."""
        if self.running:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)

    async def wait_exit(self, timeout_s: float = 10.0) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {self.moniker} did not exit within {timeout_s} s\n{self.log_tail()}")
            await asyncio.sleep(0.02)
        return self.proc.returncode

    async def stop(self, timeout_s: float = 3.0) -> None:
        """SIGTERM; a second SIGTERM (exit at once) after ``timeout_s``; then SIGKILL."""
        if self.proc is None:
            return
        try:
            for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
                if self.proc.poll() is not None:
                    break
                self.proc.send_signal(sig)
                try:
                    await self.wait_exit(timeout_s)
                except TimeoutError:
                    continue
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            _LIVE.discard(self)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        _LIVE.discard(self)


def kill_all() -> None:
    """SIGKILLs every node still running (fixture teardown)."""
    for node in list(_LIVE):
        node.kill()


atexit.register(kill_all)
