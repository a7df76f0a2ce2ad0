"""Batching against real Switchboard nodes: RequestBatch out, ResultBatch in.

The reactor's transport is wrapped (``RecordingTransport``) so that every gRPC
stream message is counted, both ways, next to the commands and results they carry.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from typing import Any

import grpc
import pytest

from switchboard_reactor import AddPeer, ChannelDescriptor, CommandError, ErrorReason, GrpcTransport, Reactor, Receive

from .conftest import AttachFactory, NodeFactory
from .support.recorder import RecordingTransport, Trace, commands_of, results_of

#: The node's limit on a request that is not made large by send, try_send and broadcast commands.
MAX_CONTROL_REQUEST_BYTES = 64 * 1024

APP = 0x70
UNKNOWN_PEER = "00" * 20


async def connected(new_node: NodeFactory, attach: AttachFactory, **a_options: Any) -> tuple[Reactor, str, RecordingTransport, Trace]:
    """Nodes A and B, ``app`` on each, A's reactor recorded on the wire and connected to B.
    Returns A's reactor, B's node ID, the recording and B's trace."""
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    wire = RecordingTransport(GrpcTransport(await a.wait_grpc()))
    ra, rb = await asyncio.gather(attach(a, transport=wire, **a_options), attach(b))
    ta, tb = Trace(ra), Trace(rb)
    _, b_addr = await asyncio.gather(a.wait_started(), b.wait_started())
    await ra.dial_peers([b_addr])
    await ta.wait_for(lambda: any(e.peer.peer_id == b.node_id for e in ta.of(AddPeer)), "A: AddPeer(B)")
    await tb.wait_for(lambda: tb.of(AddPeer), "B: AddPeer(A)")
    return ra, b.node_id, wire, tb


async def scrape(url: str, histogram: str) -> dict[str, float]:
    """A histogram of the node's /metrics: ``count``, ``sum`` and each bucket ``le``, summed over label sets."""
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    out: dict[str, float] = {}
    pattern = re.compile(rf"^{histogram}_(bucket|sum|count)\{{([^}}]*)\}} (\S+)$", re.MULTILINE)
    for part, labels, value in pattern.findall(text):
        if part == "bucket":
            le = re.search(r'le="([^"]*)"', labels)
            assert le is not None, labels
            part = f"le={le.group(1)}"
        out[part] = out.get(part, 0.0) + float(value)
    assert "count" in out, f"no {histogram} in the node's metrics"
    return out


def command_messages(wire: RecordingTransport) -> list[int]:
    """Per stream message written that carried commands: how many."""
    return [n for n in (len(commands_of(r)) for r in wire.written) if n]


def result_messages(wire: RecordingTransport) -> list[int]:
    """Per stream message read that carried results: how many."""
    return [n for n in (len(results_of(r)) for r in wire.read) if n]


async def test_commands_issued_at_once_share_stream_messages_and_every_result_reaches_its_caller(
    new_node: NodeFactory, attach: AttachFactory
) -> None:
    ra, b_id, wire, tb = await connected(new_node, attach)
    n = 200  # keys; the node keeps at most 256 per peer
    before_written, before_read = len(command_messages(wire)), len(result_messages(wire))

    # 200 writes at once: one value per key.
    await asyncio.gather(*(ra.set_peer_data(b_id, f"k{i}", i.to_bytes(2, "big")) for i in range(n)))

    # Reads of those keys interleaved with commands that fail (unknown peer, unregistered channel)
    # and sends that reach B: each caller must get its own answer.
    calls: list[tuple[str, asyncio.Task[Any]]] = []
    for i in range(n):
        calls.append(("get", asyncio.create_task(ra.get_peer_data(b_id, f"k{i}"))))
        if i % 3 == 0:
            calls.append(("unknown peer", asyncio.create_task(ra.try_send(UNKNOWN_PEER, APP, b"nobody"))))
        if i % 3 == 1:
            calls.append(("unregistered", asyncio.create_task(ra.try_send(b_id, 0x71, b"no such channel"))))
        if i % 10 == 2:
            calls.append(("send", asyncio.create_task(ra.send(b_id, APP, i.to_bytes(2, "big")))))
    outcomes = await asyncio.gather(*(t for _, t in calls), return_exceptions=True)

    values: list[Any] = []
    sends: list[Any] = []
    for (kind, _), outcome in zip(calls, outcomes):
        if kind == "unknown peer":
            assert isinstance(outcome, CommandError), outcome
            assert (outcome.code, outcome.reason) == (grpc.StatusCode.NOT_FOUND, ErrorReason.UNKNOWN_PEER)
        elif kind == "unregistered":
            assert isinstance(outcome, CommandError), outcome
            assert (outcome.code, outcome.reason) == (grpc.StatusCode.FAILED_PRECONDITION, ErrorReason.CHANNEL_NOT_REGISTERED)
        elif kind == "get":
            values.append(outcome)
        else:
            sends.append(outcome)
    assert values == [i.to_bytes(2, "big") for i in range(n)]  # in call order: each read got its own key's value
    sent = [i.to_bytes(2, "big") for i in range(n) if i % 10 == 2]
    assert sends == [True] * len(sent)
    await tb.wait_for(lambda: [e.message for e in tb.of(Receive)] == sent, f"B: the {len(sent)} messages, in order")

    # On the wire: a handful of stream messages each way instead of one per command and one per result.
    commands = command_messages(wire)[before_written:]
    results = result_messages(wire)[before_read:]
    issued = n + len(calls)
    assert sum(commands) == issued and sum(results) == issued
    assert len(commands) <= 6, f"{issued} commands in {len(commands)} stream messages: {commands}"
    assert max(commands) > 100
    assert len(results) < issued // 10, f"{issued} results in {len(results)} stream messages"
    assert max(results) > 1
    assert ra.state == "attached"


