"""The SDK's public value types: channels, peers, events and command results.

Everything here is a frozen dataclass or an enum, independent of protobuf, so
that application code never handles generated messages. Conversions from the
wire live in :mod:`switchboard_reactor._convert`.

Events follow CometBFT's reactor grammar, per peer connection::

    Start *(InitPeer *Receive [AddPeer *Receive] RemovePeer) Stop

A :class:`SessionEvent` is the SDK's own: it marks a re-attach (see
:class:`SessionEvent`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "AddPeer",
    "BroadcastResult",
    "ChannelDescriptor",
    "ChannelStatus",
    "ErrorReason",
    "Event",
    "InitPeer",
    "NodeInfo",
    "OverflowPolicy",
    "Peer",
    "PeerCounts",
    "PeerStatus",
    "Receive",
    "RemovePeer",
    "SessionEvent",
    "Start",
    "Stop",
]


class OverflowPolicy(enum.IntEnum):
    """What the node does when a channel's events do not fit the reactor's queue.

    Values are those of ``switchboard.gateway.v1.OverflowPolicy``.
    """

    #: The node's default (``grpc.default_overflow_policy``, BLOCK unless configured).
    UNSPECIFIED = 0
    #: Stop reading the sending peer until there is room (as a Go reactor whose Receive has not returned).
    BLOCK = 1
    #: Drop the message that did not fit.
    DROP_NEWEST = 2
    #: Drop the oldest queued message of the same channel.
    DROP_OLDEST = 3
    #: Disconnect the peer whose message did not fit.
    DISCONNECT_PEER = 4


class ErrorReason(enum.IntEnum):
    """Why a command (or a registration) failed, beyond its gRPC status code.

    Values are those of ``switchboard.gateway.v1.ErrorReason``; unknown values
    from a newer node are reported as :attr:`UNSPECIFIED`.
    """

    UNSPECIFIED = 0
    UNKNOWN_PEER = 1
    PEER_REMOVED = 2
    CHANNEL_NOT_REGISTERED = 3
    MESSAGE_TOO_LARGE = 4
    CHANNEL_NOT_SUPPORTED_BY_PEER = 5
    INVALID_ADDRESS = 6
    PEER_DATA_FULL = 7
    INVALID_FIELD = 8
    NOT_REGISTERED = 9
    NODE_NOT_RUNNING = 10
    TOO_MANY_COMMANDS = 11

    @classmethod
    def parse(cls, value: int | str) -> ErrorReason:
        """From a wire number or a name such as ``"ERROR_REASON_UNKNOWN_PEER"``; unknown → UNSPECIFIED."""
        if isinstance(value, str):
            name = value.removeprefix("ERROR_REASON_")
            return cls.__members__.get(name, cls.UNSPECIFIED)
        try:
            return cls(value)
        except ValueError:
            return cls.UNSPECIFIED


@dataclass(frozen=True)
class ChannelDescriptor:
    """A channel the reactor handles (CometBFT's ``ChannelDescriptor``).

    Zero means "the node's default" for the capacities.

    >>> BLOCKSYNC = ChannelDescriptor(0x40, priority=5, send_queue_capacity=1000,
    ...                               recv_message_capacity=104857605)
    >>> BLOCKSYNC.id
    64
    """

    #: 0..255.
    id: int
    #: Relative share of the connection's send bandwidth; at least 1.
    priority: int = 1
    #: Messages queued per peer before Send waits (0: the node's default, 1).
    send_queue_capacity: int = 0
    #: Initial reassembly buffer in bytes (0: the default, 4096).
    recv_buffer_capacity: int = 0
    #: Largest message accepted on this channel, in bytes (0: the default, 22020096).
    recv_message_capacity: int = 0
    #: What the node does when this channel's events do not fit the reactor's queue.
    overflow_policy: OverflowPolicy = OverflowPolicy.UNSPECIFIED


@dataclass(frozen=True)
class NodeInfo:
    """A node's self-description, as peers see it (CometBFT's ``DefaultNodeInfo``)."""

    node_id: str
    listen_addr: str = ""
    network: str = ""
    version: str = ""
    #: The channel IDs the node advertises.
    channels: bytes = b""
    moniker: str = ""
    p2p_version: int = 0
    block_version: int = 0
    app_version: int = 0
    tx_index: str = ""
    rpc_address: str = ""


@dataclass(frozen=True)
class Peer:
    """One peer connection.

    ``connection_id`` is unique per connection: when the same node reconnects
    it gets a new one. Commands given a :class:`Peer` name its connection, so
    they fail with :attr:`ErrorReason.PEER_REMOVED` once that connection is
    gone instead of reaching a newer connection of the same node; commands
    given a bare peer ID reach whichever connection that node has now.
    """

    peer_id: str
    connection_id: str
    outbound: bool = False
    persistent: bool = False
    unconditional: bool = False
    #: host:port of the TCP connection.
    remote_address: str = ""
    #: id@host:port to reach the peer.
    socket_address: str = ""
    node_info: NodeInfo | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Start:
    """OnStart: the node's Switch started. The first event of a session."""


@dataclass(frozen=True)
class Stop:
    """OnStop: the node is stopping. The last event; the stream ends after it."""


@dataclass(frozen=True)
class InitPeer:
    """A new peer connection. Do not send to it yet: wait for :class:`AddPeer`."""

    peer: Peer


@dataclass(frozen=True)
class AddPeer:
    """The peer connection started: sending to it is allowed."""

    peer: Peer


@dataclass(frozen=True)
class Receive:
    """A message from a peer on one of this reactor's channels."""

    peer: Peer
    channel_id: int
    message: bytes = field(repr=False)


@dataclass(frozen=True)
class RemovePeer:
    """The peer connection stopped; nothing more comes from it."""

    peer: Peer
    #: Why it stopped; empty for a graceful stop.
    reason: str = ""


@dataclass(frozen=True)
class SessionEvent:
    """The SDK re-attached to the node after its stream was interrupted.

    ``resumed=True``: the node kept the session; no event was lost or repeated,
    and the events go on as if nothing happened. Commands that were in flight
    when the stream broke failed with :class:`~switchboard_reactor.ConnectionLostError`.

    ``resumed=False``: the node refused to resume (``refused_reason`` says why,
    e.g. the resume window passed). A fresh session began: events the
    application had not yet received are lost, and a snapshot follows —
    :class:`Start`, then :class:`InitPeer` and :class:`AddPeer` for every
    connected peer. Forget all peer state when you see it.
    """

    resumed: bool
    refused_reason: str = ""


#: Everything :meth:`Reactor.events` yields.
Event = Union[Start, Stop, InitPeer, AddPeer, Receive, RemovePeer, SessionEvent]


@dataclass(frozen=True)
class BroadcastResult:
    """Whether a broadcast message was queued for one peer."""

    peer_id: str
    queued: bool


@dataclass(frozen=True)
class PeerCounts:
    """Peers counted as CometBFT's ``NumPeers`` does (unconditional peers not counted)."""

    outbound: int
    inbound: int
    dialing: int


@dataclass(frozen=True)
class ChannelStatus:
    """One channel's state on a connection."""

    id: int
    send_queue_capacity: int
    send_queue_size: int
    priority: int
    recently_sent: int


@dataclass(frozen=True)
class PeerStatus:
    """A connected peer with its connection status (``GetPeer``)."""

    peer: Peer
    bytes_sent: int
    bytes_received: int
    #: Bytes per second.
    send_rate: int
    #: Bytes per second.
    recv_rate: int
    channels: tuple[ChannelStatus, ...]
    #: Seconds since the connection was added.
    duration_seconds: int
