"""The inbox's rules alone: numbering, deduplication, acks and the credit window."""

from __future__ import annotations

import random

import pytest

from switchboard_reactor._flow import Inbox
from switchboard_reactor.errors import ProtocolError


def attached(window: int = 8, window_bytes: int = 1000) -> Inbox[int]:
    box: Inbox[int] = Inbox(window, window_bytes)
    box.begin_attachment()
    box.on_registered(resumed=False, next_event_seq=1)
    return box


def test_initial_credit_is_the_window() -> None:
    box: Inbox[int] = Inbox(7, 99)
    assert box.begin_attachment() == (7, 99)
    assert box.stats.credit_granted_messages == 7


def test_nothing_is_acked_or_credited_until_the_next_event_is_asked_for() -> None:
    box = attached()
    for seq in (1, 2, 3):
        assert box.accept(seq, 5, seq)
    assert box.take() == 1
    assert box.due(force=True) == (None, None)  # 1 is handed out, not consumed
    assert box.take() == 2
    assert box.due(force=True) == (1, (1, 5))  # asking for 2 consumed 1


def test_credit_is_batched_while_events_wait_and_flushed_when_empty() -> None:
    box = attached(window=8)  # batch = 2
    for seq in range(1, 6):
        box.accept(seq, 1, seq)
    box.take()
    box.take()  # consumed 1
    assert box.due() == (None, None)  # 1 owed < batch of 2, and events are waiting
    box.take()  # consumed 2
    ack, credit = box.due()
    assert (ack, credit) == (2, (2, 2))
    box.mark_sent(ack, credit)
    box.take()
    box.take()  # consumed 3, 4; 5 in hand, nothing waiting
    assert box.take() is None  # consumed 5; empty: flush
    assert box.due() == (5, (3, 3))


def test_a_byte_batch_triggers_credit_too() -> None:
    box = attached(window=100, window_bytes=100)  # batch: 25 messages or 25 bytes
    box.accept(1, 30, 1)
    box.accept(2, 1, 2)
    box.take()
    box.take()  # consumed the 30-byte event
    assert box.due() == (1, (1, 30))


def test_resent_events_are_dropped_but_their_credit_is_returned() -> None:
    box = attached()
    box.accept(1, 4, 1)
    assert box.take() == 1
    # Re-attach: event 1 is in the application's hands; 2 was waiting and is dropped.
    box.accept(2, 4, 2)
    assert box.begin_attachment() == (8, 1000)
    assert box.stats.discarded == 1
    box.on_registered(resumed=True, next_event_seq=1)
    assert not box.accept(1, 4, 1)  # resend of the event in hand
    assert box.accept(2, 4, 2)
    assert box.stats.duplicates == 1
    assert box.take() == 2  # consumes 1 (received on the old attachment: no credit for it)
    assert box.take() is None  # consumes 2
    ack, credit = box.due()
    assert ack == 2
    assert credit == (2, 8)  # the duplicate and event 2, both sent on this attachment


def test_a_gap_is_a_protocol_error() -> None:
    box = attached()
    box.accept(1, 0, 1)
    with pytest.raises(ProtocolError, match="events were lost"):
        box.accept(3, 0, 3)


def test_a_resume_that_skips_events_is_a_protocol_error() -> None:
    box = attached()
    box.accept(1, 0, 1)
    box.begin_attachment()
    with pytest.raises(ProtocolError, match="never received"):
        box.on_registered(resumed=True, next_event_seq=5)


def test_a_fresh_session_restarts_numbering_and_forgets_the_old_one() -> None:
    box = attached()
    box.accept(1, 0, 1)
    box.accept(2, 0, 2)
    assert box.take() == 1
    box.begin_attachment()
    box.on_registered(resumed=False, next_event_seq=1)
    box.push_marker(-1)
    assert box.accept(1, 0, 10)
    assert box.take() == -1  # settles old event 1: neither acked nor credited (the node forgot it)
    assert box.due(force=True) == (None, None)
    assert box.take() == 10
    assert box.take() is None
    assert box.due() == (1, (1, 0))
    assert box.stats.fresh_sessions == 1


def test_resume_reacknowledges_what_was_consumed() -> None:
    box = attached()
    for seq in (1, 2):
        box.accept(seq, 0, seq)
    box.take()
    box.take()
    box.take()
    ack, credit = box.due()
    box.mark_sent(ack, credit)
    box.begin_attachment()
    box.on_registered(resumed=True, next_event_seq=3)
    assert box.due() == (2, None)  # the last Ack may have been lost with the old stream


def test_resuming_a_session_of_another_process_continues_from_the_node() -> None:
    box: Inbox[int] = Inbox(4, 100)
    box.begin_attachment()
    box.on_registered(resumed=True, next_event_seq=41, position_known=False)
    assert box.accept(41, 0, 41)


@pytest.mark.parametrize("seed", range(20))
def test_credit_never_exceeds_the_window_plus_what_was_consumed(seed: int) -> None:
    """A node that sends whenever it holds credit, against a consumer that takes at random."""
    rng = random.Random(seed)
    window = rng.randint(1, 12)
    box: Inbox[int] = Inbox(window, 50)
    node_messages, node_bytes = box.begin_attachment()
    box.on_registered(resumed=False, next_event_seq=1)
    granted = node_messages
    next_seq, consumed, total = 1, 0, 300
    handed: list[int] = []
    while consumed < total:
        # The node sends while it holds credit (a large event may overdraw bytes).
        while next_seq <= total and node_messages >= 1 and node_bytes >= 1:
            size = rng.randint(0, 30)
            assert box.accept(next_seq, size, next_seq)
            node_messages -= 1
            node_bytes -= size
            next_seq += 1
        assert box.waiting <= window
        if rng.random() < 0.7:
            item = box.take()
            if handed:
                consumed += 1
            if item is None:
                handed.clear()
            else:
                handed[:] = [item]
        ack, credit = box.due(force=rng.random() < 0.1)
        box.mark_sent(ack, credit)
        if credit is not None:
            node_messages += credit[0]
            node_bytes += credit[1]
            granted += credit[0]
        assert granted <= window + consumed
    assert box.stats.received == total
