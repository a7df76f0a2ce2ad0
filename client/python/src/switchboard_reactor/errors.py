"""Typed errors of the SDK. Every failure the SDK reports is one of these.

::

    SwitchboardError
    ├── CommandError          a command failed; the stream lives on
    ├── RegistrationError     the node refused Register (the stream ended with a status)
    ├── StreamError           the stream ended with a status the SDK does not retry
    ├── ConnectionLostError   the stream broke while a command was in flight (outcome unknown)
    ├── ReconnectFailedError  re-attaching gave up (see ReconnectPolicy)
    ├── ProtocolError         the node broke the protocol (a gap in event numbers, ...)
    └── ReactorClosedError    the reactor was closed, or its session ended after Stop
"""

from __future__ import annotations

import grpc

from .types import ErrorReason

__all__ = [
    "CommandError",
    "ConnectionLostError",
    "ProtocolError",
    "ReactorClosedError",
    "ReconnectFailedError",
    "RegistrationError",
    "StreamError",
    "SwitchboardError",
    "status_code",
]


def status_code(value: int) -> grpc.StatusCode:
    """The :class:`grpc.StatusCode` of a numeric google.rpc.Code (UNKNOWN for values grpc does not know)."""
    for code in grpc.StatusCode:
        if code.value[0] == value:
            return code
    return grpc.StatusCode.UNKNOWN


class SwitchboardError(Exception):
    """Base class of every error the SDK raises."""


class _StatusError(SwitchboardError):
    """An error carrying a gRPC status code, a reason and the node's message.

    ``context`` (what was being done) comes first in ``str(err)`` and ``hint``
    (what to do about it, when the SDK knows) last; ``message`` stays the node's.

    >>> str(_StatusError(grpc.StatusCode.NOT_FOUND, "no such peer.", context="send", hint="Check the ID."))
    'send: NOT_FOUND: no such peer. Check the ID.'
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: ErrorReason = ErrorReason.UNSPECIFIED,
        *,
        context: str = "",
        hint: str = "",
    ) -> None:
        text = f"{code.name}: {message}" + ("" if reason is ErrorReason.UNSPECIFIED else f" ({reason.name})")
        if context:
            text = f"{context}: {text}"
        if hint:
            text = f"{text.rstrip('. ')}. {hint}"
        super().__init__(text)
        #: The gRPC status code, e.g. ``grpc.StatusCode.NOT_FOUND``.
        self.code = code
        #: The node's explanation; it names the offending field when there is one.
        self.message = message
        #: Why, beyond the code.
        self.reason = reason
        #: What to do about it, when the SDK knows ("" otherwise); it also ends ``str(err)``.
        self.hint = hint


class CommandError(_StatusError):
    """A command failed. The stream lives on: later commands and events are unaffected.

    >>> err = CommandError(grpc.StatusCode.NOT_FOUND, "send.peer_id: no connected peer ab", ErrorReason.UNKNOWN_PEER)
    >>> err.code.name, err.reason.name
    ('NOT_FOUND', 'UNKNOWN_PEER')
    """


class RegistrationError(_StatusError):
    """The node refused to register the reactor (bad name or channel, name taken, node already started, ...),
    or could not be reached for ``ReconnectPolicy.connect_timeout_s`` (``UNAVAILABLE``).

    ``str(err)`` is written for the person running the reactor: which reactor, which node, what the node
    said and, when the SDK knows, what to do (``hint``), e.g. for a taken name (``ALREADY_EXISTS``)::

        reactor "app": the node at 127.0.0.1:26670 refused it: ALREADY_EXISTS: reactor "app" is attached
        on another stream. The name "app" is taken on that node (by another process, or by another client
        in this one): stop that reactor, or give this one another name.

    The reason comes from the ``switchboard-error-reason`` trailer when the node sent one.
    """


class StreamError(_StatusError):
    """The node ended the stream with a status the SDK does not retry (e.g. INVALID_ARGUMENT)."""


class ConnectionLostError(SwitchboardError):
    """The stream broke while this command was in flight: the node may or may not have executed it.

    The SDK re-attaches by itself; retry the command if it is safe to repeat.
    """


class ReconnectFailedError(SwitchboardError):
    """The SDK gave up re-attaching after the stream broke (see :class:`ReconnectPolicy`)."""


class ProtocolError(SwitchboardError):
    """The node sent something the protocol does not allow (e.g. a gap in event numbers)."""


class ReactorClosedError(SwitchboardError):
    """The reactor was closed, or its session ended after :class:`~switchboard_reactor.Stop`."""
