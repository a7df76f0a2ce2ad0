"""The transport under a :class:`~switchboard_reactor.Reactor`: one Attach stream at a time.

:class:`GrpcTransport` is the real one (``grpc.aio``). The reactor only sees
the small :class:`Transport`/:class:`AttachStream` protocols, so its logic is
tested against an in-memory fake, and tests can wrap the real transport to
record what goes over the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import grpc
import grpc.aio

# grpc's published type stubs lag behind grpc.aio (EOF, Metadata, optional arguments): use it untyped.
_aio: Any = grpc.aio

from ._gen.switchboard.gateway.v1 import gateway_pb2 as pb
from .types import ErrorReason

__all__ = [
    "ATTACH_METHOD",
    "DEFAULT_CHANNEL_OPTIONS",
    "AttachStream",
    "GrpcTransport",
    "StreamStatus",
    "Transport",
    "normalize_target",
    "tls_credentials",
]

#: The full gRPC method name of Attach.
ATTACH_METHOD = "/switchboard.gateway.v1.ReactorGatewayService/Attach"
#: Trailer in which the node names the ErrorReason of a status that ended a stream.
REASON_TRAILER = "switchboard-error-reason"

#: gRPC channel options: messages up to 128 MiB (a blocksync block may be ~100 MiB; the node's
#: own limit is grpc.max_message_bytes = 110 MiB), and quick reconnects of the HTTP/2 connection.
DEFAULT_CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 128 * 1024 * 1024),
    ("grpc.max_send_message_length", 128 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


class StreamStatus(Exception):
    """The stream ended with a non-OK status (or could not be written)."""

    def __init__(self, code: grpc.StatusCode, details: str, reason: ErrorReason = ErrorReason.UNSPECIFIED) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details
        self.reason = reason


class AttachStream(Protocol):
    """One Attach call."""

    async def write(self, request: pb.AttachRequest) -> None:
        """Sends one message; raises :class:`StreamStatus` when the stream is gone."""

    async def read(self) -> pb.AttachResponse | None:
        """The next message; None when the node ended the stream with OK; raises :class:`StreamStatus` otherwise."""

    def cancel(self) -> None:
        """Ends the call from our side (idempotent)."""


class Transport(Protocol):
    """Opens Attach calls to one node."""

    def open(self) -> AttachStream:
        """Starts a new Attach call."""

    async def close(self) -> None:
        """Releases the connection; open streams are cancelled."""


def normalize_target(target: str) -> str:
    """``tcp://host:port`` and ``host:port`` both become ``host:port``; ``unix://`` paths become ``unix:``.

    >>> normalize_target("tcp://127.0.0.1:26670"), normalize_target("unix:///run/sb.sock")
    ('127.0.0.1:26670', 'unix:/run/sb.sock')
    """
    if target.startswith("tcp://"):
        return target[len("tcp://") :]
    if target.startswith("unix://"):
        return "unix:" + target[len("unix://") :]
    return target


def _reason_of(err: grpc.aio.AioRpcError) -> ErrorReason:
    try:
        metadata: Any = err.trailing_metadata() or ()
        for key, value in metadata:
            if key == REASON_TRAILER:
                return ErrorReason.parse(value if isinstance(value, str) else value.decode())
    except Exception:  # a malformed trailer is not worth failing for
        pass
    return ErrorReason.UNSPECIFIED


class _GrpcAttachStream:
    def __init__(self, call: Any) -> None:
        # grpc.aio.StreamStreamCall; typed loosely because grpc's stubs lag behind grpc.aio.
        self._call = call

    async def write(self, request: pb.AttachRequest) -> None:
        try:
            await self._call.write(request)
        except grpc.aio.AioRpcError as err:
            raise StreamStatus(err.code(), err.details() or "", _reason_of(err)) from err
        except Exception as err:  # the call is already done (InvalidStateError, UsageError, ...)
            raise StreamStatus(grpc.StatusCode.UNAVAILABLE, f"stream closed: {err!r}") from err

    async def read(self) -> pb.AttachResponse | None:
        try:
            msg = await self._call.read()
        except grpc.aio.AioRpcError as err:
            raise StreamStatus(err.code(), err.details() or "", _reason_of(err)) from err
        if msg is _aio.EOF:
            code = await self._call.code()
            if code != grpc.StatusCode.OK:
                raise StreamStatus(code, await self._call.details() or "")
            return None
        assert isinstance(msg, pb.AttachResponse)
        return msg

    def cancel(self) -> None:
        self._call.cancel()


def tls_credentials(
    *, ca_file: str | None = None, cert_file: str | None = None, key_file: str | None = None
) -> grpc.ChannelCredentials:
    """TLS credentials for a node whose gateway serves TLS (required off loopback).

    ``ca_file`` verifies the node (default: the system's roots); ``cert_file`` and
    ``key_file`` (PEM) present a client certificate, for mutual TLS. To verify a
    name other than the target's host, pass the channel option
    ``("grpc.ssl_target_name_override", name)``.
    """
    if (cert_file is None) != (key_file is None):
        raise ValueError("tls_credentials: cert_file and key_file go together")

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(
        root_certificates=read(ca_file), private_key=read(key_file), certificate_chain=read(cert_file)
    )


class GrpcTransport:
    """Attach calls over a ``grpc.aio`` channel, created on first use (inside the running loop).

    ``token`` is sent as ``authorization: Bearer <token>`` on every call (for a
    node with ``grpc.credentials_file``); ``credentials`` enable TLS (see
    :func:`tls_credentials`).

    >>> t = GrpcTransport("tcp://127.0.0.1:26670")
    >>> t.target
    '127.0.0.1:26670'
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        token: str = "",
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.target = normalize_target(target)
        self._credentials = credentials
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        merged = dict(DEFAULT_CHANNEL_OPTIONS)
        merged.update(dict(options))
        self._options = list(merged.items())
        self._channel: Any = None  # grpc.aio.Channel
        self._calls: list[_GrpcAttachStream] = []

    def open(self) -> AttachStream:
        if self._channel is None:
            if self._credentials is None:
                self._channel = _aio.insecure_channel(self.target, options=self._options)
            else:
                self._channel = _aio.secure_channel(self.target, self._credentials, options=self._options)
        method = self._channel.stream_stream(
            ATTACH_METHOD,
            request_serializer=pb.AttachRequest.SerializeToString,
            response_deserializer=pb.AttachResponse.FromString,
        )
        stream = _GrpcAttachStream(method(metadata=self._metadata))
        self._calls = [stream]  # only the newest call is ever live
        return stream

    async def close(self) -> None:
        for call in self._calls:
            call.cancel()
        self._calls = []
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close(None)
