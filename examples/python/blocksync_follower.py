#!/usr/bin/env python3
"""Blocksync follower: fetches a chain's blocks from peers over CometBFT's blocksync channel (0x40).

    python examples/python/blocksync_follower.py --grpc 127.0.0.1:26670

Attach it to a Switchboard node that has CometBFT peers (same ``--node.network``
as their chain ID, listed in ``--grpc.reactors`` as ``blocksync``). It reads
each peer's StatusResponse (CometBFT sends one when a peer is added), requests
blocks from the lowest base (at least 1) upward, decodes every BlockResponse
and prints one JSON line per block, in height order::

    {"height": 7, "chain_id": "test-chain", "time": "2026-11-21T07:13:10.273826809Z", "num_txs": 2}

``time`` is printed the way CometBFT's RPC prints it (Go's RFC3339Nano in UTC:
trailing zeros of the fraction trimmed, no fraction on whole seconds). Every
``--status-interval`` seconds it broadcasts a StatusRequest to learn of new
blocks, so it keeps up with the chain. It answers peers' StatusRequests
(it stores nothing: height 0) and BlockRequests (NoBlockResponse).

Written in the event-loop style (``async for event in reactor.events()``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from switchboard_reactor import (
    AddPeer,
    ChannelDescriptor,
    CommandError,
    ConnectionLostError,
    Peer,
    Reactor,
    ReactorClosedError,
    Receive,
    RemovePeer,
    SessionEvent,
)
from switchboard_reactor.cli import add_connection_arguments, attach_options
from switchboard_reactor.pb import blocksync_pb2 as bs
from switchboard_reactor.pb import types_pb2

log = logging.getLogger("blocksync_follower")

#: As CometBFT's blocksync reactor registers it (blocksync/reactor.go, v0.38).
BLOCKSYNC_CHANNEL = ChannelDescriptor(
    0x40, priority=5, send_queue_capacity=1000, recv_buffer_capacity=50 * 4096, recv_message_capacity=104857605
)
#: A block requested this long ago without an answer is requested again (from any peer that has it).
REQUEST_TIMEOUT_S = 15.0

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_go_time(seconds: int, nanos: int) -> str:
    """A protobuf Timestamp as Go's ``time.Time.MarshalJSON`` prints it in UTC (layout RFC3339Nano).

    >>> format_go_time(1700000000, 273826809)
    '2023-11-14T22:13:20.273826809Z'
    >>> format_go_time(1700000000, 765973690)
    '2023-11-14T22:13:20.76597369Z'
    >>> format_go_time(1700000000, 0)
    '2023-11-14T22:13:20Z'
    """
    base = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{base}.{fraction}Z" if fraction else f"{base}Z"


def block_line(block: types_pb2.Block) -> str:
    """The JSON line printed for one block."""
    h = block.header
    return json.dumps(
        {
            "height": h.height,
            "chain_id": h.chain_id,
            "time": format_go_time(h.time.seconds, h.time.nanos),
            "num_txs": len(block.data.txs),
        }
    )


def encode(**kind: object) -> bytes:
    return bs.BlocksyncMessage(**kind).SerializeToString()  # type: ignore[arg-type]


@dataclass
class PeerRange:
    peer: Peer
    base: int = 0
    height: int = 0


class Follower:
    """The follower's state; one instance per reactor session."""

    def __init__(self, reactor: Reactor, max_inflight: int) -> None:
        self.r = reactor
        self.max_inflight = max_inflight
        self.peers: dict[str, PeerRange] = {}  # by connection ID
        #: The next height to print; None until the first StatusResponse.
        self.next_height: int | None = None
        #: Height → (connection ID, monotonic time of the request).
        self.requested: dict[int, tuple[str, float]] = {}
        #: Blocks received ahead of next_height (bounded by max_inflight).
        self.ready: dict[int, types_pb2.Block] = {}

    def reset(self) -> None:
        """A fresh session: peers are announced again; printed heights stay printed."""
        self.peers.clear()
        self.requested.clear()

    async def send(self, peer: Peer, data: bytes) -> None:
        try:
            await self.r.send(peer, BLOCKSYNC_CHANNEL.id, data)
        except (CommandError, ConnectionLostError) as err:
            log.info("send to %s failed: %s", peer.peer_id[:8], err)

    async def on_add(self, peer: Peer) -> None:
        self.peers[peer.connection_id] = PeerRange(peer)
        await self.send(peer, encode(status_request=bs.StatusRequest()))

    async def on_remove(self, peer: Peer) -> None:
        self.peers.pop(peer.connection_id, None)
        for h in [h for h, (conn, _) in self.requested.items() if conn == peer.connection_id]:
            del self.requested[h]
        await self.request_more()

    async def on_message(self, peer: Peer, data: bytes) -> None:
        msg = bs.BlocksyncMessage.FromString(data)
        kind = msg.WhichOneof("sum")
        if kind == "status_response":
            pr = self.peers.setdefault(peer.connection_id, PeerRange(peer))
            pr.base, pr.height = msg.status_response.base, msg.status_response.height
            if self.next_height is None and pr.height >= 1:
                self.next_height = max(pr.base, 1)
            await self.request_more()
        elif kind == "block_response":
            block = msg.block_response.block
            h = block.header.height
            if h in self.requested and self.next_height is not None and h >= self.next_height:
                del self.requested[h]
                self.ready[h] = block
                self.print_ready()
            await self.request_more()
        elif kind == "no_block_response":
            self.requested.pop(msg.no_block_response.height, None)
        elif kind == "status_request":
            await self.send(peer, encode(status_response=bs.StatusResponse(height=0, base=0)))
        elif kind == "block_request":
            await self.send(peer, encode(no_block_response=bs.NoBlockResponse(height=msg.block_request.height)))

    def print_ready(self) -> None:
        while self.next_height is not None and self.next_height in self.ready:
            print(block_line(self.ready.pop(self.next_height)), flush=True)
            self.next_height += 1

    async def request_more(self) -> None:
        if self.next_height is None:
            return
        now = time.monotonic()
        for h, (_, at) in list(self.requested.items()):
            if now - at > REQUEST_TIMEOUT_S:
                del self.requested[h]
        h = self.next_height
        while len(self.requested) + len(self.ready) < self.max_inflight:
            while h in self.requested or h in self.ready:
                h += 1
            holders = [p for p in self.peers.values() if p.base <= h <= p.height]
            if not holders:
                return
            pr = min(holders, key=lambda p: sum(1 for c, _ in self.requested.values() if c == p.peer.connection_id))
            self.requested[h] = (pr.peer.connection_id, now)
            await self.send(pr.peer, encode(block_request=bs.BlockRequest(height=h)))


