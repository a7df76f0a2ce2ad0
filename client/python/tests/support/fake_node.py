"""An in-memory node for unit tests: speaks the Attach protocol over a fake stream.

It follows the gateway's rules (server/src/gateway/remote-reactor.ts) in small:
events are numbered from 1 per session and sent only against credit (one
event may overdraw the byte credit); acks release events; a Register with the
current token resumes (unacknowledged events are resent with their numbers)
unless ``resumable`` is False, in which case a fresh session starts with the
snapshot returned by ``snapshot``. Everything the client writes is recorded,
one entry per stream message (``FakeStream.requests``).

A ``RequestBatch`` is applied as the node applies it: ack, credit, then each
command in order; more than :data:`MAX_BATCH_COMMANDS` commands end the stream
with INVALID_ARGUMENT, as does a request over :data:`MAX_CONTROL_MESSAGE_BYTES`
that carries anything but send, try_send and broadcast commands (the node's
screen, server/src/gateway/request-screen.ts, in small); a request over
``max_message_bytes`` ends it with RESOURCE_EXHAUSTED, as gRPC does. The commands answered at once (``on_command``) of one
stream message are answered together, in one ``ResultBatch``, when the client
registered with ``batch_results`` (``batch_results=False`` makes the node
ignore that, like a node from before batching); :meth:`FakeNode.reply_batch`
sends a ResultBatch explicitly.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from switchboard_reactor.pb import gateway_pb2 as pb
from switchboard_reactor.transport import StreamStatus

NODE_ID = "aa" * 20
#: Commands per RequestBatch the node accepts (gateway.proto).
MAX_BATCH_COMMANDS = 1024
#: The largest request the node decodes unless it is made large by send, try_send and broadcast commands only.
MAX_CONTROL_MESSAGE_BYTES = 64 * 1024
#: The node's default gRPC message limit (grpc.max_message_bytes).
MAX_MESSAGE_BYTES = 110 * 1024 * 1024
PAYLOAD_KINDS = ("send", "try_send", "broadcast")


def screen(req: pb.AttachRequest) -> str | None:
    """Why the node would end the stream before decoding ``req`` (too large for what it carries); None if it would not."""
    size = req.ByteSize()
    if size <= MAX_CONTROL_MESSAGE_BYTES:
        return None
    which = req.WhichOneof("msg")
    commands = [req.command] if which == "command" else list(req.batch.commands) if which == "batch" else []
    if which in ("command", "batch") and all(c.WhichOneof("kind") in PAYLOAD_KINDS for c in commands):
        return None
    return f"{size} bytes: only send, try_send and broadcast commands may exceed {MAX_CONTROL_MESSAGE_BYTES} bytes"


def ev_start() -> pb.Event:
    return pb.Event(on_start=pb.OnStart())


def ev_stop() -> pb.Event:
    return pb.Event(on_stop=pb.OnStop())


def peer_info(peer_id: str, conn: str) -> pb.PeerInfo:
    return pb.PeerInfo(
        peer_id=peer_id, connection_id=conn, outbound=True, remote_address="127.0.0.1:1",
        socket_address=f"{peer_id}@127.0.0.1:1", node_info=pb.NodeInfo(node_id=peer_id, network="net", moniker="m"),
    )  # fmt: skip


def ev_init(peer_id: str, conn: str) -> pb.Event:
    return pb.Event(init_peer=pb.InitPeer(peer=peer_info(peer_id, conn)))


def ev_add(peer_id: str, conn: str) -> pb.Event:
    return pb.Event(add_peer=pb.AddPeer(connection_id=conn, peer_id=peer_id))


def ev_recv(peer_id: str, conn: str, message: bytes, channel_id: int = 0x70) -> pb.Event:
    return pb.Event(receive=pb.Receive(connection_id=conn, peer_id=peer_id, channel_id=channel_id, message=message))


def ev_remove(peer_id: str, conn: str, reason: str = "") -> pb.Event:
    return pb.Event(remove_peer=pb.RemovePeer(connection_id=conn, peer_id=peer_id, reason=reason))


def size_of(ev: pb.Event) -> int:
    return len(ev.receive.message) if ev.WhichOneof("kind") == "receive" else 0


class FakeStream:
    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.requests: list[pb.AttachRequest] = []
        self._responses: asyncio.Queue[pb.AttachResponse | StreamStatus | None] = asyncio.Queue()
        self.done = False
        self.cancelled = False

    # -- the client's side (AttachStream) --
    async def write(self, request: pb.AttachRequest) -> None:
        if self.done:
            raise StreamStatus(grpc.StatusCode.UNAVAILABLE, "stream is done")
        if self.node.fail_writes is not None:
            raise self.node.fail_writes
        self.requests.append(request)
        self.node._on_request(self, request)
        await asyncio.sleep(0)

    async def read(self) -> pb.AttachResponse | None:
        item = await self._responses.get()
        if isinstance(item, StreamStatus):
            raise item
        return item

    def cancel(self) -> None:
        if not self.done:
            self.done = True
            self.cancelled = True
            self._responses.put_nowait(StreamStatus(grpc.StatusCode.CANCELLED, "cancelled by the client"))
            self.node._on_gone(self)

    # -- the node's side --
    def respond(self, response: pb.AttachResponse) -> None:
        if not self.done:
            self._responses.put_nowait(response)

    def end(self, status: StreamStatus | None = None) -> None:
        if not self.done:
            self.done = True
            self._responses.put_nowait(status)
            self.node._on_gone(self)


class FakeTransport:
    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.closed = False

    def open(self) -> FakeStream:
        s = FakeStream(self.node)
        self.node.streams.append(s)
        return s

    async def close(self) -> None:
        self.closed = True
        for s in self.node.streams:
            s.cancel()


@dataclass
class Attachment:
    stream: FakeStream
    register: pb.Register
    #: Credit granted on this attachment, initial included (messages).
    granted_messages: int
    granted_bytes: int
    sent: int = 0
    acks: list[int] = field(default_factory=list)


class FakeNode:
    def __init__(
        self,
        *,
        resumable: bool = True,
        on_command: Callable[[pb.Command], pb.CommandResult | None] | None = None,
        snapshot: Callable[[], list[pb.Event]] = lambda: [],
        batch: int = 8,
        batch_results: bool = True,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        limits: pb.Limits | None = None,
    ) -> None:
        self.transport = FakeTransport(self)
        self.max_message_bytes = max_message_bytes
        #: Told in Registered (None: a node older than Registered.limits, which tells none).
        self.limits = limits
        self.streams: list[FakeStream] = []
        self.resumable = resumable
        self.on_command = on_command or (lambda cmd: pb.CommandResult(done=pb.Empty()))
        self.snapshot = snapshot
        self.batch = batch
        self.batch_results = batch_results
        #: When set, every write to an open stream raises it (a transport whose sending side broke first).
        self.fail_writes: StreamStatus | None = None
        #: Statuses to answer the next Registers with (instead of Registered).
        self.refusals: deque[StreamStatus] = deque()
        self.attachments: list[Attachment] = []
        self.attached: Attachment | None = None
        self.token = ""
        self.next_seq = 1
        self.unacked: list[pb.Event] = []
        self.unsent: list[pb.Event] = []
        self.credit_messages = 0
        self.credit_bytes = 0
        self.stopping = False
        self.commands: list[pb.Command] = []
        #: Per client stream message that carried commands: how many it carried.
        self.command_messages: list[int] = []
        self._changed = asyncio.Event()

    # -- driving --
    def emit(self, *events: pb.Event) -> None:
        for ev in events:
            e = pb.Event()
            e.CopyFrom(ev)
            self.unsent.append(e)
            if ev.WhichOneof("kind") == "on_stop":
                self.stopping = True
        self._pump()

    def break_stream(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE, details: str = "cut") -> None:
        if self.attached is not None:
            self.attached.stream.end(StreamStatus(code, details))

    def end_stream(self) -> None:
        if self.attached is not None:
            self.attached.stream.end(None)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    @property
    def acked(self) -> int:
        return max((a for att in self.attachments for a in att.acks), default=0)

    # -- protocol --
    def _on_gone(self, stream: FakeStream) -> None:
        if self.attached is not None and self.attached.stream is stream:
            self.attached = None
        self._changed.set()

    def _on_request(self, stream: FakeStream, req: pb.AttachRequest) -> None:
        if req.ByteSize() > self.max_message_bytes:
            stream.end(StreamStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, f"Received message larger than max ({req.ByteSize()} vs {self.max_message_bytes})"))
            return
        refused = screen(req)
        if refused is not None:
            stream.end(StreamStatus(grpc.StatusCode.INVALID_ARGUMENT, refused))
            return
        which = req.WhichOneof("msg")
        if which == "register":
            self._register(stream, req.register)
        elif which == "ack":
            self._ack(stream, req.ack)
        elif which == "credit":
            self._credit(stream, req.credit)
        elif which == "command":
            self.command_messages.append(1)
            single = self._command(req.command)
            if single is not None:
                self.reply(*single)
        elif which == "batch":
            b = req.batch
            if len(b.commands) > MAX_BATCH_COMMANDS:
                stream.end(StreamStatus(grpc.StatusCode.INVALID_ARGUMENT, f"batch.commands: {len(b.commands)} > 1024"))
                return
            if b.HasField("ack"):
                self._ack(stream, b.ack)
            if b.HasField("credit"):
                self._credit(stream, b.credit)
            if b.commands:
                self.command_messages.append(len(b.commands))
            answered = [a for a in map(self._command, b.commands) if a is not None]
            if len(answered) > 1 and self._batch_results(stream):
                self.reply_batch(answered)
            else:
                for a in answered:
                    self.reply(*a)
        self._changed.set()

    def _ack(self, stream: FakeStream, ack: pb.Ack) -> None:
        att = self._attachment(stream)
        att.acks.append(ack.event_seq)
        self.unacked = [e for e in self.unacked if e.seq > ack.event_seq]

    def _credit(self, stream: FakeStream, credit: pb.Credit) -> None:
        att = self._attachment(stream)
        att.granted_messages += credit.messages
        att.granted_bytes += credit.bytes
        self.credit_messages += credit.messages
        self.credit_bytes += credit.bytes
        self._pump()

    def _command(self, cmd: pb.Command) -> tuple[int, pb.CommandResult] | None:
        self.commands.append(cmd)
        result = self.on_command(cmd)
        return None if result is None else (cmd.request_id, result)

    def _batch_results(self, stream: FakeStream) -> bool:
        return self.batch_results and self._attachment(stream).register.batch_results

    @staticmethod
    def _numbered(request_id: int, result: pb.CommandResult) -> pb.CommandResult:
        r = pb.CommandResult()
        r.CopyFrom(result)
        r.request_id = request_id
        return r

    def reply(self, request_id: int, result: pb.CommandResult) -> None:
        if self.attached is not None:
            self.attached.stream.respond(pb.AttachResponse(result=self._numbered(request_id, result)))

    def reply_batch(self, answers: list[tuple[int, pb.CommandResult]]) -> None:
        """Answers several commands in one ResultBatch, in the order given."""
        if self.attached is not None:
            results = [self._numbered(rid, res) for rid, res in answers]
            self.attached.stream.respond(pb.AttachResponse(results=pb.ResultBatch(results=results)))

    def _attachment(self, stream: FakeStream) -> Attachment:
        for att in self.attachments:
            if att.stream is stream:
                return att
        raise AssertionError("message before Register")

    def _register(self, stream: FakeStream, reg: pb.Register) -> None:
        if self.refusals:
            stream.end(self.refusals.popleft())
            return
        resumed = reg.session_token != "" and reg.session_token == self.token and self.resumable
        refused = ""
        if resumed:
            self.unsent = self.unacked + self.unsent
            self.unacked = []
            next_seq = self.unsent[0].seq if self.unsent and self.unsent[0].seq else self.next_seq
        else:
            if reg.session_token:
                refused = "unknown or expired session"
            self.token = secrets.token_hex(8)
            self.next_seq = 1
            self.unacked = []
            self.unsent = [e for e in self.snapshot()]
            for e in self.unsent:
                e.seq = 0
            next_seq = 1
        self.credit_messages = reg.initial_credit.messages
        self.credit_bytes = reg.initial_credit.bytes
        att = Attachment(stream, reg, reg.initial_credit.messages, reg.initial_credit.bytes)
        self.attachments.append(att)
        self.attached = att
        stream.respond(
            pb.AttachResponse(
                registered=pb.Registered(
                    session_token=self.token, resumed=resumed, resume_refused_reason=refused,
                    node_info=pb.NodeInfo(node_id=NODE_ID, network="net"), next_event_seq=next_seq,
                    limits=self.limits,
                )
            )
        )  # fmt: skip
        self._pump()

    def _pump(self) -> None:
        att = self.attached
        while att is not None and self.unsent:
            batch: list[pb.Event] = []
            while self.unsent and len(batch) < self.batch:
                if not self.stopping and (self.credit_messages < 1 or self.credit_bytes < 1):
                    break
                e = self.unsent.pop(0)
                if e.seq == 0:
                    e.seq = self.next_seq
                    self.next_seq += 1
                self.credit_messages -= 1
                self.credit_bytes -= size_of(e)
                self.unacked.append(e)
                batch.append(e)
            if not batch:
                break
            att.sent += len(batch)
            att.stream.respond(pb.AttachResponse(events=pb.EventBatch(events=batch)))
        if att is not None and self.stopping and not self.unsent:
            att.stream.end(None)
        self._changed.set()
