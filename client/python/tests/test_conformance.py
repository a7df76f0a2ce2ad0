"""The shared conformance scenarios (client/conformance/SCENARIOS.md) against real Switchboard nodes.

Each test is named after its scenario ID. Nodes are started with the CLI (``switchboard start``,
``--grpc.reactors app``, loopback, no PEX) in temporary homes; reactors attach with this SDK.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc
import pytest

from switchboard_reactor import (
    AddPeer,
    BroadcastResult,
    ChannelDescriptor,
    CommandError,
    ErrorReason,
    GrpcTransport,
    InitPeer,
    Peer,
    Reactor,
    Receive,
    RegistrationError,
    RemovePeer,
    SessionEvent,
    Start,
    Stop,
)

from .conftest import AttachFactory, NodeFactory
from .support.grammar import check_trace
from .support.recorder import RecordingTransport, Trace, credit_of
from .support.switchboard_node import SwitchboardNode
from .support.tcp_proxy import TcpProxy

APP = 0x70


@dataclass
class Pair:
    a: SwitchboardNode
    b: SwitchboardNode
    ra: Reactor
    rb: Reactor
    ta: Trace
    tb: Trace

    def peer_of_b(self) -> Peer:
        """B as A's reactor knows it (its connection)."""
        return next(e.peer for e in self.ta.of(AddPeer) if e.peer.peer_id == self.b.node_id)


async def started(*nodes: SwitchboardNode) -> list[str]:
    return list(await asyncio.gather(*(n.wait_started() for n in nodes)))


async def wait_added(trace: Trace, peer_id: str, who: str) -> Peer:
    await trace.wait_for(lambda: any(e.peer.peer_id == peer_id for e in trace.of(AddPeer)), f"{who}: AddPeer({peer_id[:8]})")
    return next(e.peer for e in trace.of(AddPeer) if e.peer.peer_id == peer_id)


async def pair(new_node: NodeFactory, attach: AttachFactory, *, b_args: tuple[str, ...] = (), b_target: str = "") -> Pair:
    """Nodes A and B with ``app`` attached to each; A's reactor dials B."""
    a, b = await asyncio.gather(new_node("a"), new_node("b", *b_args))
    if not b_target:
        b_target = await b.wait_grpc()
    ra, rb = await asyncio.gather(attach(a), attach(b_target))
    ta, tb = Trace(ra), Trace(rb)
    _, b_addr = await started(a, b)
    await ra.dial_peers([b_addr])
    await wait_added(ta, b.node_id, "A")
    await wait_added(tb, a.node_id, "B")
    return Pair(a, b, ra, rb, ta, tb)


async def receives(trace: Trace, n: int, what: str) -> list[Receive]:
    await trace.wait_for(lambda: len(trace.of(Receive)) >= n, what)
    return trace.of(Receive)


# ====================================================================== registration


async def test_R1_register(new_node: NodeFactory, attach: AttachFactory) -> None:
    a = await new_node("a")
    ra = await attach(a)
    assert ra.node_info.node_id == a.node_id
    assert ra.node_info.network == a.network == "sb-python-test"
    assert ra.session_token != ""
    await a.wait_started()  # the node started once its awaited reactor registered
    async with asyncio.timeout(10):
        assert await ra.next_event() == Start()


async def test_R2_name_attached_elsewhere(new_node: NodeFactory, attach: AttachFactory) -> None:
    a = await new_node("a")
    await attach(a)
    with pytest.raises(RegistrationError) as info:
        await attach(a)
    assert info.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert '"app"' in info.value.message
    # For the person running it: which name, which node, what to do.
    assert str(info.value) == (
        f'reactor "app": the node at {await a.wait_grpc()} refused it: ALREADY_EXISTS: reactor "app" is attached '
        'on another stream. The name "app" is taken on that node (by another process, or by another Reactor in '
        "this one): stop that reactor, or give this one another name."
    )


