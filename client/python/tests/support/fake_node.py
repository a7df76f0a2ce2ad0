"""An in-memory node for unit tests: speaks the Attach protocol over a fake stream.

It follows the gateway's rules (server/src/gateway/remote-reactor.ts) in small:
events are numbered from 1 per session and sent only against credit (one
event may overdraw the byte credit); acks release events; a Register with the
current token resumes (unacknowledged events are resent with their numbers)
unless ``resumable`` is False, in which case a fresh session starts with the
snapshot returned by ``snapshot``. Everything the client writes is recorded.
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
    ) -> None:
        self.transport = FakeTransport(self)
        self.streams: list[FakeStream] = []
        self.resumable = resumable
        self.on_command = on_command or (lambda cmd: pb.CommandResult(done=pb.Empty()))
        self.snapshot = snapshot
        self.batch = batch
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
        which = req.WhichOneof("msg")
        if which == "register":
            self._register(stream, req.register)
        elif which == "ack":
            att = self._attachment(stream)
            att.acks.append(req.ack.event_seq)
            self.unacked = [e for e in self.unacked if e.seq > req.ack.event_seq]
        elif which == "credit":
            att = self._attachment(stream)
            att.granted_messages += req.credit.messages
            att.granted_bytes += req.credit.bytes
            self.credit_messages += req.credit.messages
            self.credit_bytes += req.credit.bytes
            self._pump()
        elif which == "command":
            self.commands.append(req.command)
            result = self.on_command(req.command)
            if result is not None:
                self.reply(req.command.request_id, result)
        self._changed.set()

    def reply(self, request_id: int, result: pb.CommandResult) -> None:
        r = pb.CommandResult()
        r.CopyFrom(result)
        r.request_id = request_id
        if self.attached is not None:
            self.attached.stream.respond(pb.AttachResponse(result=r))

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