async def status_ticker(r: Reactor, interval_s: float) -> None:
    """Asks every peer for its height range every ``interval_s`` seconds."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await r.broadcast(BLOCKSYNC_CHANNEL.id, encode(status_request=bs.StatusRequest()))
        except (CommandError, ConnectionLostError) as err:
            log.info("status broadcast failed: %s", err)
        except ReactorClosedError:
            return


async def follow(target: str, name: str, max_inflight: int, status_interval_s: float, **options: Any) -> None:
    async with Reactor.attach(target, name, [BLOCKSYNC_CHANNEL], **options) as r:
        follower = Follower(r, max_inflight)
        ticker = asyncio.create_task(status_ticker(r, status_interval_s))
        try:
            async for event in r.events():
                if isinstance(event, Receive):
                    try:
                        await follower.on_message(event.peer, event.message)
                    except Exception as err:  # a peer's garbage must not stop us  # noqa: BLE001
                        log.warning("bad blocksync message from %s: %s", event.peer.peer_id[:8], err)
                elif isinstance(event, AddPeer):
                    await follower.on_add(event.peer)
                elif isinstance(event, RemovePeer):
                    await follower.on_remove(event.peer)
                elif isinstance(event, SessionEvent) and not event.resumed:
                    follower.reset()
        finally:
            ticker.cancel()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_connection_arguments(parser)  # --grpc, --tls-ca/--tls-cert/--tls-key/--tls-server-name, --token
    parser.add_argument("--name", default="blocksync", help="reactor name (the node's grpc.reactors) [blocksync]")
    parser.add_argument("--max-inflight", type=int, default=20, help="blocks requested ahead at most [20]")
    parser.add_argument("--status-interval", type=float, default=1.0, help="seconds between StatusRequests [1]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await follow(args.grpc, args.name, args.max_inflight, args.status_interval, **attach_options(args))
    except asyncio.CancelledError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