async def test_R3_channel_owned_by_another_reactor(new_node: NodeFactory, attach: AttachFactory) -> None:
    a = await new_node("a", reactors="app,other")
    await attach(a, "app")
    with pytest.raises(RegistrationError) as info:
        await attach(a, "other", [ChannelDescriptor(APP, priority=5, send_queue_capacity=100)])
    assert info.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert '"app"' in info.value.message
    assert str(info.value).endswith(
        "Another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor."
    )


async def test_R4_bad_descriptor(new_node: NodeFactory, attach: AttachFactory) -> None:
    a = await new_node("a")
    with pytest.raises(RegistrationError) as info:
        await attach(a, "app", [ChannelDescriptor(300, priority=5)])
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "register.channels[0].id" in info.value.message


async def test_R5_registration_after_start(new_node: NodeFactory, attach: AttachFactory) -> None:
    a = await new_node("a")
    await attach(a)
    await a.wait_started()
    with pytest.raises(RegistrationError) as info:
        await attach(a, "late", [ChannelDescriptor(0x71, priority=1)])
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert info.value.reason == ErrorReason.NODE_NOT_RUNNING


# ====================================================================== events


async def test_E1_event_order(new_node: NodeFactory, attach: AttachFactory) -> None:
    # A dials B because B is in its persistent_peers: B first, then A.
    b = await new_node("b")
    tb = Trace(await attach(b))
    (b_addr,) = await started(b)
    a = await new_node("a", persistent_peers=b_addr)
    ta = Trace(await attach(a))
    await started(a)
    pa = await wait_added(ta, b.node_id, "A")
    pb_ = await wait_added(tb, a.node_id, "B")
    for trace in (ta, tb):
        assert trace.names()[:3] == ["Start", "InitPeer", "AddPeer"]
        check_trace(trace.events)
    init_a = ta.of(InitPeer)[0]
    init_b = tb.of(InitPeer)[0]
    assert init_a.peer == pa and init_b.peer == pb_
    assert pa.outbound and pa.persistent and not pb_.outbound
    assert pa.connection_id and pb_.connection_id
    assert pa.node_info is not None and pa.node_info.moniker == "b"
    assert pb_.node_info is not None and pb_.node_info.node_id == a.node_id


