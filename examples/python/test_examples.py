"""End-to-end checks of the Python examples (CI): real Switchboard nodes, a real CometBFT v0.38 node.

    pip install -e 'client/python[test]' && bash scripts/install-cometbft.sh && pytest examples/python
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cometbft_node import CometBftNode
from tests.support.switchboard_node import SwitchboardNode, kill_all

HERE = Path(__file__).resolve().parent
_SETPRIV = shutil.which("setpriv")


class Example:
    """An example script as a child process; its stdout JSON lines are collected."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, script: str, *args: str) -> Example:
        prefix = [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []
        proc = await asyncio.create_subprocess_exec(
            *prefix, sys.executable, str(HERE / script), *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(proc, script)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            text = raw.decode().strip()
            self.raw.append(text)
            try:
                self.lines.append(json.loads(text))
            except ValueError:
                pass
            self._changed.set()
        self._changed.set()

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], what: str, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate(self.lines):
                    if self._reader.done():
                        raise AssertionError(f"{self.name} ended before {what}:\n{await self.stderr()}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {what} within {timeout_s} s; stdout tail: {self.raw[-5:]}\n{await self.stderr()}"
            ) from None

    async def stderr(self) -> str:
        if self.proc.returncode is None or self.proc.stderr is None:
            return "(still running)"
        return (await self.proc.stderr.read()).decode(errors="replace")[-3000:]

    async def wait_exit(self, timeout_s: float = 15.0) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout_s)
        await self._reader
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """Things to stop at teardown (examples first, then nodes)."""
    things: list[Any] = []
    try:
        yield things
    finally:
        for t in things:
            if isinstance(t, Example):
                await t.kill()
        for t in things:
            if not isinstance(t, Example):
                await t.stop()
        kill_all()


def rtts_from(peer_id: str, n: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda lines: sum(1 for x in lines if x.get("event") == "rtt" and x.get("peer") == peer_id) >= n


async def test_ping_pong_between_two_nodes(tmp_path: Path, cleanup: list[Any]) -> None:
    a, b = await asyncio.gather(SwitchboardNode.create(tmp_path, "a"), SwitchboardNode.create(tmp_path, "b"))
    cleanup.extend([a, b])
    b.start()
    pong_b = await Example.start("ping_pong.py", "--grpc", await b.wait_grpc(), "--interval", "0.2")
    cleanup.append(pong_b)
    a.start(persistent_peers=await b.wait_started())  # A dials B
    pong_a = await Example.start("ping_pong.py", "--grpc", await a.wait_grpc(), "--interval", "0.2")
    cleanup.append(pong_a)

    await pong_a.wait_for(rtts_from(b.node_id, 3), "3 RTT lines for B", 30)
    await pong_b.wait_for(rtts_from(a.node_id, 3), "3 RTT lines for A", 30)
    for ex in (pong_a, pong_b):
        rtts = [x for x in ex.lines if x["event"] == "rtt"]
        assert all(isinstance(x["rtt_ms"], float) and 0 < x["rtt_ms"] < 5000 for x in rtts)
        assert [x["event"] for x in ex.lines[:2]] == ["started", "peer_added"]

    # A graceful node stop ends the example cleanly: RemovePeer, Stop, exit 0.
    a.terminate()
    assert await pong_a.wait_exit() == 0
    assert [x["event"] for x in pong_a.lines[-2:]] == ["peer_removed", "stopped"]


async def test_blocksync_follower_matches_cometbft(tmp_path: Path, cleanup: list[Any]) -> None:
    chain_id = "sb-python-follow"
    comet = await CometBftNode.start(tmp_path, chain_id)
    cleanup.append(comet)
    for i in range(6):  # some blocks carry transactions
        assert (await comet.broadcast_tx_sync(f"key{i}=value{i}".encode()))["code"] == 0
    await comet.wait_height(3)

    sb = await SwitchboardNode.create(tmp_path, "sb")
    cleanup.append(sb)
    sb.start("--node.network", chain_id, reactors="blocksync", persistent_peers=comet.p2p_address)
    follower = await Example.start("blocksync_follower.py", "--grpc", await sb.wait_grpc())
    cleanup.append(follower)

    # Everything up to a height the chain reaches only after the follower started: it keeps up.
    target = await comet.latest_height() + 3

    def heights(lines: list[dict[str, Any]]) -> list[int]:
        return [x["height"] for x in lines if "height" in x]

    await follower.wait_for(lambda lines: target in heights(lines), f"block {target}", 60)
    got = [x for x in follower.lines if "height" in x]
    assert heights(got)[: target] == list(range(1, target + 1))  # from base 1 upward, each once, in order
    txs = 0
    for line in got[:target]:
        block = (await comet.block(line["height"]))["block"]
        header = block["header"]
        expected = {
            "height": int(header["height"]),
            "chain_id": header["chain_id"],
            "time": header["time"],
            "num_txs": len(block["data"]["txs"] or []),
        }
        assert line == expected
        assert str(line["height"]) == header["height"]
        txs += line["num_txs"]
    assert txs == 6, "the transactions sent are in the followed blocks"
