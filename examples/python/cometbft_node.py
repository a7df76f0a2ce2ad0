"""Test harness: a real CometBFT v0.38 node (one validator, in-process ``kvstore`` app) on 127.0.0.1.

The same approach as server/test/interop/support/cometbft-node.ts: ``cometbft init`` in a temp home,
the genesis chain ID set, config.toml edited (p2p.laddr, rpc.laddr, allow_duplicate_ip=true,
addr_book_strict=false, consensus.timeout_commit=500ms, proxy_app=kvstore), then ``cometbft start``.

Binary: env COMETBFT_BIN, else ``<repo>/.cache/bin/cometbft`` (``bash scripts/install-cometbft.sh``).
The node dies with the test process (PR_SET_PDEATHSIG through ``setpriv``), and :meth:`stop` ends it.
Its log is ``<home>/cometbft.log``.

RPC shapes used here (v0.38): ``/block?height=H`` → ``result.block.header`` {chain_id, height (a decimal
*string*), time (Go RFC3339Nano, UTC)} and ``result.block.data.txs`` (base64 list, or null);
``/status`` → ``result.sync_info.latest_block_height`` (string).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_SETPRIV = shutil.which("setpriv")


def cometbft_binary() -> Path:
    return Path(os.environ.get("COMETBFT_BIN") or REPO_ROOT / ".cache" / "bin" / "cometbft")


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (held together while chosen)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def set_toml_values(text: str, values: dict[str, str | bool]) -> str:
    """Replaces ``section.key`` (or top-level ``key``) assignments in place; every key must exist."""
    pending = dict(values)
    section = ""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[([^\]]+)\]\s*(#.*)?$", line)
        if header:
            section = header.group(1).strip()
            continue
        assign = re.match(r"^\s*([A-Za-z0-9_-]+)\s*=", line)
        if not assign:
            continue
        full = assign.group(1) if not section else f"{section}.{assign.group(1)}"
        if full in pending:
            v = pending.pop(full)
            lines[i] = f"{assign.group(1)} = {json.dumps(v)}"
    if pending:
        raise KeyError(f"config.toml has no {sorted(pending)}")
    return "\n".join(lines)


class CometBftNode:
    def __init__(self, home: Path, chain_id: str, node_id: str, p2p_port: int, rpc_port: int, proc: subprocess.Popen[bytes]):
        self.home = home
        self.chain_id = chain_id
        self.node_id = node_id
        self.p2p_port = p2p_port
        self.rpc_port = rpc_port
        self.proc = proc
        self.log_path = home / "cometbft.log"

    @property
    def p2p_address(self) -> str:
        return f"{self.node_id}@127.0.0.1:{self.p2p_port}"

    @classmethod
    async def start(cls, tmp: Path, chain_id: str, *, wait_height: int = 1) -> CometBftNode:
        binary = cometbft_binary()
        if not binary.is_file():
            raise FileNotFoundError(f"no CometBFT binary at {binary}: run `bash scripts/install-cometbft.sh` or set COMETBFT_BIN")
        home = tmp / "cometbft"
        subprocess.run([str(binary), "init", "--home", str(home)], check=True, capture_output=True, timeout=60)
        node_id = subprocess.run(
            [str(binary), "show-node-id", "--home", str(home)], check=True, capture_output=True, text=True, timeout=60
        ).stdout.strip()
        genesis_path = home / "config" / "genesis.json"
        genesis = json.loads(genesis_path.read_text())
        genesis["chain_id"] = chain_id
        genesis_path.write_text(json.dumps(genesis, indent=2) + "\n")
        p2p_port, rpc_port = free_ports(2)
        config_path = home / "config" / "config.toml"
        config_path.write_text(
            set_toml_values(
                config_path.read_text(),
                {
                    "moniker": "cometbft-python-e2e",
                    "proxy_app": "kvstore",
                    "rpc.laddr": f"tcp://127.0.0.1:{rpc_port}",
                    "p2p.laddr": f"tcp://127.0.0.1:{p2p_port}",
                    "p2p.persistent_peers": "",
                    "p2p.allow_duplicate_ip": True,
                    "p2p.addr_book_strict": False,
                    "p2p.pex": True,
                    "consensus.timeout_commit": "500ms",
                },
            )
        )
        prefix = [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []
        with open(home / "cometbft.log", "ab") as log:
            proc = subprocess.Popen(
                [*prefix, str(binary), "start", "--home", str(home)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        node = cls(home, chain_id, node_id, p2p_port, rpc_port, proc)
        try:
            await node.wait_height(wait_height, timeout_s=60)
        except BaseException:
            await node.stop()
            raise
        return node

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    async def rpc(self, method: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.rpc_port}/{method}"
        if params:
            url += "?" + urllib.parse.urlencode(params)

        def get() -> Any:
            try:
                with urllib.request.urlopen(url, timeout=10) as res:
                    body = json.loads(res.read())
            except urllib.error.HTTPError as err:
                body = json.loads(err.read())
            if "error" in body:
                raise RuntimeError(f"CometBFT RPC {method}: {body['error']}")
            return body["result"]

        return await asyncio.to_thread(get)

    async def latest_height(self) -> int:
        return int((await self.rpc("status"))["sync_info"]["latest_block_height"])

    async def wait_height(self, height: int, timeout_s: float = 30.0) -> int:
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cometbft exited ({self.proc.returncode})\n{self.log_tail()}")
            try:
                h = await self.latest_height()
                if h >= height:
                    return h
            except Exception as err:  # not up yet
                last = err
            if time.monotonic() > deadline:
                raise TimeoutError(f"cometbft: height {height} not reached in {timeout_s} s ({last})\n{self.log_tail()}")
            await asyncio.sleep(0.1)

    async def block(self, height: int) -> Any:
        return await self.rpc("block", height=str(height))

    async def broadcast_tx_sync(self, tx: bytes) -> Any:
        return await self.rpc("broadcast_tx_sync", tx="0x" + tx.hex())

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 10)
            except TimeoutError:
                self.proc.kill()
                self.proc.wait()
