"""The commands of a :class:`~switchboard_reactor.Reactor` (CometBFT's Switch and Peer methods a reactor calls),
as coroutines that return typed results and raise :class:`~switchboard_reactor.CommandError`. How a command
travels (batched with others, one slot per command in flight, re-sent never) is the reactor's
``_command``, in ``reactor.py``; the Go SDK's ``commands.go`` is the sibling of this file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

from . import _convert as convert
from ._gen.switchboard.gateway.v1 import gateway_pb2 as pb
from .types import BroadcastResult, Peer, PeerCounts, PeerStatus

#: Message bytes: anything bytes() accepts without copying twice.
Bytes = Union[bytes, bytearray, memoryview]

#: A peer, by connection (a :class:`Peer` from an event) or by node ID (whichever connection it has now).
PeerRef = Union[Peer, str]


class Commands:
    """The command methods of :class:`~switchboard_reactor.Reactor`, which provides :meth:`_command`."""

    async def _command(self, what: str, expect: str, **kind: Any) -> pb.CommandResult:
        """Sends one command and waits for its result, of kind ``expect``; raises CommandError."""
        raise NotImplementedError

    @staticmethod
    def _target(peer: PeerRef) -> dict[str, str]:
        if isinstance(peer, Peer):
            return {"connection_id": peer.connection_id, "peer_id": peer.peer_id}
        return {"connection_id": "", "peer_id": peer}

    async def send(self, peer: PeerRef, channel_id: int, message: Bytes, *, timeout_ms: int = 0) -> bool:
        """Queues ``message`` for ``peer`` on ``channel_id``, waiting up to ``timeout_ms`` for room
        (0: the node's send timeout, 10 s). Returns whether it was queued.

        A message too large for one stream message (``max_message_bytes``, the node's gRPC limit)
        fails with :class:`CommandError` (INVALID_ARGUMENT, ``MESSAGE_TOO_LARGE``) without being sent.

        ``peer`` is a :class:`Peer` from an event (that connection) or a node ID
        (whichever connection that node has now)::

            queued = await r.send(event.peer, 0x70, b"ping")
        """
        res = await self._command(
            "send",
            "send",
            send=pb.Send(**self._target(peer), channel_id=channel_id, message=bytes(message), timeout_ms=timeout_ms),
        )
        return res.send.queued

    async def try_send(self, peer: PeerRef, channel_id: int, message: Bytes) -> bool:
        """Queues ``message`` only if there is room now. Returns whether it was queued."""
        res = await self._command(
            "try_send", "send", try_send=pb.TrySend(**self._target(peer), channel_id=channel_id, message=bytes(message))
        )
        return res.send.queued

    async def broadcast(self, channel_id: int, message: Bytes) -> list[BroadcastResult]:
        """Sends ``message`` to every connected peer; one result per peer."""
        res = await self._command(
            "broadcast", "broadcast", broadcast=pb.Broadcast(channel_id=channel_id, message=bytes(message))
        )
        return convert.broadcast(res.broadcast)

    async def stop_peer_for_error(self, peer: PeerRef, reason: str = "", *, no_reconnect: bool = False) -> None:
        """Disconnects a misbehaving peer; persistent peers are redialled unless ``no_reconnect``."""
        await self._command(
            "stop_peer_for_error",
            "done",
            stop_peer_for_error=pb.StopPeerForError(**self._target(peer), reason=reason, no_reconnect=no_reconnect),
        )

    async def stop_peer_gracefully(self, peer: PeerRef, *, flush: bool = False) -> None:
        """Disconnects a peer without blame.

        With ``flush``, what is already queued to the peer is written out first
        (CometBFT's ``Peer.FlushStop``, as a seed does after answering PEX):
        from the call on the peer takes no new sends and delivers no more
        messages, and the call returns once it is removed (within the node's
        flush-stop timeout, 10 s).
        """
        await self._command(
            "stop_peer_gracefully", "done", stop_peer_gracefully=pb.StopPeerGracefully(**self._target(peer), flush=flush)
        )

    async def mark_peer_as_good(self, peer: PeerRef) -> None:
        """Tells the address book the peer is useful."""
        await self._command("mark_peer_as_good", "done", mark_peer_as_good=pb.MarkPeerAsGood(**self._target(peer)))

    async def dial_peers(self, addresses: Sequence[str], *, persistent: bool = False) -> None:
        """Dials ``id@host:port`` addresses in the background (watch for :class:`InitPeer`)."""
        await self._command(
            "dial_peers", "done", dial_peers=pb.DialPeers(addresses=list(addresses), persistent=persistent)
        )

    async def get_peer_data(self, peer: PeerRef, key: str) -> bytes | None:
        """A value of the per-peer store shared by reactors; None when absent."""
        res = await self._command(
            "get_peer_data", "peer_data", get_peer_data=pb.GetPeerData(**self._target(peer), key=key)
        )
        return bytes(res.peer_data.value) if res.peer_data.found else None

    async def set_peer_data(self, peer: PeerRef, key: str, value: Bytes) -> None:
        """Writes a value of the per-peer store shared by reactors.

        The node takes values of at most 63 KiB, and no command other than a send, try_send or
        broadcast over 64 KiB encoded: a command that large (value, key and peer together) fails
        with :class:`CommandError` (INVALID_ARGUMENT, ``INVALID_FIELD``) without being sent.
        """
        await self._command(
            "set_peer_data", "done", set_peer_data=pb.SetPeerData(**self._target(peer), key=key, value=bytes(value))
        )

    async def list_peers(self) -> list[Peer]:
        """The connected peers."""
        res = await self._command("list_peers", "peers", list_peers=pb.ListPeers())
        return convert.peers(res.peers.peers)

    async def num_peers(self) -> PeerCounts:
        """Peers counted as CometBFT's NumPeers does."""
        res = await self._command("num_peers", "num_peers", num_peers=pb.NumPeers())
        return convert.counts(res.num_peers)

    async def get_peer(self, peer: PeerRef) -> PeerStatus:
        """One connected peer (by node ID) with its connection status."""
        peer_id = peer.peer_id if isinstance(peer, Peer) else peer
        res = await self._command("get_peer", "peer", get_peer=pb.GetPeer(peer_id=peer_id))
        return convert.peer_status(res.peer)
