"""The outbox: what a reactor has to say on one stream, coalesced into as few stream messages as possible.

Every gRPC stream message costs the client and the node far more than its
bytes (framing, a write through the HTTP/2 stack, a wake-up on each side), so
the reactor never writes acks, credit and commands as they come. It queues
them here, and one writer task per stream (:class:`StreamWriter`) writes
*everything queued when it gets to run* as one ``RequestBatch`` — the node
applies the ack, then the credit, then the commands in order, exactly as if
they had been sent one by one. Commands issued back to back (a loop of
``create_task(r.send(...))``, many tasks at once, or while the previous write
is still on its way) therefore share a stream message.

Rules
    * Order: commands are written in the order they were queued. The ack and
      credit go first in the message that carries them; they concern events,
      not commands, so that changes nothing.
    * Coalescing: acks keep the highest number, credits add up.
    * The limits are the node's, told in ``Registered.limits``
      (:func:`limits_from`); a node too old to tell is held to
      :data:`FALLBACK_LIMITS`, what nodes enforced before.
    * A message carries at most the node's ``max_batch_commands`` commands
      (1024) and stops taking commands once they reach its
      ``max_batch_payload_bytes`` (1 MiB) serialized bytes, or its largest
      message (one larger command still goes, alone); what is left goes in the
      next message.
    * A message that carries any command other than send, try_send and
      broadcast stays within the node's ``max_control_request_bytes`` (64 KiB)
      in all: the node decodes a larger request only if every command in it is
      one of those three, and ends the stream otherwise. So such a command
      closes the message when it would take it over that, and a batch of
      payload commands that is already over it takes no other command.
    * A message with only one part (an ack, a credit or one command) goes as
      that plain message; there is nothing to coalesce.
    * A command whose caller gave up (its future is done) before it was
      written is not sent.

Sizes checked before queueing (:func:`refusal`)
    A command that could not go even alone — any command larger than the
    node's message limit (or the reactor's ``max_message_bytes``, if smaller), or
    a command other than send, try_send and broadcast larger than the node's
    ``max_control_request_bytes`` — fails with
    :class:`~switchboard_reactor.CommandError` (INVALID_ARGUMENT) before it is
    queued: written, it would make the node end the stream.

Limits
    The queue holds commands from the moment they are issued until they are
    written. Commands take an in-flight slot before they are queued (the
    reactor's ``max_inflight_commands``, default 1024, the node's own limit),
    so at most that many wait here; more wait for a slot, outside. Acks and
    credit take one merged entry.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, replace

from ._gen.switchboard.gateway.v1 import gateway_pb2 as pb
import grpc

from .errors import CommandError, ConnectionLostError
from .transport import AttachStream, StreamStatus
from .types import ErrorReason

__all__ = [
    "BATCH_OVERHEAD_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "FALLBACK_LIMITS",
    "Limits",
    "Outbox",
    "StreamWriter",
    "limits_from",
    "refusal",
]

log = logging.getLogger("switchboard_reactor")



@dataclass(frozen=True)
class Limits:
    """What the node accepts on a stream: ``Registered.limits`` (gateway.proto), every field set."""

    #: Commands in one RequestBatch; the node runs none of a batch with more.
    max_batch_commands: int
    #: Serialized command bytes after which a RequestBatch takes no more commands (one larger command goes alone):
    #: far past the point where per-message costs stop mattering, and far below the message limit.
    max_batch_bytes: int
    #: The node's limit on an AttachRequest that is not made large by message payloads: it decodes a larger
    #: request only when every command in it is a send, try_send or broadcast (and its ack and credit are small),
    #: and otherwise ends the stream with INVALID_ARGUMENT. A stream message holding any other command stays within.
    max_control_request_bytes: int
    #: The largest gRPC message the node receives (its grpc.max_message_bytes), and no more than the reactor's own
    #: ``max_message_bytes``.
    max_message_bytes: int


#: What nodes enforced before they told their limits in Registered: used only for a node that tells none.
FALLBACK_LIMITS = Limits(
    max_batch_commands=1024,
    max_batch_bytes=1024 * 1024,
    max_control_request_bytes=64 * 1024,
    max_message_bytes=110 * 1024 * 1024,
)


def limits_from(told: pb.Limits | None, own_max_message_bytes: int) -> Limits:
    """The limits a Registered told (None from a node older than them): each field the node left 0 is the fallback's.

    >>> limits_from(None, 1 << 30) == FALLBACK_LIMITS
    True
    >>> l = limits_from(pb.Limits(max_batch_commands=8, max_message_bytes=1 << 30), 1 << 20)
    >>> l.max_batch_commands, l.max_batch_bytes, l.max_message_bytes
    (8, 1048576, 1048576)
    """
    f = FALLBACK_LIMITS
    if told is None:
        return replace(f, max_message_bytes=min(f.max_message_bytes, own_max_message_bytes))
    return Limits(
        max_batch_commands=told.max_batch_commands or f.max_batch_commands,
        max_batch_bytes=told.max_batch_payload_bytes or f.max_batch_bytes,
        max_control_request_bytes=told.max_control_request_bytes or f.max_control_request_bytes,
        max_message_bytes=min(told.max_message_bytes or f.max_message_bytes, own_max_message_bytes),
    )


#: The most a stream message adds around its commands: the AttachRequest's tag and length (6), an Ack (13)
#: and a Credit (24) with their tags and lengths; rounded up.
BATCH_OVERHEAD_BYTES = 64
#: The largest gRPC message the reactor's channel sends or receives (the node's default grpc.max_message_bytes,
#: 110 MiB): the reactor's default ``max_message_bytes``. What it sends also keeps to the node's own limit.
DEFAULT_MAX_MESSAGE_BYTES = FALLBACK_LIMITS.max_message_bytes
#: Command kinds that carry a message payload: the only ones that may make a request larger than the node's
#: ``max_control_request_bytes``.
PAYLOAD_KINDS = frozenset({"send", "try_send", "broadcast"})

#: Writer tasks not yet ended (a strong reference to each).
_RUNNING: set[asyncio.Task[None]] = set()

#: What waits for a command's result.
ResultFuture = asyncio.Future[pb.CommandResult]


def _varint_size(n: int) -> int:
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def wire_size(command: pb.Command) -> int:
    """The bytes ``command`` takes in a stream message: its encoding, with its tag and length."""
    n = command.ByteSize()
    return 1 + _varint_size(n) + n


def is_payload(command: pb.Command) -> bool:
    """A send, try_send or broadcast: a command that may make a request larger than 64 KiB."""
    return command.WhichOneof("kind") in PAYLOAD_KINDS


def refusal(command: pb.Command, limits: Limits = FALLBACK_LIMITS) -> CommandError | None:
    """Why ``command`` cannot be sent at all, even alone in a stream message; None if it can.

    ``limits`` are the node's (:func:`limits_from`). The sizes are counted with the largest
    request ID and the largest ack and credit a message may carry along, so a command accepted here
    always fits alone. A refused command must not be written: the node would end the stream.

    >>> small = pb.Command(set_peer_data=pb.SetPeerData(peer_id="p", key="k", value=bytes(100)))
    >>> refusal(small) is None
    True
    >>> big = pb.Command(set_peer_data=pb.SetPeerData(peer_id="p", key="k", value=bytes(70_000)))
    >>> refusal(big).reason.name, refusal(big).code.name
    ('INVALID_FIELD', 'INVALID_ARGUMENT')
    >>> refusal(pb.Command(send=pb.Send(peer_id="p", message=bytes(70_000)))) is None
    True
    >>> refusal(pb.Command(send=pb.Send(peer_id="p", message=bytes(70_000))), replace(FALLBACK_LIMITS, max_message_bytes=65536)).reason.name
    'MESSAGE_TOO_LARGE'
    >>> refusal(small, replace(FALLBACK_LIMITS, max_control_request_bytes=128)).reason.name
    'INVALID_FIELD'
    """
    max_message_bytes = limits.max_message_bytes
    max_control = limits.max_control_request_bytes
    kind = command.WhichOneof("kind")
    # The request ID is assigned when the command gets its slot: count the largest one (a tag and 10 bytes).
    size = wire_size(command) + (0 if command.request_id else 11) + BATCH_OVERHEAD_BYTES
    if size > max_message_bytes:
        return CommandError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{kind}: the command takes about {size} bytes encoded, more than the largest message "
            f"({max_message_bytes} bytes: the node's grpc.max_message_bytes, or max_message_bytes if smaller); it was not sent",
            ErrorReason.MESSAGE_TOO_LARGE,
        )
    if kind not in PAYLOAD_KINDS and size > max_control:
        return CommandError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{kind}: the command takes about {size} bytes encoded; the node accepts at most "
            f"{max_control} for a request that is not a send, try_send or broadcast; it was not sent",
            ErrorReason.INVALID_FIELD,
        )
    return None


@dataclass
class Queued:
    """A command waiting to be written, and the future its caller awaits."""

    command: pb.Command
    #: The bytes the command takes in a stream message (:func:`wire_size`), counted against the byte limits.
    size: int
    #: A send, try_send or broadcast (:func:`is_payload`).
    payload: bool
    result: ResultFuture


class Outbox:
    """The queue of one stream and the rule that turns it into stream messages. No I/O.

    >>> box = Outbox()
    >>> box.put_flow(3, (3, 30)); box.put_flow(5, (2, 20))
    >>> request, _ = box.take()
    >>> request.WhichOneof("msg"), request.batch.ack.event_seq, request.batch.credit.messages, request.batch.credit.bytes
    ('batch', 5, 5, 50)
    >>> box.take() is None
    True
    >>> box.put_flow(None, (1, 1))
    >>> box.take()[0].WhichOneof("msg")  # a lone part goes as its plain message
    'credit'
    """

    def __init__(
        self,
        *,
        max_commands: int = FALLBACK_LIMITS.max_batch_commands,
        max_bytes: int = FALLBACK_LIMITS.max_batch_bytes,
        max_control_bytes: int = FALLBACK_LIMITS.max_control_request_bytes,
    ) -> None:
        if max_commands < 1 or max_bytes < 1:
            raise ValueError("an outbox must let at least one command and one byte through")
        #: Commands per stream message, at most (the node's max_batch_commands).
        self.max_commands = max_commands
        #: Command bytes a stream message takes beyond its first command.
        self.max_bytes = max_bytes
        #: Bytes of a stream message that holds a command other than send, try_send and broadcast.
        self.max_control_bytes = max_control_bytes
        self._ack: int | None = None
        self._credit: tuple[int, int] | None = None
        self._commands: deque[Queued] = deque()

    @classmethod
    def for_limits(cls, limits: Limits) -> Outbox:
        """An outbox that keeps to the node's ``limits``: its batch limits, and its largest message."""
        return cls(
            max_commands=limits.max_batch_commands,
            max_bytes=min(limits.max_batch_bytes, limits.max_message_bytes - BATCH_OVERHEAD_BYTES),
            max_control_bytes=limits.max_control_request_bytes,
        )

    def put_flow(self, ack: int | None, credit: tuple[int, int] | None) -> None:
        """Queues an Ack and/or a Credit, merged with those not written yet."""
        if ack is not None:
            self._ack = ack if self._ack is None else max(self._ack, ack)
        if credit is not None:
            if self._credit is None:
                self._credit = credit
            else:
                self._credit = (self._credit[0] + credit[0], self._credit[1] + credit[1])

    def put_command(self, command: pb.Command, result: ResultFuture) -> None:
        """Queues a command; ``result`` is what its caller awaits (a done one means: do not send)."""
        self._commands.append(Queued(command, wire_size(command), is_payload(command), result))

    @property
    def has_flow(self) -> bool:
        """An Ack or Credit is waiting (the next :meth:`take` carries it)."""
        return self._ack is not None or self._credit is not None

    @property
    def waiting_commands(self) -> int:
        """Commands queued and not yet taken (abandoned ones included until a take skips them)."""
        return len(self._commands)

    def take(self) -> tuple[pb.AttachRequest, list[Queued]] | None:
        """The next stream message and the commands it carries; None when there is nothing to send."""
        taken: list[Queued] = []
        size = 0
        only_payload = True
        while self._commands and len(taken) < self.max_commands:
            head = self._commands[0]
            if head.result.done():  # the caller gave up before it was sent
                self._commands.popleft()
                continue
            if taken:
                if size + head.size > self.max_bytes:
                    break
                # Over its control limit, the node decodes a request only if all its commands are payload commands.
                if not (only_payload and head.payload) and size + head.size + BATCH_OVERHEAD_BYTES > self.max_control_bytes:
                    break
            taken.append(self._commands.popleft())
            size += head.size
            only_payload = only_payload and head.payload
        ack, credit = self._ack, self._credit
        self._ack = self._credit = None
        parts = len(taken) + (ack is not None) + (credit is not None)
        if parts == 0:
            return None
        pb_ack = pb.Ack(event_seq=ack) if ack is not None else None
        pb_credit = pb.Credit(messages=credit[0], bytes=credit[1]) if credit is not None else None
        if parts > 1:
            request = pb.AttachRequest(
                batch=pb.RequestBatch(ack=pb_ack, credit=pb_credit, commands=[q.command for q in taken])
            )
        elif taken:
            request = pb.AttachRequest(command=taken[0].command)
        elif pb_ack is not None:
            request = pb.AttachRequest(ack=pb_ack)
        else:
            request = pb.AttachRequest(credit=pb_credit)
        return request, taken

    def drain(self) -> list[Queued]:
        """Empties the queue (the stream is gone); returns the commands that were never written."""
        left = [q for q in self._commands if not q.result.done()]
        self._commands.clear()
        self._ack = self._credit = None
        return left


