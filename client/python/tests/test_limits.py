"""The node's limits, told in Registered: the reactor keeps to them, and to the fallback only for a node that tells none."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import grpc
import pytest

from switchboard_reactor import ChannelDescriptor, CommandError, ErrorReason, Reactor, ReconnectPolicy
from switchboard_reactor._outbox import FALLBACK_LIMITS, Outbox, limits_from
from switchboard_reactor.pb import gateway_pb2 as pb
from switchboard_reactor.transport import StreamStatus

from .support.fake_node import FakeNode

CHANNELS = [ChannelDescriptor(0x70, priority=5)]
P1 = "11" * 20
FAST = ReconnectPolicy(initial_backoff_s=0.001, max_backoff_s=0.005, jitter=0.0, max_attempts=50, connect_timeout_s=1.0)


def answer(cmd: pb.Command) -> pb.CommandResult:
    if cmd.WhichOneof("kind") in ("send", "try_send"):
        return pb.CommandResult(send=pb.SendResult(queued=True))
    return pb.CommandResult(done=pb.Empty())


def test_a_node_that_tells_no_limits_is_held_to_the_fallback_and_each_field_told_replaces_it() -> None:
    assert limits_from(None, 1 << 30) == FALLBACK_LIMITS
    told = limits_from(pb.Limits(max_batch_commands=8, max_control_request_bytes=512), 1 << 30)
    assert told == replace(FALLBACK_LIMITS, max_batch_commands=8, max_control_request_bytes=512)
    # The reactor's own channel limit still caps the largest message.
    assert limits_from(pb.Limits(max_message_bytes=1 << 30), 1 << 20).max_message_bytes == 1 << 20


async def test_an_outbox_for_smaller_limits_cuts_batches_by_commands_bytes_and_control_size() -> None:
    loop = asyncio.get_running_loop()
    box = Outbox.for_limits(replace(FALLBACK_LIMITS, max_batch_commands=3, max_control_request_bytes=400, max_message_bytes=1000))
    for rid in range(1, 8):
        box.put_command(pb.Command(request_id=rid, num_peers=pb.NumPeers()), loop.create_future())
    counts = []
    while (taken := box.take()) is not None:
        counts.append(len(taken[1]))
    assert counts == [3, 3, 1]
    for rid in range(1, 5):  # two of 400 bytes fit the 1000-byte message, three do not
        box.put_command(pb.Command(request_id=rid, try_send=pb.TrySend(peer_id="p", message=bytes(400))), loop.create_future())
    sizes = []
    while (taken := box.take()) is not None:
        sizes.append((len(taken[1]), taken[0].ByteSize()))
    assert [n for n, _ in sizes] == [2, 2]
    assert all(size <= 1000 for _, size in sizes), sizes
    for rid in range(1, 7):  # commands without a payload: messages within the node's 400 bytes
        box.put_command(pb.Command(request_id=rid, get_peer_data=pb.GetPeerData(peer_id="p", key="k" * 100)), loop.create_future())
    requests = []
    while (taken := box.take()) is not None:
        requests.append(taken[0])
    assert len(requests) > 1 and all(r.ByteSize() <= 400 for r in requests), [r.ByteSize() for r in requests]


async def test_a_node_sending_smaller_limits_is_obeyed() -> None:
    node = FakeNode(on_command=answer, limits=pb.Limits(max_batch_commands=4, max_batch_payload_bytes=1 << 20, max_control_request_bytes=512, max_message_bytes=4096))
    r = await Reactor.attach("fake:0", "app", CHANNELS, transport=node.transport, reconnect=FAST)
    try:
        assert await asyncio.gather(*(r.try_send(P1, 0x70, b"x") for _ in range(10))) == [True] * 10
        assert node.command_messages == [4, 4, 2]
        # 600 bytes fit the fallback's 64 KiB for a command without a payload, not this node's 512: refused, unsent.
        with pytest.raises(CommandError) as control:
            await r.set_peer_data(P1, "k", bytes(600))
        assert (control.value.code, control.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD)
        assert "512" in control.value.message
        # 5000 bytes fit the reactor's own 110 MiB, not the node's 4096.
        with pytest.raises(CommandError) as big:
            await r.try_send(P1, 0x70, bytes(5000))
        assert big.value.reason == ErrorReason.MESSAGE_TOO_LARGE
        assert len(node.commands) == 10
        assert len(node.attachments) == 1  # the stream lived on
    finally:
        await r.close()


async def test_a_command_that_waited_for_a_re_attachment_keeps_to_the_new_nodes_limits() -> None:
    node = FakeNode(on_command=answer)  # tells no limits: the fallback's 64 KiB for a command without a payload
    slow = ReconnectPolicy(initial_backoff_s=0.05, max_backoff_s=0.05, jitter=0.0, max_attempts=50, connect_timeout_s=5.0)
    r = await Reactor.attach("fake:0", "app", CHANNELS, transport=node.transport, reconnect=slow)
    try:
        node.limits = pb.Limits(max_control_request_bytes=512)
        node.refusals.append(StreamStatus(grpc.StatusCode.UNAVAILABLE, "restarting"))  # the first re-attach fails: time to issue
        node.break_stream()
        await node.wait_for(lambda: r.state != "attached")
        # Issued while the reactor re-attaches: 600 bytes pass the old limits, not the new node's.
        with pytest.raises(CommandError) as refused:
            await r.set_peer_data(P1, "k", bytes(600))
        assert refused.value.reason == ErrorReason.INVALID_FIELD
        assert "512" in refused.value.message
        assert r.state == "attached"
        assert node.commands == []
    finally:
        await r.close()
