"""The grammar checker used by the conformance suite rejects what it must."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


# The conformance kit's fixtures: every SDK's checker (and the server's) runs these and must give each
# trace the verdict written there, rejecting at the same event.
FIXTURES_FILE = Path(__file__).resolve().parents[2] / "conformance" / "grammar-traces.json"
FIXTURES: list[dict[str, Any]] = json.loads(FIXTURES_FILE.read_text())["fixtures"]


def _event(e: dict[str, Any]) -> Event:
    kind = e["kind"]
    if kind == "OnStart":
        return Start()
    if kind == "OnStop":
        return Stop()
    if kind == "Session":
        return SessionEvent(e["resumed"])
    peer = Peer(e["peer"], e["connection"])
    if kind == "InitPeer":
        return InitPeer(peer)
    if kind == "AddPeer":
        return AddPeer(peer)
    if kind == "Receive":
        return Receive(peer, e["channel"], b"")
    if kind == "RemovePeer":
        return RemovePeer(peer)
    raise ValueError(f"unknown fixture event {e!r}")


def test_the_fixtures_hold_both_verdicts() -> None:
    assert sum(f["verdict"] == "accept" for f in FIXTURES) > 5
    assert sum(f["verdict"] == "reject" for f in FIXTURES) > 10


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["name"] for f in FIXTURES])
def test_shared_fixture(fixture: dict[str, Any]) -> None:
    trace = [_event(e) for e in fixture["events"]]
    if fixture["verdict"] == "accept":
        check_trace(trace, complete=fixture["complete"])
        return
    with pytest.raises(GrammarError) as caught:
        check_trace(trace, complete=fixture["complete"])
    assert caught.value.index == fixture["index"], f"{fixture['why']}: {caught.value}"
