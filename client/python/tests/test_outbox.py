"""The outbox's rules alone: what goes in one stream message, in what order, and where a batch ends."""

from __future__ import annotations

import asyncio

import pytest

import grpc

from switchboard_reactor import ErrorReason
from dataclasses import replace

from switchboard_reactor._outbox import (
    BATCH_OVERHEAD_BYTES,
    FALLBACK_LIMITS,
    Outbox,
    limits_from,
    refusal,
)
from switchboard_reactor.pb import gateway_pb2 as pb

from .support.fake_node import screen


# What a node that tells no limits (older than Registered.limits) is held to.
MAX_BATCH_BYTES = FALLBACK_LIMITS.max_batch_bytes
MAX_BATCH_COMMANDS = FALLBACK_LIMITS.max_batch_commands
MAX_CONTROL_REQUEST_BYTES = FALLBACK_LIMITS.max_control_request_bytes


def future() -> asyncio.Future[pb.CommandResult]:
    return asyncio.get_running_loop().create_future()


def send(rid: int, size: int = 1) -> pb.Command:
    return pb.Command(request_id=rid, send=pb.Send(peer_id="p", channel_id=0x70, message=bytes(size)))


def set_peer_data(rid: int, size: int) -> pb.Command:
    return pb.Command(request_id=rid, set_peer_data=pb.SetPeerData(peer_id="p" * 40, key=f"k{rid}", value=bytes(size)))


def commands_of(request: pb.AttachRequest) -> list[int]:
    which = request.WhichOneof("msg")
    if which == "command":
        return [request.command.request_id]
    if which == "batch":
        return [c.request_id for c in request.batch.commands]
    return []


def drain(box: Outbox) -> list[pb.AttachRequest]:
    out: list[pb.AttachRequest] = []
    while (taken := box.take()) is not None:
        request, carried = taken
        assert [q.command.request_id for q in carried] == commands_of(request)
        out.append(request)
    return out


def test_nothing_queued_is_nothing_to_send() -> None:
    assert Outbox().take() is None


async def test_a_lone_part_goes_as_its_plain_message() -> None:
    box = Outbox()
    box.put_flow(7, None)
    assert [r.WhichOneof("msg") for r in drain(box)] == ["ack"]
    box.put_flow(None, (2, 20))
    assert [r.WhichOneof("msg") for r in drain(box)] == ["credit"]
    box.put_command(send(1), future())
    (request,) = drain(box)
    assert request.WhichOneof("msg") == "command" and request.command.request_id == 1


async def test_ack_credit_and_commands_go_together_acks_keep_the_highest_and_credits_add_up() -> None:
    box = Outbox()
    box.put_command(send(1), future())
    box.put_flow(3, (1, 10))
    box.put_command(send(2), future())
    box.put_flow(2, None)  # an older ack cannot take the newer one back
    box.put_flow(None, (4, 5))
    (request,) = drain(box)
    assert request.WhichOneof("msg") == "batch"
    b = request.batch
    assert b.ack.event_seq == 3
    assert (b.credit.messages, b.credit.bytes) == (5, 15)
    assert [c.request_id for c in b.commands] == [1, 2]
    assert b.commands[0].send.message == bytes(1)


async def test_a_batch_carries_at_most_1024_commands_and_the_rest_follows_in_order() -> None:
    assert MAX_BATCH_COMMANDS == 1024
    box = Outbox()
    for rid in range(1, 2501):
        box.put_command(send(rid), future())
    box.put_flow(9, (1, 1))
    requests = drain(box)
    assert [len(commands_of(r)) for r in requests] == [1024, 1024, 452]
    assert [rid for r in requests for rid in commands_of(r)] == list(range(1, 2501))
    # The flow parts ride in the first message.
    assert requests[0].batch.ack.event_seq == 9
    assert not requests[1].batch.HasField("ack") and not requests[1].batch.HasField("credit")


