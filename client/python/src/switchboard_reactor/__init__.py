"""Switchboard reactor SDK: write CometBFT reactors in Python, attached to a Switchboard node over gRPC.

Two styles:

* the event loop — ``async with Reactor.attach(target, name, channels) as r:``
  then ``async for event in r.events():`` and ``await r.send(...)``;
* callbacks — subclass :class:`BaseReactor` (``receive``, ``add_peer``, ...)
  and ``await run_reactor(MyReactor("app"), target)``.

See :mod:`switchboard_reactor.reactor` for flow control and re-attaching.
"""

from ._flow import DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_MESSAGES, FlowStats
from .backoff import ReconnectPolicy
from .base_reactor import BaseReactor, Envelope, run_reactor
from .errors import (
    CommandError,
    ConnectionLostError,
    ProtocolError,
    ReactorClosedError,
    ReconnectFailedError,
    RegistrationError,
    StreamError,
    SwitchboardError,
)
from .reactor import Attaching, PeerRef, Reactor, ReactorState
from .transport import AttachStream, GrpcTransport, StreamStatus, Transport, tls_credentials
from .types import (
    AddPeer,
    BroadcastResult,
    ChannelDescriptor,
    ChannelStatus,
    ErrorReason,
    Event,
    InitPeer,
    NodeInfo,
    OverflowPolicy,
    Peer,
    PeerCounts,
    PeerStatus,
    Receive,
    RemovePeer,
    SessionEvent,
    Start,
    Stop,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_WINDOW_BYTES",
    "DEFAULT_WINDOW_MESSAGES",
    "AddPeer",
    "AttachStream",
    "Attaching",
    "BaseReactor",
    "BroadcastResult",
    "ChannelDescriptor",
    "ChannelStatus",
    "CommandError",
    "ConnectionLostError",
    "Envelope",
    "ErrorReason",
    "Event",
    "FlowStats",
    "GrpcTransport",
    "InitPeer",
    "NodeInfo",
    "OverflowPolicy",
    "Peer",
    "PeerCounts",
    "PeerRef",
    "PeerStatus",
    "ProtocolError",
    "Reactor",
    "ReactorClosedError",
    "ReactorState",
    "Receive",
    "ReconnectFailedError",
    "ReconnectPolicy",
    "RegistrationError",
    "RemovePeer",
    "SessionEvent",
    "Start",
    "Stop",
    "StreamError",
    "StreamStatus",
    "SwitchboardError",
    "Transport",
    "run_reactor",
    "tls_credentials",
]
