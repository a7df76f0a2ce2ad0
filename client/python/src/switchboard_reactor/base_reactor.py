"""The callback style: a class mirroring CometBFT's ``p2p.Reactor`` interface.

Example — reply "pong" to every "ping"::

    import asyncio
    from switchboard_reactor import BaseReactor, ChannelDescriptor, Envelope, run_reactor

    class Pong(BaseReactor):
        def get_channels(self):
            return [ChannelDescriptor(0x70, priority=5, send_queue_capacity=100)]

        async def receive(self, env: Envelope) -> None:
            if env.message == b"ping":
                await self.switch.send(env.src, env.channel_id, b"pong")

    asyncio.run(run_reactor(Pong("app"), "127.0.0.1:26670"))

:func:`run_reactor` calls the methods one at a time, in event order, and
waits for each to return before it asks for the next event — as a Go reactor
whose ``Receive`` has not returned holds back its peer, a slow method here
holds back the node (through credit). Start a task from a method to do work
concurrently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .reactor import Reactor
from .types import (
    AddPeer,
    ChannelDescriptor,
    InitPeer,
    Peer,
    Receive,
    RemovePeer,
    SessionEvent,
    Start,
    Stop,
)

__all__ = ["BaseReactor", "Envelope", "run_reactor"]


@dataclass(frozen=True)
class Envelope:
    """A received message (CometBFT's ``p2p.Envelope``)."""

    src: Peer
    channel_id: int
    message: bytes = field(repr=False)


class BaseReactor:
    """Override the methods you need; the defaults do nothing.

    ``switch`` is the attached :class:`Reactor` (set by :meth:`set_switch`
    before :meth:`on_start`): use it for commands (``await self.switch.send(...)``).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._switch: Reactor | None = None

    # -- registration -------------------------------------------------------

    def get_channels(self) -> Sequence[ChannelDescriptor]:
        """The channels this reactor handles (asked once, when attaching)."""
        raise NotImplementedError(f"{type(self).__name__}.get_channels")

    def set_switch(self, switch: Reactor) -> None:
        self._switch = switch

    @property
    def switch(self) -> Reactor:
        if self._switch is None:
            raise RuntimeError("the reactor is not attached yet (set_switch was not called)")
        return self._switch

    # -- service --------------------------------------------------------------

    async def on_start(self) -> None:
        """The node started (also at the start of a fresh session)."""

    async def on_stop(self) -> None:
        """The node is stopping; the session ends after this."""

    # -- peers ------------------------------------------------------------------

    async def init_peer(self, peer: Peer) -> None:
        """A new peer connection; do not send to it yet."""

    async def add_peer(self, peer: Peer) -> None:
        """The peer connection started; sending is allowed."""

    async def remove_peer(self, peer: Peer, reason: str) -> None:
        """The peer connection stopped (``reason`` is empty for a graceful stop)."""

    async def receive(self, env: Envelope) -> None:
        """A message from a peer on one of this reactor's channels."""

    async def on_session(self, event: SessionEvent) -> None:
        """The SDK re-attached (see :class:`SessionEvent`); on a fresh session forget every peer."""


async def run_reactor(reactor: BaseReactor, target: str, **attach_options: Any) -> None:
    """Attaches ``reactor`` to the node at ``target`` and calls its methods until the node stops.

    Returns after :meth:`BaseReactor.on_stop` once the node ended the stream;
    raises what ended the session otherwise, or what a method raised (the
    stream is closed first). ``attach_options`` go to :meth:`Reactor.attach`.
    """
    async with Reactor.attach(target, reactor.name, reactor.get_channels(), **attach_options) as switch:
        reactor.set_switch(switch)
        async for event in switch.events():
            if isinstance(event, Receive):
                await reactor.receive(Envelope(event.peer, event.channel_id, event.message))
            elif isinstance(event, InitPeer):
                await reactor.init_peer(event.peer)
            elif isinstance(event, AddPeer):
                await reactor.add_peer(event.peer)
            elif isinstance(event, RemovePeer):
                await reactor.remove_peer(event.peer, event.reason)
            elif isinstance(event, Start):
                await reactor.on_start()
            elif isinstance(event, Stop):
                await reactor.on_stop()
            elif isinstance(event, SessionEvent):
                await reactor.on_session(event)