async def test_more_commands_at_once_than_a_batch_holds_go_in_batches_of_at_most_1024(
    new_node: NodeFactory, attach: AttachFactory
) -> None:
    ra, b_id, wire, _ = await connected(new_node, attach, max_inflight_commands=2500)
    before = len(command_messages(wire))
    counts = await asyncio.gather(*(ra.num_peers() for _ in range(2500)))
    assert all(c.outbound == 1 for c in counts)
    batches = command_messages(wire)[before:]
    assert sum(batches) == 2500
    assert max(batches) == 1024 and len(batches) >= 3, batches
    assert ra.state == "attached"  # the node took every batch
    assert (await ra.get_peer(b_id)).peer.peer_id == b_id


async def test_a_slow_consumer_gets_credit_inside_batches_and_loses_nothing(new_node: NodeFactory, attach: AttachFactory) -> None:
    """Acks and credit ride in RequestBatches with commands the consumer issues at the same time."""
    a, b = await asyncio.gather(new_node("a"), new_node("b"))
    wire = RecordingTransport(GrpcTransport(await b.wait_grpc()))
    window, total = 8, 120
    ra, rb = await asyncio.gather(attach(a), attach(b, window_messages=window, transport=wire))
    ta = Trace(ra)
    _, b_addr = await asyncio.gather(a.wait_started(), b.wait_started())
    got: list[bytes] = []
    answers: list[asyncio.Task[bool]] = []
    b_added = asyncio.Event()

    async def consume_and_answer() -> None:
        async for ev in rb.events():
            if isinstance(ev, AddPeer):
                b_added.set()
            elif isinstance(ev, Receive):
                got.append(ev.message)
                # A command issued while consuming: it goes with the credit that consuming makes due.
                answers.append(asyncio.create_task(rb.try_send(ev.peer, APP, b"thanks")))
                if len(got) == total:
                    return

    consumer = asyncio.create_task(consume_and_answer())
    await ra.dial_peers([b_addr])
    await ta.wait_for(lambda: ta.of(AddPeer), "A: AddPeer(B)")
    async with asyncio.timeout(10):
        await b_added.wait()
    await asyncio.gather(*(ra.send(b.node_id, APP, i.to_bytes(2, "big")) for i in range(total)))
    await asyncio.wait_for(consumer, 30)
    assert got == [i.to_bytes(2, "big") for i in range(total)]
    assert all(isinstance(x, bool) for x in await asyncio.gather(*answers))
    assert rb.stats.duplicates == 0
    granted = wire.credit_granted_on_last_attachment()
    assert granted <= rb.stats.consumed + window
    assert any(r.WhichOneof("msg") == "batch" and r.batch.HasField("credit") for r in wire.written)


@pytest.mark.parametrize("n", [1, 2])
async def test_a_lone_command_is_answered_whatever_its_encoding(new_node: NodeFactory, attach: AttachFactory, n: int) -> None:
    ra, b_id, wire, _ = await connected(new_node, attach)
    got = await asyncio.gather(*(ra.get_peer_data(b_id, "absent") for _ in range(n)))
    assert got == [None] * n
    last = [r for r in wire.written if commands_of(r)][-1]
    assert last.WhichOneof("msg") == ("command" if n == 1 else "batch")


