"""The Reactor's protocol core against an in-memory node (tests/support/fake_node.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from switchboard_reactor import (
    AddPeer,
    BaseReactor,
    BroadcastResult,
    ChannelDescriptor,
    CommandError,
    ConnectionLostError,
    Envelope,
    ErrorReason,
    Event,
    InitPeer,
    OverflowPolicy,
    Peer,
    PeerCounts,
    ProtocolError,
    Reactor,
    ReactorClosedError,
    Receive,
    ReconnectFailedError,
    ReconnectPolicy,
    RegistrationError,
    RemovePeer,
    SessionEvent,
    Start,
    Stop,
    StreamError,
    StreamStatus,
    run_reactor,
)
from switchboard_reactor.pb import gateway_pb2 as pb

from .support.fake_node import (
    NODE_ID,
    FakeNode,
    ev_add,
    ev_init,
    ev_recv,
    ev_remove,
    ev_start,
    ev_stop,
    peer_info,
)

CHANNELS = [ChannelDescriptor(0x70, priority=5, send_queue_capacity=100, overflow_policy=OverflowPolicy.BLOCK)]
P1, P2 = "11" * 20, "22" * 20
FAST = ReconnectPolicy(initial_backoff_s=0.001, max_backoff_s=0.005, jitter=0.0, max_attempts=50, connect_timeout_s=1.0)


async def attach(node: FakeNode, **options: Any) -> Reactor:
    options.setdefault("reconnect", FAST)
    return await Reactor.attach("fake:0", "app", CHANNELS, transport=node.transport, **options)


async def take(r: Reactor, n: int) -> list[Event]:
    out: list[Event] = []
    async with asyncio.timeout(5):
        for _ in range(n):
            ev = await r.next_event()
            assert ev is not None, f"session ended after {out}"
            out.append(ev)
    return out


def payloads(events: list[Event]) -> list[bytes]:
    return [e.message for e in events if isinstance(e, Receive)]


# ------------------------------------------------------------------ registering


async def test_register_carries_the_name_the_channels_and_the_window() -> None:
    node = FakeNode()
    r = await attach(node, window_messages=32, window_bytes=4096)
    reg = node.attachments[0].register
    assert reg.reactor_name == "app"
    assert [(c.id, c.priority, c.send_queue_capacity, c.overflow_policy) for c in reg.channels] == [
        (0x70, 5, 100, pb.OVERFLOW_POLICY_BLOCK)
    ]
    assert (reg.initial_credit.messages, reg.initial_credit.bytes) == (32, 4096)
    assert reg.session_token == ""
    assert reg.batch_results  # the SDK understands ResultBatch
    assert r.node_info.node_id == NODE_ID
    assert r.session_token == node.token != ""
    assert r.state == "attached"
    await r.close()
    assert node.transport.closed


async def test_a_refused_registration_raises_a_typed_error_at_once() -> None:
    node = FakeNode()
    node.refusals.append(StreamStatus(grpc.StatusCode.ALREADY_EXISTS, 'reactor "app" is attached on another stream'))
    node.refusals.append(StreamStatus(grpc.StatusCode.UNAVAILABLE, "never reached"))
    with pytest.raises(RegistrationError) as info:
        await attach(node)
    assert info.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "another stream" in info.value.message
    assert len(node.refusals) == 1  # not retried
    assert node.transport.closed


async def test_an_unreachable_node_is_retried_until_it_answers() -> None:
    node = FakeNode()
    node.refusals.extend(StreamStatus(grpc.StatusCode.UNAVAILABLE, "connection refused") for _ in range(3))
    r = await attach(node)
    assert len(node.streams) == 4
    assert r.state == "attached"
    await r.close()


async def test_the_first_attach_gives_up_after_connect_timeout() -> None:
    node = FakeNode()
    node.refusals.extend(StreamStatus(grpc.StatusCode.UNAVAILABLE, "connection refused") for _ in range(10_000))
    policy = ReconnectPolicy(initial_backoff_s=0.01, max_backoff_s=0.01, jitter=0.0, connect_timeout_s=0.1)
    with pytest.raises(RegistrationError) as info:
        await attach(node, reconnect=policy)
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert 5 <= len(node.streams) <= 20


# ------------------------------------------------------------------ events


async def test_events_are_typed_and_peers_carry_what_init_peer_said() -> None:
    node = FakeNode()
    r = await attach(node)
    node.emit(ev_start(), ev_init(P1, "c1"), ev_recv(P1, "c1", b"early"), ev_add(P1, "c1"))
    node.emit(ev_recv(P1, "c1", b"hello"), ev_remove(P1, "c1", "boom"), ev_stop())
    events = [e async for e in r.events()]
    assert [type(e) for e in events] == [Start, InitPeer, Receive, AddPeer, Receive, RemovePeer, Stop]
    init = events[1]
    assert isinstance(init, InitPeer)
    assert init.peer == Peer(
        peer_id=P1, connection_id="c1", outbound=True, remote_address="127.0.0.1:1",
        socket_address=f"{P1}@127.0.0.1:1", node_info=init.peer.node_info,
    )  # fmt: skip
    assert init.peer.node_info is not None and init.peer.node_info.moniker == "m"
    assert all(getattr(e, "peer", init.peer) == init.peer for e in events)  # enriched from InitPeer
    assert payloads(events) == [b"early", b"hello"]
    assert events[5] == RemovePeer(init.peer, "boom")
    assert r.state == "finished"
    await r.wait_finished()
    with pytest.raises(ReactorClosedError, match="node stopped"):
        await r.num_peers()
    await r.close()


async def test_ack_and_credit_wait_until_the_next_event_is_asked_for() -> None:
    node = FakeNode()
    r = await attach(node, window_messages=4, window_bytes=1000)
    node.emit(ev_start(), ev_recv(P1, "c1", b"12345"))
    assert await take(r, 2) == [Start(), Receive(Peer(P1, "c1"), 0x70, b"12345")]
    await asyncio.sleep(0.01)
    att = node.attachments[0]
    # Asking for the Receive consumed Start; nothing else waited, so its ack and credit went at once.
    # The Receive is still in the application's hands: not acknowledged, no credit for it.
    assert att.acks == [1]
    assert (att.granted_messages, att.granted_bytes) == (5, 1000)
    waiting = asyncio.create_task(r.next_event())  # asking for the next event consumes the Receive
    await node.wait_for(lambda: att.granted_messages == 6)
    assert att.acks == [1, 2]
    assert att.granted_bytes == 1005
    waiting.cancel()
    await r.close()


async def test_a_slow_consumer_holds_the_node_to_the_window() -> None:
    node = FakeNode(batch=3)
    window = 8
    r = await attach(node, window_messages=window)
    node.emit(*(ev_recv(P1, "c1", f"m{i}".encode()) for i in range(100)))
    got: list[bytes] = []
    att = node.attachments[0]
    while len(got) < 100:
        ev = await r.next_event()
        assert isinstance(ev, Receive)
        got.append(ev.message)
        consumed = len(got) - 1  # the event just returned is not consumed yet
        assert att.granted_messages <= window + consumed
        assert att.sent - consumed <= window
        await asyncio.sleep(0.001)
    assert got == [f"m{i}".encode() for i in range(100)]
    assert r.stats.max_buffered <= window
    assert r.stats.duplicates == 0
    await r.close()


async def test_the_byte_window_limits_large_messages_and_one_may_overdraw() -> None:
    node = FakeNode()
    r = await attach(node, window_messages=100, window_bytes=100)
    node.emit(*(ev_recv(P1, "c1", bytes(60)) for _ in range(6)))
    await node.wait_for(lambda: node.attachments[0].sent == 2)
    await asyncio.sleep(0.01)
    assert node.attachments[0].sent == 2  # 100 → 40 → -20: the node waits
    assert len(payloads(await take(r, 6))) == 6
    assert r.stats.max_buffered <= 2
    await r.close()


async def test_two_consumers_at_once_are_refused() -> None:
    node = FakeNode()
    r = await attach(node)
    first = asyncio.create_task(r.next_event())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="another task"):
        await r.next_event()
    first.cancel()
    await r.close()


# ------------------------------------------------------------------ commands


def answer(cmd: pb.Command) -> pb.CommandResult:
    kind = cmd.WhichOneof("kind")
    if kind in ("send", "try_send"):
        return pb.CommandResult(send=pb.SendResult(queued=True))
    if kind == "broadcast":
        return pb.CommandResult(broadcast=pb.BroadcastResult(results=[pb.BroadcastResult.Entry(peer_id=P1, queued=True)]))
    if kind == "get_peer_data":
        found = cmd.get_peer_data.key == "k"
        return pb.CommandResult(peer_data=pb.PeerDataResult(found=found, value=b"v" if found else b""))
    if kind == "list_peers":
        return pb.CommandResult(peers=pb.PeerList(peers=[peer_info(P1, "c1")]))
    if kind == "num_peers":
        return pb.CommandResult(num_peers=pb.PeerCounts(outbound=1, inbound=2, dialing=3))
    if kind == "get_peer":
        return pb.CommandResult(
            peer=pb.PeerStatus(peer=peer_info(P1, "c1"), bytes_sent=9, channels=[pb.ChannelStatus(id=0x70, priority=5)])
        )
    return pb.CommandResult(done=pb.Empty())


async def test_commands_send_their_fields_and_return_typed_results() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)
    peer = Peer(P1, "c1")
    assert await r.send(peer, 0x70, b"a", timeout_ms=250) is True
    assert await r.try_send(P1, 0x70, bytearray(b"b")) is True
    assert await r.broadcast(0x70, b"c") == [BroadcastResult(P1, True)]
    await r.stop_peer_for_error(peer, "bad", no_reconnect=True)
    await r.stop_peer_gracefully(P1)
    await r.mark_peer_as_good(peer)
    await r.dial_peers([f"{P2}@127.0.0.1:2"], persistent=True)
    assert await r.get_peer_data(peer, "k") == b"v"
    assert await r.get_peer_data(peer, "other") is None
    await r.set_peer_data(P1, "k", b"v")
    assert [p.peer_id for p in await r.list_peers()] == [P1]
    assert await r.num_peers() == PeerCounts(1, 2, 3)
    status = await r.get_peer(peer)
    assert status.peer.connection_id == "c1" and status.bytes_sent == 9 and status.channels[0].priority == 5
    c = node.commands
    assert [x.WhichOneof("kind") for x in c] == [
        "send", "try_send", "broadcast", "stop_peer_for_error", "stop_peer_gracefully", "mark_peer_as_good",
        "dial_peers", "get_peer_data", "get_peer_data", "set_peer_data", "list_peers", "num_peers", "get_peer",
    ]  # fmt: skip
    assert [x.request_id for x in c] == list(range(1, 14))
    assert (c[0].send.connection_id, c[0].send.peer_id, c[0].send.message, c[0].send.timeout_ms) == ("c1", P1, b"a", 250)
    assert (c[1].try_send.connection_id, c[1].try_send.peer_id) == ("", P1)
    assert c[3].stop_peer_for_error.reason == "bad" and c[3].stop_peer_for_error.no_reconnect
    assert c[4].stop_peer_gracefully.peer_id == P1 and not c[4].stop_peer_gracefully.flush
    assert list(c[6].dial_peers.addresses) == [f"{P2}@127.0.0.1:2"] and c[6].dial_peers.persistent
    assert c[12].get_peer.peer_id == P1
    await r.close()


async def test_stop_peer_gracefully_with_flush_asks_the_node_to_flush() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)
    await r.stop_peer_gracefully(Peer(P1, "c1"), flush=True)
    (c,) = node.commands
    assert (c.stop_peer_gracefully.connection_id, c.stop_peer_gracefully.peer_id, c.stop_peer_gracefully.flush) == ("c1", P1, True)
    await r.close()


async def test_a_command_error_is_typed_and_the_stream_lives_on() -> None:
    def fail_sends(cmd: pb.Command) -> pb.CommandResult:
        if cmd.WhichOneof("kind") == "send":
            return pb.CommandResult(
                error=pb.CommandError(code=5, message="send.peer_id: no connected peer", reason=pb.ERROR_REASON_UNKNOWN_PEER)
            )
        return answer(cmd)

    node = FakeNode(on_command=fail_sends)
    r = await attach(node)
    with pytest.raises(CommandError) as info:
        await r.send(P2, 0x70, b"x")
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert info.value.reason == ErrorReason.UNKNOWN_PEER
    assert "send.peer_id" in info.value.message
    assert await r.num_peers() == PeerCounts(1, 2, 3)
    await r.close()


async def test_results_are_matched_to_commands_by_request_id() -> None:
    node = FakeNode(on_command=lambda cmd: None)  # hold every command
    r = await attach(node)
    first = asyncio.create_task(r.num_peers())
    second = asyncio.create_task(r.send(P1, 0x70, b"x"))
    await node.wait_for(lambda: len(node.commands) == 2)
    node.reply(2, pb.CommandResult(send=pb.SendResult(queued=False)))
    node.reply(1, pb.CommandResult(num_peers=pb.PeerCounts(inbound=7)))
    assert await second is False
    assert await first == PeerCounts(0, 7, 0)
    await r.close()


async def test_a_result_of_the_wrong_kind_is_a_protocol_error() -> None:
    node = FakeNode(on_command=lambda cmd: pb.CommandResult(done=pb.Empty()))
    r = await attach(node)
    with pytest.raises(ProtocolError, match="expected a 'num_peers' result"):
        await r.num_peers()
    await r.close()


async def test_commands_beyond_the_in_flight_limit_wait_for_a_slot() -> None:
    node = FakeNode(on_command=lambda cmd: None)
    r = await attach(node, max_inflight_commands=2)
    tasks = [asyncio.create_task(r.num_peers()) for _ in range(3)]
    await node.wait_for(lambda: len(node.commands) == 2)
    await asyncio.sleep(0.01)
    assert len(node.commands) == 2
    node.reply(1, pb.CommandResult(num_peers=pb.PeerCounts()))
    await node.wait_for(lambda: len(node.commands) == 3)
    for rid in (2, 3):
        node.reply(rid, pb.CommandResult(num_peers=pb.PeerCounts()))
    assert len(await asyncio.gather(*tasks)) == 3
    await r.close()


# ------------------------------------------------------------------ batching


async def test_commands_issued_back_to_back_share_one_stream_message() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)
    stream = node.attachments[0].stream
    before = len(stream.requests)
    tasks = [asyncio.create_task(r.send(P1, 0x70, bytes([i]))) for i in range(100)]  # a loop that does not await
    assert await asyncio.gather(*tasks) == [True] * 100
    assert node.command_messages == [100]
    sent = stream.requests[before:]
    assert [m.WhichOneof("msg") for m in sent] == ["batch"]
    assert [c.request_id for c in sent[0].batch.commands] == list(range(1, 101))
    assert [c.send.message for c in node.commands] == [bytes([i]) for i in range(100)]  # in the order issued
    await r.close()


async def test_concurrent_tasks_each_awaiting_their_commands_still_share_stream_messages() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)

    async def worker(w: int) -> list[bool]:
        return [await r.try_send(P1, 0x70, bytes([w, i])) for i in range(4)]

    results = await asyncio.gather(*(worker(w) for w in range(50)))
    assert results == [[True] * 4] * 50
    assert sum(node.command_messages) == 200
    assert len(node.command_messages) <= 8, node.command_messages  # one stream message per command: 200
    await r.close()


async def test_ack_credit_and_commands_of_one_moment_go_in_one_stream_message() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node, window_messages=4, window_bytes=1000)
    node.emit(ev_start(), ev_recv(P1, "c1", b"abc"))
    await take(r, 2)  # Start consumed (its ack and credit went alone), the Receive in hand
    att = node.attachments[0]
    await node.wait_for(lambda: att.acks == [1])
    before = len(att.stream.requests)
    commands = [asyncio.create_task(r.num_peers()) for _ in range(3)]
    following = asyncio.create_task(r.next_event())  # consumes the Receive: ack 2 and credit (1, 3) are due
    assert await asyncio.gather(*commands) == [PeerCounts(1, 2, 3)] * 3
    await node.wait_for(lambda: att.acks == [1, 2])
    sent = att.stream.requests[before:]
    assert [m.WhichOneof("msg") for m in sent] == ["batch"]
    b = sent[0].batch
    assert b.ack.event_seq == 2
    assert (b.credit.messages, b.credit.bytes) == (1, 3)
    assert [c.WhichOneof("kind") for c in b.commands] == ["num_peers"] * 3
    following.cancel()
    await r.close()


async def test_more_than_1024_commands_at_once_are_split_into_batches_of_1024() -> None:
    node = FakeNode(on_command=answer)  # ends the stream if a batch carries more than 1024
    r = await attach(node, max_inflight_commands=3000)
    assert await asyncio.gather(*(r.try_send(P1, 0x70, b"x") for _ in range(2500))) == [True] * 2500
    assert node.command_messages == [1024, 1024, 452]
    assert [c.request_id for c in node.commands] == list(range(1, 2501))
    assert len(node.attachments) == 1
    await r.close()


async def test_every_result_of_a_result_batch_reaches_its_own_caller_errors_included() -> None:
    node = FakeNode(on_command=lambda cmd: None)  # hold every command; answered below in one ResultBatch
    r = await attach(node)
    calls: dict[str, asyncio.Task[Any]] = {
        "k0": asyncio.create_task(r.get_peer_data(P1, "k0")),
        "send": asyncio.create_task(r.send(P2, 0x70, b"x")),
        "k1": asyncio.create_task(r.get_peer_data(P1, "k1")),
        "try_send": asyncio.create_task(r.try_send(P1, 0x70, b"y")),
        "set": asyncio.create_task(r.set_peer_data(P1, "big", bytes(10))),
        "counts": asyncio.create_task(r.num_peers()),
        "k2": asyncio.create_task(r.get_peer_data(P1, "k2")),
        "gone": asyncio.create_task(r.get_peer_data(P1, "gone")),
    }
    await node.wait_for(lambda: len(node.commands) == len(calls))
    assert node.command_messages == [len(calls)]
    calls["gone"].cancel()  # its result arrives for nobody

    def result_for(cmd: pb.Command) -> pb.CommandResult:
        kind = cmd.WhichOneof("kind")
        if kind == "get_peer_data":
            return pb.CommandResult(peer_data=pb.PeerDataResult(found=True, value=f"value of {cmd.get_peer_data.key}".encode()))
        if kind == "send":
            return pb.CommandResult(error=pb.CommandError(code=5, message="send.peer_id: no connected peer", reason=pb.ERROR_REASON_UNKNOWN_PEER))
        if kind == "try_send":
            return pb.CommandResult(send=pb.SendResult(queued=False))
        if kind == "set_peer_data":
            return pb.CommandResult(error=pb.CommandError(code=3, message="set_peer_data.value: too large"))
        return pb.CommandResult(num_peers=pb.PeerCounts(outbound=cmd.request_id))

    answers = [(c.request_id, result_for(c)) for c in reversed(node.commands)]  # completed in another order
    answers.insert(3, (999, pb.CommandResult(done=pb.Empty())))  # a request nobody made
    node.reply_batch(answers)
    async with asyncio.timeout(5):  # a result not dispatched leaves its caller waiting
        await asyncio.wait([t for name, t in calls.items() if name != "gone"])

    assert await calls["k0"] == b"value of k0"
    assert await calls["k1"] == b"value of k1"
    assert await calls["k2"] == b"value of k2"
    assert await calls["try_send"] is False
    assert await calls["counts"] == PeerCounts(outbound=6, inbound=0, dialing=0)  # request 6
    with pytest.raises(CommandError) as send_err:
        await calls["send"]
    assert (send_err.value.code, send_err.value.reason) == (grpc.StatusCode.NOT_FOUND, ErrorReason.UNKNOWN_PEER)
    with pytest.raises(CommandError) as set_err:
        await calls["set"]
    assert set_err.value.code == grpc.StatusCode.INVALID_ARGUMENT and "too large" in set_err.value.message
    assert calls["gone"].cancelled()
    node.on_command = answer
    assert await r.num_peers() == PeerCounts(1, 2, 3)  # the stream lives on
    await r.close()


async def test_single_results_still_work_for_a_node_that_does_not_batch_them() -> None:
    node = FakeNode(on_command=answer, batch_results=False)
    r = await attach(node)
    got = await asyncio.gather(*(r.get_peer_data(P1, "k" if i % 2 else "other") for i in range(20)))
    assert got == [None if i % 2 == 0 else b"v" for i in range(20)]
    assert node.command_messages == [20]
    await r.close()


async def test_a_command_cancelled_before_it_was_written_is_not_sent() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)
    doomed = asyncio.create_task(r.send(P1, 0x70, b"never"))
    await asyncio.sleep(0)  # it ran and queued its command; the writer has not run yet
    doomed.cancel()
    assert await r.send(P1, 0x70, b"sent") is True
    assert doomed.cancelled()
    assert [c.send.message for c in node.commands] == [b"sent"]
    await r.close()


async def test_a_failed_write_fails_its_commands_and_later_ones_until_the_re_attach() -> None:
    node = FakeNode(on_command=answer)
    r = await attach(node)
    node.fail_writes = StreamStatus(grpc.StatusCode.UNAVAILABLE, "connection reset")
    tasks = [asyncio.create_task(r.num_peers()) for _ in range(3)]
    for t in tasks:
        with pytest.raises(ConnectionLostError, match="may not have been sent"):
            await t
    with pytest.raises(ConnectionLostError, match="was not sent"):
        await r.num_peers()
    assert node.commands == []
    node.fail_writes = None
    node.break_stream()  # the reading side learns it too
    assert await take(r, 1) == [SessionEvent(resumed=True)]
    assert await r.num_peers() == PeerCounts(1, 2, 3)
    await r.close()


async def test_a_burst_of_other_commands_over_64_kib_goes_in_messages_the_node_decodes() -> None:
    """The fake node screens requests as the real one: over 64 KiB, only payload commands (else INVALID_ARGUMENT)."""
    node = FakeNode(on_command=answer)
    r = await attach(node)
    await asyncio.gather(*(r.set_peer_data(P1, f"k{i}", bytes([i]) * 3000) for i in range(40)))
    assert sum(node.command_messages) == 40 and len(node.command_messages) >= 2, node.command_messages
    assert [c.set_peer_data.key for c in node.commands] == [f"k{i}" for i in range(40)]
    assert all(m.ByteSize() <= 64 * 1024 for m in node.attachments[0].stream.requests)
    # Payload commands of the same size still share one message.
    assert await asyncio.gather(*(r.try_send(P1, 0x70, bytes(3000)) for _ in range(40))) == [True] * 40
    assert node.command_messages[-1] == 40
    assert len(node.attachments) == 1 and r.state == "attached"
    await r.close()


async def test_a_command_too_large_for_the_node_fails_without_being_sent_and_the_stream_lives_on() -> None:
    node = FakeNode(on_command=answer, max_message_bytes=1024 * 1024)
    r = await attach(node, max_message_bytes=1024 * 1024)
    others = [asyncio.create_task(r.num_peers()) for _ in range(3)]
    with pytest.raises(CommandError) as control:
        await r.set_peer_data(P1, "big", bytes(64 * 1024))  # a SetPeerData over 64 KiB: the node would end the stream
    assert (control.value.code, control.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD)
    assert "not sent" in control.value.message
    with pytest.raises(CommandError) as payload:
        await r.send(P1, 0x70, bytes(1024 * 1024))  # over the node's message limit
    assert (payload.value.code, payload.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.MESSAGE_TOO_LARGE)
    with pytest.raises(CommandError, match="max_message_bytes"):
        await r.broadcast(0x70, bytes(2 * 1024 * 1024))
    assert await asyncio.gather(*others) == [PeerCounts(1, 2, 3)] * 3
    assert all(c.WhichOneof("kind") == "num_peers" for c in node.commands)
    # Just under the limit goes, alone: two such messages do not share one stream message.
    assert await asyncio.gather(*(r.send(P1, 0x70, bytes(600 * 1024)) for _ in range(2))) == [True, True]
    assert node.command_messages[-2:] == [1, 1]
    await r.set_peer_data(P1, "fits", bytes(60 * 1024))
    assert node.commands[-1].set_peer_data.key == "fits"
    assert len(node.attachments) == 1 and r.state == "attached"
    await r.close()


def test_max_message_bytes_must_leave_room_for_a_command() -> None:
    with pytest.raises(ValueError, match="max_message_bytes"):
        Reactor("app", CHANNELS, transport=FakeNode().transport, max_message_bytes=100)


# ------------------------------------------------------------------ re-attaching


async def test_a_broken_stream_is_resumed_without_gaps_or_duplicates() -> None:
    node = FakeNode()
    r = await attach(node, window_messages=16)
    node.emit(ev_start(), ev_init(P1, "c1"), ev_add(P1, "c1"), *(ev_recv(P1, "c1", bytes([i])) for i in range(5)))
    first = await take(r, 4)  # Start, InitPeer, AddPeer, m0 (in hand)
    token = r.session_token
    node.break_stream()
    node.emit(*(ev_recv(P1, "c1", bytes([i])) for i in range(5, 8)))
    rest = await take(r, 8)  # m1..m7 and the SessionEvent (m1..m4 may come before it: they were here already)
    assert [e for e in rest if isinstance(e, SessionEvent)] == [SessionEvent(resumed=True, refused_reason="")]
    assert payloads(first + rest) == [bytes([i]) for i in range(8)]
    assert node.attachments[1].register.session_token == token
    assert r.stats.resumes == 1
    assert r.state == "attached"
    # The peer table survived: events after the resume still carry InitPeer's details.
    assert isinstance(rest[-1], Receive) and rest[-1].peer.remote_address == "127.0.0.1:1"
    await r.close()


async def test_a_refused_resume_reports_a_fresh_session_and_its_snapshot() -> None:
    node = FakeNode(resumable=False)
    r = await attach(node)
    node.snapshot = lambda: [ev_start(), ev_init(P2, "c2"), ev_add(P2, "c2")]  # what the node has by then
    node.emit(ev_start(), ev_init(P1, "c1"), ev_add(P1, "c1"), ev_recv(P1, "c1", b"lost?"))
    await take(r, 3)
    node.break_stream()
    events = await take(r, 4)
    if isinstance(events[0], Receive):  # it was here before the break was noticed
        assert events[0].message == b"lost?"
        events = events[1:] + await take(r, 1)
    assert events[0] == SessionEvent(resumed=False, refused_reason="unknown or expired session")
    assert [type(e) for e in events[1:]] == [Start, InitPeer, AddPeer]
    assert isinstance(events[2], InitPeer) and events[2].peer.peer_id == P2
    assert r.stats.fresh_sessions == 1
    # The new session is numbered from 1 and acknowledged as such.
    waiting = asyncio.create_task(r.next_event())
    await node.wait_for(lambda: node.attachments[1].acks[-1:] == [3])
    waiting.cancel()
    await r.close()


async def test_a_stream_that_ends_without_stop_is_re_attached() -> None:
    node = FakeNode()
    r = await attach(node)
    node.emit(ev_start())
    await take(r, 1)
    node.end_stream()
    assert await take(r, 1) == [SessionEvent(resumed=True)]
    assert len(node.attachments) == 2
    await r.close()


async def test_in_flight_commands_fail_with_connection_lost_and_new_ones_wait_for_the_re_attach() -> None:
    held = FakeNode(on_command=lambda cmd: None)
    r = await attach(held, reconnect=ReconnectPolicy(initial_backoff_s=0.02, max_backoff_s=0.02, jitter=0.0))
    pending = asyncio.create_task(r.num_peers())
    await held.wait_for(lambda: len(held.commands) == 1)
    held.refusals.extend(StreamStatus(grpc.StatusCode.UNAVAILABLE, "down") for _ in range(3))
    held.break_stream()
    with pytest.raises(ConnectionLostError):
        await pending
    held.on_command = answer
    assert await r.num_peers() == PeerCounts(1, 2, 3)  # waited for the re-attach
    assert len(held.attachments) == 2
    await r.close()


async def test_already_exists_while_re_attaching_is_retried() -> None:
    node = FakeNode()
    r = await attach(node)
    node.refusals.append(StreamStatus(grpc.StatusCode.ALREADY_EXISTS, "attached on another stream"))
    node.break_stream()
    assert await take(r, 1) == [SessionEvent(resumed=True)]
    await r.close()


async def test_re_attaching_gives_up_after_max_attempts() -> None:
    node = FakeNode()
    policy = ReconnectPolicy(initial_backoff_s=0.001, max_backoff_s=0.001, jitter=0.0, max_attempts=3)
    r = await attach(node, reconnect=policy)
    node.refusals.extend(StreamStatus(grpc.StatusCode.UNAVAILABLE, "down") for _ in range(10))
    node.break_stream()
    with pytest.raises(ReconnectFailedError, match="after 3 attempts"):
        await take(r, 1)
    assert r.state == "failed"
    with pytest.raises(ReactorClosedError):
        await r.num_peers()
    await r.close()


async def test_a_refusal_that_cannot_be_retried_ends_the_session() -> None:
    node = FakeNode()
    r = await attach(node)
    node.refusals.append(StreamStatus(grpc.StatusCode.FAILED_PRECONDITION, "registered different channels"))
    node.break_stream()
    with pytest.raises(RegistrationError) as info:
        await take(r, 1)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    await r.close()


async def test_a_status_that_cannot_be_retried_is_raised_to_the_application() -> None:
    node = FakeNode()
    r = await attach(node)
    node.break_stream(grpc.StatusCode.INVALID_ARGUMENT, "ack.event_seq: beyond the last event")
    with pytest.raises(StreamError) as info:
        await take(r, 1)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(node.attachments) == 1
    await r.close()


async def test_a_gap_in_event_numbers_is_a_protocol_error() -> None:
    node = FakeNode()
    r = await attach(node)
    assert node.attached is not None
    node.attached.stream.respond(pb.AttachResponse(events=pb.EventBatch(events=[pb.Event(seq=2, on_start=pb.OnStart())])))
    with pytest.raises(ProtocolError, match="events were lost"):
        await take(r, 1)
    await r.close()


async def test_close_ends_a_waiting_consumer_and_fails_pending_commands() -> None:
    node = FakeNode(on_command=lambda cmd: None)
    r = await attach(node)
    consumer = asyncio.create_task(r.next_event())
    command = asyncio.create_task(r.num_peers())
    await node.wait_for(lambda: len(node.commands) == 1)
    await r.close()
    assert await consumer is None
    with pytest.raises(ReactorClosedError):
        await command
    assert r.state == "closed"
    await r.close()  # idempotent


async def test_async_with_closes_on_exit() -> None:
    node = FakeNode()
    async with Reactor.attach("fake:0", "app", CHANNELS, transport=node.transport) as r:
        assert r.state == "attached"
    state: str = r.state
    assert state == "closed" and node.transport.closed


# ------------------------------------------------------------------ callback style


class Recorder(BaseReactor):
    def __init__(self) -> None:
        super().__init__("app")
        self.calls: list[tuple[str, ...]] = []

    def get_channels(self) -> list[ChannelDescriptor]:
        return CHANNELS

    async def on_start(self) -> None:
        self.calls.append(("on_start",))

    async def init_peer(self, peer: Peer) -> None:
        self.calls.append(("init_peer", peer.connection_id))

    async def add_peer(self, peer: Peer) -> None:
        self.calls.append(("add_peer", peer.connection_id))
        await self.switch.send(peer, 0x70, b"hi")

    async def receive(self, env: Envelope) -> None:
        self.calls.append(("receive", env.src.connection_id, env.message.decode()))

    async def remove_peer(self, peer: Peer, reason: str) -> None:
        self.calls.append(("remove_peer", peer.connection_id, reason))

    async def on_session(self, event: SessionEvent) -> None:
        self.calls.append(("on_session", str(event.resumed)))

    async def on_stop(self) -> None:
        self.calls.append(("on_stop",))


async def test_run_reactor_calls_the_methods_in_event_order_and_returns_after_stop() -> None:
    node = FakeNode(on_command=answer)
    reactor = Recorder()
    run = asyncio.create_task(run_reactor(reactor, "fake:0", transport=node.transport, reconnect=FAST))
    await node.wait_for(lambda: node.attached is not None)
    node.emit(ev_start(), ev_init(P1, "c1"), ev_add(P1, "c1"), ev_recv(P1, "c1", b"yo"))
    await node.wait_for(lambda: len(node.commands) == 1)
    node.break_stream()
    await node.wait_for(lambda: len(node.attachments) == 2)
    node.emit(ev_remove(P1, "c1", "gone"), ev_stop())
    await asyncio.wait_for(run, 5)
    assert reactor.calls == [
        ("on_start",), ("init_peer", "c1"), ("add_peer", "c1"), ("receive", "c1", "yo"),
        ("on_session", "True"), ("remove_peer", "c1", "gone"), ("on_stop",),
    ]  # fmt: skip
    assert node.commands[0].send.message == b"hi"


async def test_run_reactor_raises_what_a_method_raised_and_closes_the_stream() -> None:
    class Broken(Recorder):
        async def on_start(self) -> None:
            raise ValueError("bug in the reactor")

    node = FakeNode()
    run = asyncio.create_task(run_reactor(Broken(), "fake:0", transport=node.transport))
    await node.wait_for(lambda: node.attached is not None)
    node.emit(ev_start())
    with pytest.raises(ValueError, match="bug in the reactor"):
        await asyncio.wait_for(run, 5)
    assert node.transport.closed


async def test_a_cancelled_next_event_loses_no_event() -> None:
    node = FakeNode()
    r = await attach(node, window_messages=4)
    node.emit(*(ev_recv(P1, "c1", bytes([i])) for i in range(20)))
    got: list[bytes] = []
    cancelled = 0
    for attempt in range(200):
        if len(got) == 20:
            break
        call = asyncio.create_task(r.next_event())
        for _ in range(attempt % 4):  # cancel at different points of the call
            await asyncio.sleep(0)
        if attempt % 3 != 2 and not call.done():
            call.cancel()
        try:
            ev = await asyncio.wait_for(call, 2)  # a lost event would leave the call waiting
        except asyncio.CancelledError:
            cancelled += 1
            continue
        assert isinstance(ev, Receive)
        got.append(ev.message)
    assert got == [bytes([i]) for i in range(20)]
    assert cancelled > 10
    await r.close()
