"""The grammar checker used by the conformance suite rejects what it must."""

from __future__ import annotations

import pytest

from switchboard_reactor import AddPeer, Event, InitPeer, Peer, Receive, RemovePeer, SessionEvent, Start, Stop

from .support.grammar import GrammarError, check_trace

A1, A2, B1 = Peer("a", "a#1"), Peer("a", "a#2"), Peer("b", "b#1")


def test_a_whole_word_with_interleaved_connections_passes() -> None:
    check_trace(
        [
            Start(), InitPeer(A1), InitPeer(B1), Receive(A1, 1, b""), AddPeer(B1), AddPeer(A1),
            Receive(B1, 1, b""), RemovePeer(A1), InitPeer(A2), RemovePeer(A2), RemovePeer(B1), Stop(),
        ],
        complete=True,
    )  # fmt: skip


def test_a_fresh_session_starts_a_new_word() -> None:
    check_trace([Start(), InitPeer(A1), SessionEvent(False, "expired"), Start(), InitPeer(A1), AddPeer(A1)])
    check_trace([Start(), InitPeer(A1), SessionEvent(True), AddPeer(A1)])


bad: list[tuple[str, list[Event]]] = [
    ("peer event before Start", [InitPeer(A1)]),
    ("Start twice", [Start(), Start()]),
    ("AddPeer without InitPeer", [Start(), AddPeer(A1)]),
    ("AddPeer twice", [Start(), InitPeer(A1), AddPeer(A1), AddPeer(A1)]),
    ("Receive after RemovePeer", [Start(), InitPeer(A1), RemovePeer(A1), Receive(A1, 1, b"")]),
    ("connection reused", [Start(), InitPeer(A1), RemovePeer(A1), InitPeer(A1)]),
    ("two open connections of one node", [Start(), InitPeer(A1), InitPeer(A2)]),
    ("another peer on a connection", [Start(), InitPeer(A1), AddPeer(Peer("b", "a#1"))]),
    ("Stop with an open connection", [Start(), InitPeer(A1), Stop()]),
    ("anything after Stop", [Start(), Stop(), InitPeer(A1)]),
    ("a resumed session does not restart", [Start(), SessionEvent(True), Start()]),
]


@pytest.mark.parametrize(("why", "trace"), bad, ids=[b[0] for b in bad])
def test_broken_traces_are_rejected(why: str, trace: list[Event]) -> None:
    with pytest.raises(GrammarError):
        check_trace(trace)


def test_complete_requires_stop() -> None:
    with pytest.raises(GrammarError, match="not after Stop"):
        check_trace([Start()], complete=True)