class StreamWriter:
    """The only writer of one attached stream: a task that writes the outbox, one message at a time.

    Queueing never waits; the task wakes up once per burst, so whatever was
    queued meanwhile — by any number of tasks — leaves together. A write that
    fails (the stream broke) fails the commands it carried and every later
    one with :class:`ConnectionLostError`; the reactor's reader notices the
    broken stream and re-attaches.
    """

    def __init__(self, stream: AttachStream, *, name: str, outbox: Outbox | None = None) -> None:
        self.stream = stream
        self.outbox = outbox or Outbox()
        self._name = name
        self._ready = asyncio.Event()
        self._broken: BaseException | None = None
        #: Resolved once the Ack/Credit queued now are written (or will never be: the stream is gone).
        self._flow_queued: asyncio.Future[None] | None = None
        self._flow_writing: asyncio.Future[None] | None = None
        self._task = asyncio.create_task(self._run(), name=f"switchboard-reactor-{name}-writer")
        # asyncio keeps only weak references to tasks: hold this one until it ends, even once detached.
        _RUNNING.add(self._task)
        self._task.add_done_callback(_RUNNING.discard)

    def command(self, command: pb.Command, result: ResultFuture) -> None:
        """Queues a command; raises :class:`ConnectionLostError` if this stream can no longer be written."""
        if self._broken is not None:
            raise ConnectionLostError(
                f"request {command.request_id}: the stream broke ({self._broken}); the command was not sent"
            ) from self._broken
        self.outbox.put_command(command, result)
        self._ready.set()

    def flow(self, ack: int | None, credit: tuple[int, int] | None) -> asyncio.Future[None]:
        """Queues an Ack and/or Credit; the future resolves once they are written.

        On a broken stream they are dropped (resolved at once): a re-attach grants a fresh window.
        """
        if self._broken is not None or self._task.done():
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        self.outbox.put_flow(ack, credit)
        if self._flow_queued is None:
            self._flow_queued = asyncio.get_running_loop().create_future()
        self._ready.set()
        return self._flow_queued

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while True:
                    if self.outbox.has_flow:
                        self._flow_writing, self._flow_queued = self._flow_queued, None
                    next_message = self.outbox.take()
                    if next_message is None:
                        break
                    request, carried = next_message
                    try:
                        await self.stream.write(request)
                    except Exception as err:  # noqa: BLE001 - any failed write leaves the stream unusable
                        if not isinstance(err, StreamStatus):
                            log.warning("reactor %s: writing to the stream failed: %r", self._name, err)
                        self._fail(err, carried)
                        return
                    _resolve(self._flow_writing)
                    self._flow_writing = None
        finally:
            _resolve(self._flow_writing)
            _resolve(self._flow_queued)

    def _fail(self, err: BaseException, carried: list[Queued]) -> None:
        self._broken = err
        for q in carried + self.outbox.drain():
            if not q.result.done():
                lost = ConnectionLostError(
                    f"request {q.command.request_id}: the stream broke ({err}); the command may not have been sent"
                )
                lost.__cause__ = err
                q.result.set_exception(lost)

    def stop(self) -> list[Queued]:
        """Stops writing (the stream is gone); returns the commands that were never written."""
        self._task.cancel()
        _resolve(self._flow_writing)
        _resolve(self._flow_queued)
        return self.outbox.drain()

    async def wait_stopped(self) -> None:
        """Waits until the writer task ended (after :meth:`stop`)."""
        await asyncio.wait({self._task})
        if not self._task.cancelled() and self._task.exception() is not None:
            log.warning("reactor %s: the writer ended with %r", self._name, self._task.exception())


def _resolve(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)