async def test_the_node_counts_few_stream_messages_for_many_commands(new_node: NodeFactory, attach: AttachFactory) -> None:
    """The node's own view (Prometheus): commands arrive in RequestBatches, results leave in ResultBatches."""
    a = await new_node("a", "--instrumentation.prometheus", "true", "--instrumentation.prometheus_listen_addr", "127.0.0.1:0")
    ra = await attach(a)
    await a.wait_started()
    url = await a.wait_metrics_url()
    requests_before = await scrape(url, "cometbft_gateway_request_batch_commands")
    results_before = await scrape(url, "cometbft_gateway_result_batch_results")

    n = 600
    counts = await asyncio.gather(*(ra.num_peers() for _ in range(n)))
    assert len(counts) == n

    requests = await scrape(url, "cometbft_gateway_request_batch_commands")
    results = await scrape(url, "cometbft_gateway_result_batch_results")
    with_commands = (requests["count"] - requests["le=0"]) - (requests_before["count"] - requests_before["le=0"])
    assert requests["sum"] - requests_before["sum"] == n  # every command came inside a RequestBatch
    assert 1 <= with_commands <= 3, f"{n} commands in {with_commands} RequestBatches"
    assert results["sum"] - results_before["sum"] == n  # every result went back inside a ResultBatch
    assert results["count"] - results_before["count"] <= n // 10


def attachments(wire: RecordingTransport) -> int:
    """Streams the reactor opened: one Register each."""
    return sum(1 for r in wire.written if r.WhichOneof("msg") == "register")


async def test_a_burst_of_set_peer_data_over_64_kib_goes_in_requests_the_node_accepts(
    new_node: NodeFactory, attach: AttachFactory
) -> None:
    """The node ends the stream (INVALID_ARGUMENT) for a request over 64 KiB unless all its commands are
    send, try_send or broadcast: 40 SetPeerData of ~3 KiB issued at once must not go in one batch."""
    ra, b_id, wire, _ = await connected(new_node, attach)
    before = len(wire.written)
    values = [bytes([i]) * 3000 for i in range(40)]
    await asyncio.gather(*(ra.set_peer_data(b_id, f"v{i}", v) for i, v in enumerate(values)))
    assert await asyncio.gather(*(ra.get_peer_data(b_id, f"v{i}") for i in range(40))) == values

    carrying = [r for r in wire.written[before:] if any(c.WhichOneof("kind") == "set_peer_data" for c in commands_of(r))]
    assert sum(len(commands_of(r)) for r in carrying) == 40
    assert len(carrying) >= 2, [r.ByteSize() for r in carrying]  # ~120 KiB: at least two requests
    assert all(r.ByteSize() <= MAX_CONTROL_REQUEST_BYTES for r in carrying), [r.ByteSize() for r in carrying]
    assert attachments(wire) == 1 and ra.state == "attached"  # never re-attached

    # Payload commands of the same size still go together, in one request over 64 KiB.
    before = len(wire.written)
    got = await asyncio.gather(*(ra.try_send(UNKNOWN_PEER, APP, v) for v in values), return_exceptions=True)
    assert all(isinstance(e, CommandError) and e.reason == ErrorReason.UNKNOWN_PEER for e in got), got
    big = [r for r in wire.written[before:] if commands_of(r)]
    assert max(r.ByteSize() for r in big) > MAX_CONTROL_REQUEST_BYTES
    assert attachments(wire) == 1 and ra.state == "attached"


async def test_commands_too_large_for_the_node_fail_locally_and_the_stream_lives_on(new_node: NodeFactory, attach: AttachFactory) -> None:
    """A SetPeerData over 64 KiB, and a send over the node's grpc.max_message_bytes, would make the node end the
    stream: they fail with CommandError before they are written."""
    limit = 1024 * 1024
    a = await new_node("a", "--grpc.max_message_bytes", str(limit))
    wire = RecordingTransport(GrpcTransport(await a.wait_grpc()))
    channels = (ChannelDescriptor(APP, priority=5, send_queue_capacity=100, recv_message_capacity=limit),)
    ra = await attach(a, channels=channels, transport=wire, max_message_bytes=limit)
    await a.wait_started()
    before = len(wire.written)

    with pytest.raises(CommandError) as control:
        await ra.set_peer_data(UNKNOWN_PEER, "big", bytes(64 * 1024))
    assert (control.value.code, control.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.INVALID_FIELD)
    with pytest.raises(CommandError) as payload:
        await ra.try_send(UNKNOWN_PEER, APP, bytes(limit))
    assert (payload.value.code, payload.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, ErrorReason.MESSAGE_TOO_LARGE)
    assert not any(commands_of(r) for r in wire.written[before:])  # neither was written

    # Just under the limits, the node takes them (and answers: no such peer).
    for call in (ra.set_peer_data(UNKNOWN_PEER, "fits", bytes(60 * 1024)), ra.try_send(UNKNOWN_PEER, APP, bytes(limit - 1024))):
        with pytest.raises(CommandError) as answered:
            await call
        assert answered.value.reason == ErrorReason.UNKNOWN_PEER
    assert (await ra.num_peers()).outbound == 0
    assert attachments(wire) == 1 and ra.state == "attached"
