"""The reactor: one attached stream to a Switchboard node, as asyncio.

Example — a reactor that echoes every message back to its sender::

    import asyncio
    from switchboard_reactor import ChannelDescriptor, Reactor, Receive

    async def main() -> None:
        channels = [ChannelDescriptor(0x70, priority=5, send_queue_capacity=100)]
        async with Reactor.attach("127.0.0.1:26670", "echo", channels) as r:
            async for event in r.events():
                if isinstance(event, Receive):
                    await r.send(event.peer, event.channel_id, event.message)

    asyncio.run(main())

Flow control: the node sends events only against credit. The reactor grants
a window (``window_messages`` events, ``window_bytes`` payload bytes) when it
attaches and gives credit back only for events the application consumed —
an event counts as consumed when the application asks for the next one. A
slow consumer therefore slows the node down (which, per channel, applies its
overflow policy) instead of filling this process's memory.

Re-attaching: when the stream breaks (node restart, network cut) the reactor
re-attaches by itself with exponential backoff (:class:`ReconnectPolicy`),
presenting its session token. The application then sees a
:class:`SessionEvent`: ``resumed=True`` when the node kept the session (no
event lost or repeated: resent events are dropped by number), or
``resumed=False`` with ``refused_reason`` when a fresh session began, followed
by the snapshot (``Start``, then ``InitPeer`` + ``AddPeer`` per peer).
Commands in flight when the stream broke fail with
:class:`ConnectionLostError`; commands issued while re-attaching wait for it.

Batching: what the reactor has to say at one moment — an ack, a credit grant,
every command issued meanwhile by any task — goes to the node as one stream
message (a ``RequestBatch``, within the limits the node tells in ``Registered``:
by default at most 1024 commands; see ``_outbox.py``), and
the node answers commands that complete together in one ``ResultBatch``.
Issue commands concurrently (tasks, :func:`asyncio.gather`) to benefit: a
loop that awaits each ``send`` has only one command to send at a time.

Logging: logger ``switchboard_reactor``. While the node cannot be reached it
says so at WARNING — at the first failed attempt, then every 30 s while it
lasts, naming the node's address and the next retry — and at INFO once it
is reached again (Python prints warnings on stderr even when logging is not
configured). State transitions are at DEBUG: set ``SB_CLIENT_TRACE=1`` to
print them on stderr. (Not ``SWITCHBOARD_*``: a node started in the same
shell would refuse the variable; ``SWITCHBOARD_REACTOR_TRACE`` still works
for one release, with a warning.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Generator, Sequence
from types import TracebackType
from typing import Any, Literal, Union

import grpc

from . import _convert as convert
from ._commands import Commands, PeerRef
from ._env import TRACE_ENV_VAR, getenv
from ._flow import DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_MESSAGES, FlowStats, Inbox
from ._gen.switchboard.gateway.v1 import gateway_pb2 as pb
from ._outbox import BATCH_OVERHEAD_BYTES, DEFAULT_MAX_MESSAGE_BYTES, Outbox, StreamWriter, limits_from, refusal
from ._unreachable import UNREACHABLE_WARNING_INTERVAL_S, Unreachable, attach_hint, seconds
from .backoff import ReconnectPolicy
from .errors import (
    CommandError,
    ConnectionLostError,
    ProtocolError,
    ReactorClosedError,
    ReconnectFailedError,
    RegistrationError,
    StreamError,
    SwitchboardError,
    status_code,
)
from .transport import DEFAULT_CHANNEL_OPTIONS, AttachStream, GrpcTransport, StreamStatus, Transport, normalize_target
from .types import (
    AddPeer,
    ChannelDescriptor,
    ErrorReason,
    Event,
    InitPeer,
    NodeInfo,
    Peer,
    Receive,
    RemovePeer,
    SessionEvent,
    Start,
    Stop,
)

__all__ = [
    "DEFAULT_MAX_INFLIGHT_COMMANDS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_REGISTER_TIMEOUT_S",
    "UNREACHABLE_WARNING_INTERVAL_S",
    "PeerRef",
    "Reactor",
    "ReactorState",
]

log = logging.getLogger("switchboard_reactor")
if getenv(TRACE_ENV_VAR) not in ("", "0"):
    # Tracing by environment variable: every state transition and re-attach attempt, on stderr.
    _trace = logging.StreamHandler()
    _trace.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(_trace)
    log.setLevel(logging.DEBUG)

#: Commands in flight at once; more wait for a slot. The node refuses more than 1024 per stream.
DEFAULT_MAX_INFLIGHT_COMMANDS = 1024
#: How long the node may take to answer Register, in seconds.
DEFAULT_REGISTER_TIMEOUT_S = 10.0

ReactorState = Literal["new", "attaching", "attached", "reattaching", "finished", "failed", "closed"]

#: Statuses after which an established stream is re-attached.
_RETRY_STREAM = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,  # the reactor fell behind: a fresh session follows
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    }
)
#: Registration refusals retried while re-attaching (ALREADY_EXISTS: the node has not yet noticed our old stream went).
_RETRY_REATTACH = _RETRY_STREAM | {grpc.StatusCode.ALREADY_EXISTS}


class _Done:
    """Terminal marker: the session ended after Stop (or the application closed the reactor)."""

    def __init__(self, why: str) -> None:
        self.why = why


_Item = Union[pb.Event, SessionEvent]


class Reactor(Commands):
    """A reactor attached to a node over one gRPC stream. Create it with :meth:`attach`.

    Events come from :meth:`events` (or :meth:`next_event`); commands are
    coroutines that return typed results and raise :class:`CommandError`.
    Only one task may consume events; any number may issue commands.
    """

    def __init__(
        self,
        name: str,
        channels: Sequence[ChannelDescriptor],
        *,
        transport: Transport,
        window_messages: int = DEFAULT_WINDOW_MESSAGES,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
        reconnect: ReconnectPolicy | None = None,
        register_timeout_s: float = DEFAULT_REGISTER_TIMEOUT_S,
        max_inflight_commands: int = DEFAULT_MAX_INFLIGHT_COMMANDS,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        session_token: str = "",
        target: str = "",
    ) -> None:
        if max_inflight_commands < 1:
            raise ValueError("max_inflight_commands must be at least 1")
        if max_message_bytes <= 2 * BATCH_OVERHEAD_BYTES:
            raise ValueError(f"max_message_bytes must be more than {2 * BATCH_OVERHEAD_BYTES}")
        self._max_message_bytes = max_message_bytes
        #: What the node accepts, from the last Registered (the fallback until one tells).
        self._limits = limits_from(None, max_message_bytes)
        self._name = name
        self._channels = tuple(channels)
        self._transport = transport
        #: The node's address, for messages ("" when unknown).
        self._node_target = target
        self._where = f"the node at {target}" if target else "the node"
        self._unreachable = Unreachable(name, target)
        self._inbox: Inbox[_Item] = Inbox(window_messages, window_bytes)
        self._reconnect = reconnect or ReconnectPolicy()
        self._register_timeout_s = register_timeout_s
        self._slots = asyncio.Semaphore(max_inflight_commands)
        self._token = session_token
        self._state: ReactorState = "new"
        self._stream: AttachStream | None = None
        self._node_info: NodeInfo | None = None
        self._stop_received = False
        self._terminal: BaseException | _Done | None = None
        self._closed = False
        self._consuming = False
        self._wakeup = asyncio.Event()
        #: Set while attached, and once terminal (so that waiting commands wake up either way).
        self._attached = asyncio.Event()
        self._finished = asyncio.Event()
        #: The writer of the attached stream (None while detached): every Ack, Credit and Command goes through it.
        self._writer: StreamWriter | None = None
        self._next_request_id = 1
        self._pending: dict[int, tuple[AttachStream, asyncio.Future[pb.CommandResult]]] = {}
        #: Peer connections the application has been told about (InitPeer seen, RemovePeer not yet).
        self._peers: dict[str, Peer] = {}
        self._supervisor: asyncio.Task[None] | None = None

    # ================================================================ creating

    @classmethod
    def attach(
        cls,
        target: str,
        name: str,
        channels: Sequence[ChannelDescriptor],
        *,
        window_messages: int = DEFAULT_WINDOW_MESSAGES,
        window_bytes: int = DEFAULT_WINDOW_BYTES,
        reconnect: ReconnectPolicy | None = None,
        register_timeout_s: float = DEFAULT_REGISTER_TIMEOUT_S,
        max_inflight_commands: int = DEFAULT_MAX_INFLIGHT_COMMANDS,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        session_token: str = "",
        token: str = "",
        credentials: grpc.ChannelCredentials | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
        transport: Transport | None = None,
    ) -> Attaching:
        """Attaches reactor ``name`` with its ``channels`` to the node at ``target`` (``host:port``).

        Use as ``async with Reactor.attach(...) as r:`` (closed on exit) or
        ``r = await Reactor.attach(...)`` (then ``await r.close()``).

        Attaching retries while the node is unreachable, for
        ``reconnect.connect_timeout_s`` (saying so at WARNING on logger
        ``switchboard_reactor``, at the first failed attempt and then every
        30 s), then raises :class:`RegistrationError` (``UNAVAILABLE``); a
        refusal (name taken, channel owned by another reactor, node already
        started, bad descriptor) raises :class:`RegistrationError` at once.
        Its ``str()`` names the reactor, the node, what the node said and
        what to do.

        :param window_messages: events the node may send ahead of the application (default 256).
        :param window_bytes: payload bytes the node may send ahead of the application (default 16 MiB).
        :param max_message_bytes: the largest gRPC message of the reactor's channel (default 110 MiB, the
            node's default ``grpc.max_message_bytes``); what it sends also keeps to the limit the node tells in
            ``Registered``. A command that cannot fit in one stream message of the smaller fails with
            :class:`CommandError` (INVALID_ARGUMENT, ``MESSAGE_TOO_LARGE``) without being sent, instead of
            making the node end the stream. The gRPC channel's own limits are raised to it when lower.
        :param session_token: resume a session of an earlier process (within the node's resume window).
        :param token: bearer token, for a node with ``grpc.credentials_file`` (a wrong one:
            :class:`RegistrationError` with ``UNAUTHENTICATED`` or ``PERMISSION_DENIED``).
        :param credentials: TLS credentials (:func:`tls_credentials`), for a gateway off loopback.
        :param channel_options: extra ``grpc.aio`` channel options.
        :param transport: replaces the gRPC transport (tests); ``target``, ``token``,
            ``credentials`` and ``channel_options`` are then ignored.
        """
        if transport is None:
            # The channel must let through (and take in) messages up to the node's limit; channel_options win.
            limits = dict(DEFAULT_CHANNEL_OPTIONS)
            sized = tuple(
                (key, max(int(limits[key]), max_message_bytes))
                for key in ("grpc.max_send_message_length", "grpc.max_receive_message_length")
            )
            transport = GrpcTransport(target, credentials=credentials, token=token, options=(*sized, *channel_options))
        t = transport
        reactor = cls(
            name,
            channels,
            transport=t,
            window_messages=window_messages,
            window_bytes=window_bytes,
            reconnect=reconnect,
            register_timeout_s=register_timeout_s,
            max_inflight_commands=max_inflight_commands,
            max_message_bytes=max_message_bytes,
            session_token=session_token,
            target=normalize_target(target),
        )
        return Attaching(reactor)

    # ================================================================ state

    @property
    def name(self) -> str:
        return self._name

    @property
    def channels(self) -> tuple[ChannelDescriptor, ...]:
        return self._channels

    @property
    def node_info(self) -> NodeInfo:
        """The node's NodeInfo from the last Registered."""
        if self._node_info is None:
            raise ReactorClosedError("not attached yet")
        return self._node_info

    @property
    def session_token(self) -> str:
        """The current session's token (pass it as ``session_token`` to resume from another process)."""
        return self._token

    @property
    def state(self) -> ReactorState:
        return self._state

    @property
    def stats(self) -> FlowStats:
        """Flow-control counters (credit granted, events consumed, duplicates dropped, ...)."""
        return self._inbox.stats

    @property
    def window(self) -> tuple[int, int]:
        """The credit window ``(messages, bytes)``."""
        return self._inbox.window_messages, self._inbox.window_bytes

    def _transition(self, to: ReactorState, why: str = "") -> None:
        if self._state != to:
            log.debug("reactor %s: %s -> %s%s", self._name, self._state, to, f" ({why})" if why else "")
            self._state = to

    # ================================================================ attaching

    async def _open(self) -> None:
        """The first attach: retries UNAVAILABLE for ``connect_timeout_s``, then starts the supervisor."""
        if self._state != "new":
            raise RuntimeError("Reactor.attach() result awaited twice")
        self._transition("attaching")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect.connect_timeout_s
        delays = self._reconnect.delays(max_attempts=None)
        next(delays)  # the first attempt goes at once
        try:
            while True:
                try:
                    await self._attach_once(reattach=False)
                    break
                except RegistrationError as err:
                    if err.code != grpc.StatusCode.UNAVAILABLE:
                        raise
                    remaining = deadline - loop.time()
                    delay = next(delays, None)
                    if remaining <= 0 or delay is None:
                        limit = "connect_timeout_s" if delay is not None else "max_attempts"
                        raise self._unreachable_error(err, self._unreachable.attempts + 1, limit) from err
                    delay = min(delay, remaining)
                    self._unreachable.failed(err.message, delay, gives_up_in=remaining)
                    log.debug("reactor %s: node unreachable, retrying: %s", self._name, err)
                    await asyncio.sleep(delay)
        except BaseException:
            self._transition("failed", "attach failed")
            await self._transport.close()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"switchboard-reactor-{self._name}")

    def _unreachable_error(self, err: RegistrationError, attempts: int, limit: str) -> RegistrationError:
        """The error for giving up on an unreachable node; ``limit`` is the ReconnectPolicy field that ended it."""
        elapsed = self._unreachable.elapsed()
        return RegistrationError(
            err.code,
            err.message,
            err.reason,
            context=(
                f'reactor "{self._name}": could not attach to {self._where} (gave up after {attempts} '
                f"{'attempt' if attempts == 1 else 'attempts'} in {seconds(elapsed)}; see ReconnectPolicy.{limit})"
            ),
            hint=attach_hint(err.code, err.message, self._name, self._node_target),
        )

    def _register_request(self, credit: tuple[int, int]) -> pb.AttachRequest:
        return pb.AttachRequest(
            register=pb.Register(
                reactor_name=self._name,
                channels=[convert.channel_to_pb(c) for c in self._channels],
                session_token=self._token,
                initial_credit=pb.Credit(messages=credit[0], bytes=credit[1]),
                batch_results=True,
            )
        )

    async def _attach_once(self, *, reattach: bool) -> None:
        stream = self._transport.open()
        asked_resume = self._token != ""
        register = self._register_request(self._inbox.begin_attachment())
        try:
            async with asyncio.timeout(self._register_timeout_s):
                await stream.write(register)
                first = await stream.read()
        except StreamStatus as st:
            stream.cancel()
            if st.code == grpc.StatusCode.UNAVAILABLE:
                raise RegistrationError(st.code, st.details, st.reason) from st
            raise RegistrationError(
                st.code,
                st.details,
                st.reason,
                context=f'reactor "{self._name}": {self._where} refused it',
                hint=attach_hint(st.code, st.details, self._name, self._node_target),
            ) from st
        except TimeoutError as err:
            stream.cancel()
            raise RegistrationError(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"no Registered within {self._register_timeout_s} s"
            ) from err
        except BaseException:
            stream.cancel()
            raise
        if first is None or first.WhichOneof("msg") != "registered":
            stream.cancel()
            what = "the end of the stream" if first is None else repr(first.WhichOneof("msg"))
            raise ProtocolError(f"expected Registered as the first message, got {what}")
        reg = first.registered
        self._unreachable.reached()
        self._inbox.on_registered(resumed=reg.resumed, next_event_seq=reg.next_event_seq, position_known=reattach)
        self._token = reg.session_token
        self._node_info = convert.node_info(reg.node_info)
        if not reg.resumed:
            self._stop_received = False
        if reattach or asked_resume:
            self._inbox.push_marker(SessionEvent(resumed=reg.resumed, refused_reason=reg.resume_refused_reason))
            log.info(
                "reactor %s: re-attached, %s",
                self._name,
                "session resumed" if reg.resumed else f"fresh session ({reg.resume_refused_reason or 'no resume'})",
            )
        self._stream = stream
        self._limits = limits_from(reg.limits if reg.HasField("limits") else None, self._max_message_bytes)
        self._writer = StreamWriter(stream, name=self._name, outbox=Outbox.for_limits(self._limits))
        self._attached.set()
        self._transition("attached", "resumed" if reg.resumed else "fresh session")
        self._wakeup.set()
        self._flush()

    # ================================================================ the stream

    async def _supervise(self) -> None:
        try:
            while True:
                stream = self._stream
                assert stream is not None
                ended: StreamStatus | None = None
                try:
                    await self._pump(stream)
                except StreamStatus as st:
                    ended = st
                self._detach(stream)
                if self._stop_received:
                    self._finish(_Done("the node stopped"))
                    return
                if ended is not None and ended.code not in _RETRY_STREAM:
                    raise StreamError(ended.code, ended.details, ended.reason)
                log.info(
                    "reactor %s: stream %s; re-attaching",
                    self._name,
                    "ended without Stop" if ended is None else f"broke ({ended.code.name}: {ended.details})",
                )
                await self._reattach()
        except asyncio.CancelledError:
            raise
        except BaseException as err:  # noqa: BLE001 - every failure must reach the application
            if self._stream is not None:
                self._detach(self._stream)
            self._finish(err)

    async def _pump(self, stream: AttachStream) -> None:
        """Reads the stream until it ends; raises :class:`StreamStatus` when it breaks."""
        while True:
            msg = await stream.read()
            if msg is None:
                return
            which = msg.WhichOneof("msg")
            if which == "events":
                for ev in msg.events.events:
                    kind = ev.WhichOneof("kind")
                    size = len(ev.receive.message) if kind == "receive" else 0
                    if self._inbox.accept(ev.seq, size, ev) and kind == "on_stop":
                        self._stop_received = True
                self._wakeup.set()
                self._flush()
            elif which == "result":
                self._resolve(msg.result)
            elif which == "results":
                for result in msg.results.results:
                    self._resolve(result)
            else:
                raise ProtocolError(f"unexpected {which!r} message on an attached stream")

    def _detach(self, stream: AttachStream) -> StreamWriter | None:
        """Forgets a stream that ended; returns its writer (stopped) if it was the attached one."""
        stream.cancel()
        writer = None
        if self._stream is stream:
            writer = self._writer
            self._stream = None
            self._writer = None
            self._attached.clear()
        if writer is not None:
            for q in writer.stop():
                if not q.result.done():
                    q.result.set_exception(
                        ConnectionLostError(f"request {q.command.request_id}: the stream broke before it was sent; the command did not run")
                    )
        for rid, (s, fut) in list(self._pending.items()):
            if s is stream and not fut.done():
                fut.set_exception(ConnectionLostError(f"request {rid}: the stream broke; the command may or may not have run"))
        return writer

    async def _reattach(self) -> None:
        self._transition("reattaching")
        last: BaseException | None = None
        delays = self._reconnect.delays()
        delay = next(delays, None)
        while delay is not None:
            if delay:
                await asyncio.sleep(delay)
            try:
                await self._attach_once(reattach=True)
                return
            except RegistrationError as err:
                if err.code not in _RETRY_REATTACH:
                    raise
                last = err
                delay = next(delays, None)
                if err.code == grpc.StatusCode.UNAVAILABLE and delay is not None:
                    self._unreachable.failed(err.message, delay)
                log.debug("reactor %s: re-attach failed, retrying: %s", self._name, err)
        raise ReconnectFailedError(
            f"gave up re-attaching after {self._reconnect.max_attempts} attempts: {last}"
        ) from last

    def _finish(self, outcome: BaseException | _Done) -> None:
        if self._terminal is None:
            self._terminal = outcome
        if isinstance(outcome, _Done):
            self._transition("finished", outcome.why)
        else:
            self._transition("failed", repr(outcome))
            log.warning("reactor %s: session failed: %s", self._name, outcome)
        for _, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(self._closed_error())
        self._attached.set()
        self._finished.set()
        self._wakeup.set()

    def _closed_error(self) -> SwitchboardError:
        t = self._terminal
        if isinstance(t, _Done):
            return ReactorClosedError(f"reactor {self._name!r}: {t.why}")
        err = ReactorClosedError(f"reactor {self._name!r} failed: {t}")
        err.__cause__ = t
        return err

    def _flush(self, *, force: bool = False) -> asyncio.Future[None] | None:
        """Queues the Ack and Credit that are due (see :class:`Inbox`) for the stream's writer.

        Queueing never waits, so a cancelled caller cannot lose credit counted as sent; the
        writer sends it with whatever else is queued. If the stream breaks first, the
        re-attach grants a fresh window instead. Returns a future resolved once they are
        written, or None when nothing was due.
        """
        writer = self._writer
        if writer is None:
            return None
        ack, credit = self._inbox.due(force=force)
        if ack is None and credit is None:
            return None
        self._inbox.mark_sent(ack, credit)
        return writer.flow(ack, credit)

    # ================================================================ events

    def events(self) -> AsyncIterator[Event]:
        """The events, in order; ends after :class:`Stop` when the node closes the stream.

        Raises what ended the session otherwise (:class:`StreamError`,
        :class:`ReconnectFailedError`, :class:`ProtocolError`). Credit for an
        event is given back when the loop asks for the next one::

            async for event in r.events():
                match event:
                    case AddPeer(peer):
                        await r.send(peer, 0x70, b"hello")
                    case Receive(peer, channel_id, message):
                        ...
        """
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.next_event()
            if event is None:
                return
            yield event

    async def next_event(self) -> Event | None:
        """The next event, or None once the session ended after Stop (or the reactor was closed).

        Calling it consumes the event returned before.
        """
        if self._consuming:
            raise RuntimeError("events are already being consumed by another task")
        self._consuming = True
        try:
            while True:
                if self._closed:
                    return None
                self._wakeup.clear()
                # Consume the event handed out before and send what that makes due, *then* take the
                # next one and return it without awaiting: a cancelled call loses no event.
                self._inbox.settle()
                written = self._flush()
                if written is not None:
                    # The credit goes out before the next event is handed over, so the node sends more
                    # while the application works through those waiting here (a loop that awaits nothing
                    # but next_event would otherwise hold it back until the inbox is empty).
                    await asyncio.shield(written)
                item = self._inbox.take()
                if item is not None:
                    event = self._to_event(item)
                    if event is not None:
                        return event
                    continue
                if self._terminal is not None:
                    if isinstance(self._terminal, _Done):
                        return None
                    raise self._terminal
                if self._inbox.waiting:
                    continue
                await self._wakeup.wait()
        finally:
            self._consuming = False

    def _peer(self, connection_id: str, peer_id: str) -> Peer:
        return self._peers.get(connection_id) or Peer(peer_id=peer_id, connection_id=connection_id)

    def _to_event(self, item: _Item) -> Event | None:
        if isinstance(item, SessionEvent):
            if not item.resumed:
                self._peers.clear()
            return item
        kind = item.WhichOneof("kind")
        if kind == "receive":
            m = item.receive
            return Receive(self._peer(m.connection_id, m.peer_id), m.channel_id, bytes(m.message))
        if kind == "init_peer":
            p = convert.peer(item.init_peer.peer)
            self._peers[p.connection_id] = p
            return InitPeer(p)
        if kind == "add_peer":
            return AddPeer(self._peer(item.add_peer.connection_id, item.add_peer.peer_id))
        if kind == "remove_peer":
            r = item.remove_peer
            known = self._peers.pop(r.connection_id, None)
            return RemovePeer(known or Peer(peer_id=r.peer_id, connection_id=r.connection_id), r.reason)
        if kind == "on_start":
            return Start()
        if kind == "on_stop":
            return Stop()
        log.warning("reactor %s: skipping event %d of an unknown kind (a newer node?)", self._name, item.seq)
        return None

    # ================================================================ commands

    async def _wait_attached(self) -> StreamWriter:
        while True:
            if self._terminal is not None:
                raise self._closed_error()
            if self._writer is not None:
                return self._writer
            await self._attached.wait()

    async def _command(self, what: str, expect: str, **kind: Any) -> pb.CommandResult:
        command = pb.Command(**kind)
        # A command the node would end the stream for (too large) fails here, and is never sent.
        limits = self._limits
        refused = refusal(command, limits)
        if refused is not None:
            raise refused
        # The slot is held from queueing until the result: it bounds the writer's queue too.
        async with self._slots:
            writer = await self._wait_attached()
            # It may have waited for a (re)attachment: checked again against that node's limits.
            if self._limits is not limits and (refused := refusal(command, self._limits)) is not None:
                raise refused
            rid = self._next_request_id
            self._next_request_id += 1
            command.request_id = rid
            fut: asyncio.Future[pb.CommandResult] = asyncio.get_running_loop().create_future()
            self._pending[rid] = (writer.stream, fut)
            try:
                # Queued, not written: the writer sends it with whatever else is queued when it runs.
                # A caller cancelled before that leaves a done future: the command is not sent.
                writer.command(command, fut)
                result = await fut
            finally:
                self._pending.pop(rid, None)
        if result.HasField("error"):
            e = result.error
            raise CommandError(status_code(e.code), e.message, ErrorReason.parse(e.reason))
        got = result.WhichOneof("kind")
        if got != expect:
            raise ProtocolError(f"{what}: expected a {expect!r} result, got {got!r}")
        return result

    def _resolve(self, result: pb.CommandResult) -> None:
        entry = self._pending.get(result.request_id)
        if entry is None:
            log.debug("reactor %s: result for unknown request %d (cancelled?)", self._name, result.request_id)
            return
        fut = entry[1]
        if not fut.done():
            fut.set_result(result)

    # ================================================================ closing

    async def wait_finished(self) -> None:
        """Waits until the session ended; raises what ended it unless it ended after Stop or close()."""
        await self._finished.wait()
        if isinstance(self._terminal, BaseException):
            raise self._terminal

    async def close(self) -> None:
        """Cancels the stream and releases the connection. Idempotent.

        Pending commands fail with :class:`ReactorClosedError`; an event loop
        in another task ends.
        """
        if self._closed:
            return
        self._closed = True
        if self._terminal is None:
            self._finish(_Done("closed by the application"))
        self._transition("closed")
        task, self._supervisor = self._supervisor, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        writer = self._detach(self._stream) if self._stream is not None else None
        await self._transport.close()
        if writer is not None:
            await writer.wait_stopped()

    async def __aenter__(self) -> Reactor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Attaching:
    """What :meth:`Reactor.attach` returns: ``async with`` it, or ``await`` it."""

    def __init__(self, reactor: Reactor) -> None:
        self._reactor = reactor

    async def _open(self) -> Reactor:
        await self._reactor._open()
        return self._reactor

    def __await__(self) -> Generator[Any, None, Reactor]:
        return self._open().__await__()

    async def __aenter__(self) -> Reactor:
        return await self._open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._reactor.close()
