#!/usr/bin/env python3
"""Ping-pong reactor on channel 0x70: pings every peer, answers pings, logs round-trip times.

    python examples/python/ping_pong.py --grpc 127.0.0.1:26670

Each peer gets a ping when it is added (AddPeer) and then every ``--interval``
seconds; each ping is answered with a pong carrying the ping's number and
send time, so the round trip is measured on the pinging side's own monotonic
clock. Every observation is one JSON line on stdout, e.g.::

    {"event": "rtt", "peer": "ab12…", "seq": 3, "rtt_ms": 0.912, "ts": "2026-11-21T08:00:00.123456Z"}

Other lines: ``started``, ``peer_added``, ``peer_removed``, ``session``, ``stopped``.
Messages are 17 bytes: kind (1 = ping, 2 = pong), then seq and the pinger's
send time in nanoseconds, both big-endian uint64.

Written in the callback style (:class:`BaseReactor`); exits 0 after the node stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import struct
import sys
import time
from datetime import datetime, timezone
from typing import Any

from switchboard_reactor import (
    BaseReactor,
    ChannelDescriptor,
    CommandError,
    ConnectionLostError,
    Envelope,
    Peer,
    ReactorClosedError,
    SessionEvent,
    run_reactor,
)
from switchboard_reactor.cli import add_connection_arguments, attach_options

PING_PONG_CHANNEL = 0x70
PING, PONG = 1, 2
_MESSAGE = struct.Struct(">BQQ")  # kind, seq, sent_ns


def log_line(event: str, **fields: Any) -> None:
    """One JSON object per line on stdout."""
    record = {"event": event, **fields, "ts": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
    print(json.dumps(record), flush=True)


def encode(kind: int, seq: int, sent_ns: int) -> bytes:
    return _MESSAGE.pack(kind, seq, sent_ns)


def decode(message: bytes) -> tuple[int, int, int] | None:
    if len(message) != _MESSAGE.size:
        return None
    kind, seq, sent_ns = _MESSAGE.unpack(message)
    return (kind, seq, sent_ns) if kind in (PING, PONG) else None


class PingPong(BaseReactor):
    def __init__(self, name: str, interval_s: float, count: int | None) -> None:
        super().__init__(name)
        self.interval_s = interval_s
        self.count = count
        #: One pinger task per peer connection.
        self.pingers: dict[str, asyncio.Task[None]] = {}
        self.seq = 0

    def get_channels(self) -> list[ChannelDescriptor]:
        return [ChannelDescriptor(PING_PONG_CHANNEL, priority=5, send_queue_capacity=100)]

    async def on_start(self) -> None:
        log_line("started", node=self.switch.node_info.node_id, network=self.switch.node_info.network)

    async def add_peer(self, peer: Peer) -> None:
        log_line("peer_added", peer=peer.peer_id, connection=peer.connection_id, outbound=peer.outbound)
        self.pingers[peer.connection_id] = asyncio.create_task(self._ping_loop(peer))

    async def remove_peer(self, peer: Peer, reason: str) -> None:
        log_line("peer_removed", peer=peer.peer_id, connection=peer.connection_id, reason=reason)
        task = self.pingers.pop(peer.connection_id, None)
        if task is not None:
            task.cancel()

    async def on_session(self, event: SessionEvent) -> None:
        log_line("session", resumed=event.resumed, refused_reason=event.refused_reason)
        if not event.resumed:  # a fresh session re-announces every peer
            self._cancel_all()

    async def on_stop(self) -> None:
        self._cancel_all()
        log_line("stopped")

    def _cancel_all(self) -> None:
        for task in self.pingers.values():
            task.cancel()
        self.pingers.clear()

    async def _ping_loop(self, peer: Peer) -> None:
        sent = 0
        while self.count is None or sent < self.count:
            self.seq += 1
            try:
                await self.switch.send(peer, PING_PONG_CHANNEL, encode(PING, self.seq, time.monotonic_ns()))
            except (CommandError, ConnectionLostError) as err:
                log_line("ping_failed", peer=peer.peer_id, error=str(err))
            except ReactorClosedError:
                return
            sent += 1
            if self.interval_s <= 0:
                return
            await asyncio.sleep(self.interval_s)

    async def receive(self, env: Envelope) -> None:
        msg = decode(env.message)
        if msg is None:
            log_line("malformed", peer=env.src.peer_id, size=len(env.message))
            return
        kind, seq, sent_ns = msg
        if kind == PING:
            # try_send: never hold up our event loop for a pong; a full queue just drops it.
            with contextlib.suppress(CommandError, ConnectionLostError):
                await self.switch.try_send(env.src, PING_PONG_CHANNEL, encode(PONG, seq, sent_ns))
        else:
            rtt_ms = (time.monotonic_ns() - sent_ns) / 1e6
            log_line("rtt", peer=env.src.peer_id, seq=seq, rtt_ms=round(rtt_ms, 3))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_connection_arguments(parser)  # --grpc, --tls-ca/--tls-cert/--tls-key/--tls-server-name, --token
    parser.add_argument("--name", default="app", help="reactor name (the node's grpc.reactors) [app]")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between pings per peer; 0 pings once [1]")
    parser.add_argument("--count", type=int, default=None, help="pings per peer connection [unlimited]")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await run_reactor(PingPong(args.name, args.interval, args.count), args.grpc, **attach_options(args))
    except asyncio.CancelledError:
        log_line("interrupted")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