async def test_a_batch_stops_taking_commands_at_the_byte_budget_and_a_larger_one_goes_alone() -> None:
    box = Outbox(max_bytes=1000)
    sizes = [300, 300, 300, 300, 5000, 10, 10]
    for rid, size in enumerate(sizes, 1):
        box.put_command(send(rid, size), future())
    requests = drain(box)
    assert [commands_of(r) for r in requests] == [[1, 2, 3], [4], [5], [6, 7]]
    assert requests[2].WhichOneof("msg") == "command"  # 5000 bytes, over the budget: alone
    default = Outbox()
    for rid in range(1, 5):
        default.put_command(send(rid, MAX_BATCH_BYTES // 3), future())
    assert [commands_of(r) for r in drain(default)] == [[1, 2], [3, 4]]


async def test_commands_whose_caller_gave_up_are_not_sent() -> None:
    box = Outbox()
    futures = [future() for _ in range(4)]
    for rid, f in enumerate(futures, 1):
        box.put_command(send(rid), f)
    futures[0].cancel()
    futures[2].cancel()
    assert box.waiting_commands == 4
    assert [commands_of(r) for r in drain(box)] == [[2, 4]]
    only_abandoned = Outbox()
    f = future()
    only_abandoned.put_command(send(5), f)
    f.cancel()
    assert only_abandoned.take() is None


async def test_drain_returns_the_commands_never_written_and_forgets_the_flow() -> None:
    box = Outbox()
    live, gone = future(), future()
    box.put_command(send(1), live)
    box.put_command(send(2), gone)
    gone.cancel()
    box.put_flow(1, (1, 1))
    assert [q.command.request_id for q in box.drain()] == [1]
    assert box.take() is None and not box.has_flow


def test_limits_must_let_something_through() -> None:
    with pytest.raises(ValueError):
        Outbox(max_commands=0)
    with pytest.raises(ValueError):
        Outbox(max_bytes=0)


async def test_a_message_with_any_other_command_than_a_payload_one_stays_within_64_kib() -> None:
    """The node decodes a request over 64 KiB only if every command in it is a send, try_send or broadcast."""
    assert MAX_CONTROL_REQUEST_BYTES == 64 * 1024
    box = Outbox()
    # 40 SetPeerData of ~3 KiB (~120 KiB in all), an ack and a credit as large as they get.
    for rid in range(1, 41):
        box.put_command(set_peer_data(rid, 3000), future())
    box.put_flow(2**64 - 1, (2**32 - 1, 2**64 - 1))
    requests = drain(box)
    assert [rid for r in requests for rid in commands_of(r)] == list(range(1, 41))  # all of them, in order
    assert len(requests) >= 2
    for r in requests:
        assert r.ByteSize() <= MAX_CONTROL_REQUEST_BYTES, [x.ByteSize() for x in requests]
        assert screen(r) is None
    assert requests[0].ByteSize() > MAX_CONTROL_REQUEST_BYTES - 3200  # each message was filled up to the limit

    # Payload commands alone still make batches far larger than 64 KiB.
    for rid in range(41, 81):
        box.put_command(send(rid, 3000), future())
    box.put_flow(7, (1, 1))
    (big,) = drain(box)
    assert commands_of(big) == list(range(41, 81))
    assert big.ByteSize() > 110 * 1024 and screen(big) is None


async def test_payload_and_other_commands_mixed_split_where_the_other_ones_would_go_over_64_kib() -> None:
    box = Outbox()
    kinds = (
        [send(rid, 30_000) for rid in range(1, 4)]  # ~90 KiB of payload
        + [set_peer_data(4, 100)]  # cannot join them: that would be a 90 KiB request with a SetPeerData
        + [send(5, 30_000), send(6, 30_000), pb.Command(request_id=7, num_peers=pb.NumPeers())]  # ~60 KiB with 4
        + [send(8, 8_000)]  # would take the message with 4 and 7 over 64 KiB
        + [set_peer_data(9, 50_000), send(10, 100_000), send(11, 10)]  # 10 would take the message with 9 over
    )
    for cmd in kinds:
        box.put_command(cmd, future())
    requests = drain(box)
    assert [commands_of(r) for r in requests] == [[1, 2, 3], [4, 5, 6, 7], [8, 9], [10, 11]]
    for r in requests:
        assert screen(r) is None, (commands_of(r), r.ByteSize())
    assert requests[0].ByteSize() > MAX_CONTROL_REQUEST_BYTES and requests[3].ByteSize() > MAX_CONTROL_REQUEST_BYTES


async def test_a_command_that_cannot_go_even_alone_is_refused_before_it_is_queued() -> None:
    def spd(size: int) -> pb.Command:
        return pb.Command(set_peer_data=pb.SetPeerData(peer_id="p" * 40, key="k", value=bytes(size)))

    # The largest SetPeerData accepted goes alone, with the largest request ID, ack and credit, within 64 KiB.
    largest = max(n for n in range(64 * 1024 - 2 * BATCH_OVERHEAD_BYTES - 100, 64 * 1024) if refusal(spd(n)) is None)
    assert refusal(spd(largest + 1)) is not None
    alone = Outbox()
    cmd = spd(largest)
    cmd.request_id = 2**64 - 1
    alone.put_command(cmd, future())
    alone.put_flow(2**64 - 1, (2**32 - 1, 2**64 - 1))
    (request,) = drain(alone)
    assert MAX_CONTROL_REQUEST_BYTES - BATCH_OVERHEAD_BYTES <= request.ByteSize() <= MAX_CONTROL_REQUEST_BYTES
    assert screen(request) is None
    over = pb.Command(set_peer_data=pb.SetPeerData(peer_id="p", key="k", value=bytes(64 * 1024)))
    err = refusal(over)
    assert err is not None
    assert (err.code, err.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD)
    assert "set_peer_data" in err.message and "not sent" in err.message
    dial = pb.Command(dial_peers=pb.DialPeers(addresses=[f"{'ab' * 20}@127.0.0.1:{p}" for p in range(2000)]))
    assert refusal(dial) is not None
    # A payload command may be larger, up to the node's message limit.
    assert refusal(pb.Command(send=pb.Send(peer_id="p", message=bytes(10 * 1024 * 1024)))) is None
    assert refusal(pb.Command(broadcast=pb.Broadcast(message=bytes(10 * 1024 * 1024)))) is None
    huge = refusal(pb.Command(try_send=pb.TrySend(peer_id="p", message=bytes(2 * 1024 * 1024))), replace(FALLBACK_LIMITS, max_message_bytes=2 * 1024 * 1024))
    assert huge is not None and (huge.code, huge.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.MESSAGE_TOO_LARGE)
    assert "max_message_bytes" in huge.message