async def test_E2_receive(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    assert await p.ra.send(p.b.node_id, APP, b"hello from A") is True
    (got,) = await receives(p.tb, 1, "B: Receive")
    assert got.peer.peer_id == p.a.node_id
    assert got.channel_id == APP
    assert got.message == b"hello from A"
    check_trace(p.tb.events)


# ====================================================================== commands


async def test_C1_send_try_send(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    assert await p.ra.send(p.peer_of_b(), APP, b"one") is True
    assert await p.ra.try_send(p.b.node_id, APP, b"two") is True
    got = await receives(p.tb, 2, "B: both messages")
    assert [r.message for r in got] == [b"one", b"two"]


async def test_C2_broadcast(new_node: NodeFactory, attach: AttachFactory) -> None:
    a, b, c = await asyncio.gather(new_node("a"), new_node("b"), new_node("c"))
    ra, rb, rc = await asyncio.gather(attach(a), attach(b), attach(c))
    ta, tb, tc = Trace(ra), Trace(rb), Trace(rc)
    _, b_addr, c_addr = await started(a, b, c)
    await ra.dial_peers([b_addr, c_addr])
    await wait_added(ta, b.node_id, "A")
    await wait_added(ta, c.node_id, "A")
    results = await ra.broadcast(APP, b"to everyone")
    assert sorted(results, key=lambda r: r.peer_id) == sorted(
        [BroadcastResult(b.node_id, True), BroadcastResult(c.node_id, True)], key=lambda r: r.peer_id
    )
    for trace, who in ((tb, "B"), (tc, "C")):
        (got,) = await receives(trace, 1, f"{who}: the broadcast")
        assert (got.peer.peer_id, got.channel_id, got.message) == (a.node_id, APP, b"to everyone")


async def test_C3_command_errors(new_node: NodeFactory, attach: AttachFactory) -> None:
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    small = [ChannelDescriptor(APP, priority=5, send_queue_capacity=100, recv_message_capacity=1024)]
    ra, rb = await asyncio.gather(attach(a, "app", small), attach(b))
    ta, tb = Trace(ra), Trace(rb)
    _, b_addr = await started(a, b)
    await ra.dial_peers([b_addr])
    await wait_added(ta, b.node_id, "A")

    with pytest.raises(CommandError) as unknown:
        await ra.send("00" * 20, APP, b"x")
    assert (unknown.value.code, unknown.value.reason) == (grpc.StatusCode.NOT_FOUND, ErrorReason.UNKNOWN_PEER)

    with pytest.raises(CommandError) as unregistered:
        await ra.try_send(b.node_id, 0x71, b"x")
    assert unregistered.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert unregistered.value.reason == ErrorReason.CHANNEL_NOT_REGISTERED

    with pytest.raises(CommandError) as too_large:
        await ra.send(b.node_id, APP, bytes(1025))
    assert too_large.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert too_large.value.reason == ErrorReason.MESSAGE_TOO_LARGE

    # The stream lives on: commands and events still flow.
    assert await ra.send(b.node_id, APP, bytes(1024)) is True
    (got,) = await receives(tb, 1, "B: the message after the errors")
    assert got.message == bytes(1024)
    assert (await ra.num_peers()).outbound == 1
    assert ra.state == "attached" and ta.error is None


async def test_C4_stop_a_peer(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    conn = p.peer_of_b()
    await p.ra.stop_peer_for_error(conn, "misbehaving in C4")
    await p.ta.wait_for(lambda: p.ta.of(RemovePeer), "A: RemovePeer")
    await p.tb.wait_for(lambda: p.tb.of(RemovePeer), "B: RemovePeer")
    (removed,) = p.ta.of(RemovePeer)
    assert removed.peer == conn
    assert "misbehaving in C4" in removed.reason
    assert p.tb.of(RemovePeer)[0].peer.peer_id == p.a.node_id
    with pytest.raises(CommandError) as info:
        await p.ra.send(conn, APP, b"too late")
    assert info.value.reason == ErrorReason.PEER_REMOVED
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    for trace in (p.ta, p.tb):
        check_trace(trace.events)


async def test_C8_flushing_stop(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    conn = p.peer_of_b()
    # 20 x 64 KiB leave A in ~0.26 s at the node's default send rate (5,120,000 B/s):
    # a stop that did not flush would cut most of it off.
    sent = [bytes([i + 1]) * (64 * 1024) for i in range(20)]
    assert await asyncio.gather(*(p.ra.send(conn, APP, m) for m in sent)) == [True] * len(sent)
    await p.ra.stop_peer_gracefully(conn, flush=True)
    await p.ta.wait_for(lambda: p.ta.of(RemovePeer), "A: RemovePeer")
    await p.tb.wait_for(lambda: p.tb.of(RemovePeer), "B: RemovePeer")
    (removed,) = p.ta.of(RemovePeer)
    assert removed.peer == conn and not removed.reason
    assert [r.message for r in p.tb.of(Receive)] == sent  # all, whole, in order
    # B's receives all came before its RemovePeer of A.
    b_events = p.tb.events
    removed_at = b_events.index(p.tb.of(RemovePeer)[0])
    assert all(b_events.index(r) < removed_at for r in p.tb.of(Receive))
    for trace in (p.ta, p.tb):
        check_trace(trace.events)


async def test_C5_peer_data_and_queries(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    conn = p.peer_of_b()
    assert await p.ra.get_peer_data(conn, "python.sdk") is None
    await p.ra.set_peer_data(conn, "python.sdk", b"\x00value\xff")
    assert await p.ra.get_peer_data(conn, "python.sdk") == b"\x00value\xff"
    assert await p.ra.get_peer_data(p.b.node_id, "python.sdk") == b"\x00value\xff"

    peers = await p.ra.list_peers()
    assert [(x.peer_id, x.connection_id, x.outbound) for x in peers] == [(p.b.node_id, conn.connection_id, True)]
    assert peers[0].node_info is not None and peers[0].node_info.moniker == "b"
    counts = await p.ra.num_peers()
    assert (counts.outbound, counts.inbound, counts.dialing) == (1, 0, 0)
    status = await p.ra.get_peer(p.b.node_id)
    assert status.peer.peer_id == p.b.node_id and status.peer.connection_id == conn.connection_id
    assert [c.id for c in status.channels] == [APP]
    assert status.channels[0].send_queue_capacity == 100 and status.channels[0].priority == 5
    assert (await p.rb.num_peers()).inbound == 1


async def test_C6_dial(new_node: NodeFactory, attach: AttachFactory) -> None:
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    ra, rb = await asyncio.gather(attach(a), attach(b))
    ta, tb = Trace(ra), Trace(rb)
    _, b_addr = await started(a, b)
    assert await ra.list_peers() == []
    await ra.dial_peers([b_addr])
    pa = await wait_added(ta, b.node_id, "A")
    pb_ = await wait_added(tb, a.node_id, "B")
    assert pa.outbound and not pa.persistent and not pb_.outbound
    assert [x.peer_id for x in await ra.list_peers()] == [b.node_id]


async def test_C7_many_commands_at_once(new_node: NodeFactory, attach: AttachFactory) -> None:
    total = 2000
    p = await pair(new_node, attach)
    conn = p.peer_of_b()
    sent = [f"c7-{i}".encode() for i in range(total)]
    # Issued in this order, none waiting for another: more than the node takes per batch and in progress
    # (1024 each). A batch or a stream over either limit gets its commands refused, so all must be queued.
    queued = await asyncio.gather(*(p.ra.send(conn, APP, m) for m in sent))
    assert queued == [True] * total
    await p.tb.wait_for(lambda: len(p.tb.of(Receive)) >= total, f"B: {total} messages", timeout_s=30)
    await asyncio.sleep(0.05)  # anything extra would arrive now
    got = p.tb.of(Receive)
    assert [r.message for r in got] == sent  # all, in order, once each
    assert all(r.peer.peer_id == p.a.node_id and r.channel_id == APP for r in got)
    assert p.ra.state == "attached" and p.ra.stats.attachments == 1 and p.ta.error is None


# ====================================================================== flow control


async def test_F1_credit_and_backpressure(new_node: NodeFactory, attach: AttachFactory) -> None:
    window, total = 16, 200
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    wire = RecordingTransport(GrpcTransport(await b.wait_grpc()))
    ra, rb = await asyncio.gather(attach(a), attach(b, window_messages=window, transport=wire))
    ta = Trace(ra)
    _, b_addr = await started(a, b)

    over: list[str] = []
    got: list[bytes] = []
    b_added = asyncio.Event()

    async def consume_slowly() -> None:
        consumed = 0  # events consumed before the one just handed out
        async for ev in rb.events():
            granted = wire.credit_granted_on_last_attachment()
            if granted > consumed + window:
                over.append(f"granted {granted} with {consumed} consumed")
            consumed += 1
            if isinstance(ev, AddPeer):
                b_added.set()
            if isinstance(ev, Receive):
                got.append(ev.message)
                await asyncio.sleep(0.005)
                if len(got) == total:
                    return

    consumer = asyncio.create_task(consume_slowly())
    await ra.dial_peers([b_addr])
    await wait_added(ta, b.node_id, "A")
    async with asyncio.timeout(10):
        await b_added.wait()
    for i in range(total):
        assert await ra.send(b.node_id, APP, i.to_bytes(2, "big")) is True
    await asyncio.wait_for(consumer, 30)

    assert got == [i.to_bytes(2, "big") for i in range(total)]  # all, in order, once each
    assert over == []
    assert rb.stats.max_buffered <= window
    assert rb.stats.max_buffered >= window // 2, "the node never got ahead of the consumer: backpressure untested"
    assert rb.stats.duplicates == 0
    credits = [r for r in wire.written if credit_of(r) is not None]  # alone or inside a RequestBatch
    assert len(credits) < total, "credit should be returned in batches"


# ====================================================================== sessions


async def test_S1_resume_inside_the_window(new_node: NodeFactory, attach: AttachFactory) -> None:
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    host, port = (await b.wait_grpc()).rsplit(":", 1)
    proxy = await TcpProxy.start(host, int(port))  # B's reactor reaches its node through it
    try:
        ra, rb = await asyncio.gather(attach(a), attach(proxy.address))
        ta, tb = Trace(ra), Trace(rb)
        _, b_addr = await started(a, b)
        await ra.dial_peers([b_addr])
        await wait_added(ta, b.node_id, "A")
        await wait_added(tb, a.node_id, "B")
        token = rb.session_token

        total = 60

        async def send_all() -> None:
            for i in range(total):
                assert await ra.send(b.node_id, APP, i.to_bytes(2, "big")) is True
                await asyncio.sleep(0.005)

        sender = asyncio.create_task(send_all())
        await receives(tb, 15, "B: the first messages")
        await proxy.cut()  # the stream is cut, not the node
        await sender
        await receives(tb, total, "B: every message after the resume")

        assert [r.message for r in tb.of(Receive)] == [i.to_bytes(2, "big") for i in range(total)]
        assert tb.of(SessionEvent) == [SessionEvent(resumed=True, refused_reason="")]
        assert rb.session_token == token
        assert rb.stats.resumes == 1 and proxy.connections >= 2
        check_trace(tb.events)
        assert tb.error is None
    finally:
        await proxy.close()


async def test_S2_resume_outside_the_window(new_node: NodeFactory, attach: AttachFactory) -> None:
    a, b = await asyncio.gather(new_node("a"), new_node("b", "--grpc.resume_window", "200ms"))
    host, port = (await b.wait_grpc()).rsplit(":", 1)
    proxy = await TcpProxy.start(host, int(port))
    try:
        ra, rb = await asyncio.gather(attach(a), attach(proxy.address))
        ta, tb = Trace(ra), Trace(rb)
        _, b_addr = await started(a, b)
        await ra.dial_peers([b_addr])
        await wait_added(ta, b.node_id, "A")
        conn = await wait_added(tb, a.node_id, "B")
        before = len(tb.events)

        await proxy.cut(hold_s=1.0)  # away for longer than the 200 ms resume window
        await tb.wait_for(lambda: len(tb.events) >= before + 4, "B: the fresh session's snapshot")

        session, start, init, add = tb.events[before : before + 4]
        assert isinstance(session, SessionEvent) and not session.resumed
        assert session.refused_reason != ""
        assert start == Start()
        assert isinstance(init, InitPeer) and init.peer.peer_id == a.node_id
        assert init.peer.connection_id == conn.connection_id  # the same, still connected peer
        assert isinstance(add, AddPeer) and add.peer == init.peer
        assert rb.stats.fresh_sessions == 1
        check_trace(tb.events)

        # The fresh session works: messages flow again.
        assert await ra.send(b.node_id, APP, b"after") is True
        await tb.wait_for(lambda: any(r.message == b"after" for r in tb.of(Receive)), "B: a message after")
    finally:
        await proxy.close()


# ====================================================================== shutdown


async def test_X1_node_shutdown(new_node: NodeFactory, attach: AttachFactory) -> None:
    p = await pair(new_node, attach)
    p.a.terminate()  # SIGTERM
    await p.ta.wait_for(lambda: p.ta.done, "A: the end of its events", timeout_s=15)
    assert p.ta.error is None  # the SDK completed without an error
    assert p.ta.names()[-2:] == ["RemovePeer", "Stop"]
    assert p.ta.of(RemovePeer)[0].peer.peer_id == p.b.node_id
    check_trace(p.ta.events, complete=True)
    assert p.ra.state == "finished"
    await p.ra.wait_finished()
    assert await p.a.wait_exit() == 0
    await p.tb.wait_for(lambda: p.tb.of(RemovePeer), "B: RemovePeer of A")
