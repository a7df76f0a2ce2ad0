"""The reactor grammar check shared by every SDK's conformance suite (client/conformance/SCENARIOS.md).

Per peer connection the events are ``InitPeer Receive* [AddPeer Receive*] RemovePeer``, all between
``Start`` and ``Stop``; a connection ID is never empty or reused, every event of a connection names the
peer ID its InitPeer named, and a node ID never has two open connections at once.
``SessionEvent(resumed=False)`` starts a new word (a fresh session re-describes the connected peers); a
resumed one is transparent.

The TypeScript and Go checkers make the same checks; all of them run over the fixtures in
``client/conformance/grammar-traces.json`` (tests/test_grammar.py) and must reject each bad trace at
the same event.
"""

from __future__ import annotations

from collections.abc import Sequence

from switchboard_reactor import AddPeer, Event, InitPeer, Receive, RemovePeer, SessionEvent, Start, Stop


class GrammarError(AssertionError):
    """A trace that is not (a prefix of) a word; ``index`` is the first offending event (the trace's length when
    it ended too early)."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def check_trace(events: Sequence[Event], *, complete: bool = False) -> None:
    """Raises :class:`GrammarError` naming the first event that breaks the grammar.

    With ``complete`` the trace must end with ``Stop``; otherwise any prefix of a word passes.
    """
    phase = "new"  # new -> running -> stopped
    conns: dict[str, tuple[str, str]] = {}  # connection -> (peer_id, state: initialized/added/removed)
    open_by_peer: dict[str, str] = {}

    def fail(i: int, why: str) -> GrammarError:
        return GrammarError(f"event {i} ({events[i]!r}): {why}\ntrace: {[type(e).__name__ for e in events]}", i)

    for i, ev in enumerate(events):
        if isinstance(ev, SessionEvent):
            if not ev.resumed:  # a fresh word begins; connections seen before may be described again
                phase, conns, open_by_peer = "new", {}, {}
            continue
        if isinstance(ev, Start):
            if phase != "new":
                raise fail(i, f"Start in phase {phase}")
            phase = "running"
            continue
        if phase != "running":
            raise fail(i, f"{type(ev).__name__} outside Start..Stop (phase {phase})")
        if isinstance(ev, Stop):
            still = [c for c, (_, st) in conns.items() if st != "removed"]
            if still:
                raise fail(i, f"Stop while connections {still} were not removed")
            phase = "stopped"
            continue
        peer = ev.peer
        conn = peer.connection_id
        known = conns.get(conn)
        if isinstance(ev, InitPeer):
            if conn == "":
                raise fail(i, f"empty connection ID (peer {peer.peer_id})")
            if known is not None:
                raise fail(i, f"connection {conn} reused")
            if peer.peer_id in open_by_peer:
                raise fail(i, f"peer {peer.peer_id} already has open connection {open_by_peer[peer.peer_id]}")
            conns[conn] = (peer.peer_id, "initialized")
            open_by_peer[peer.peer_id] = conn
            continue
        if known is None:
            raise fail(i, f"connection {conn} without InitPeer")
        peer_id, state = known
        if peer.peer_id != peer_id:
            raise fail(i, f"connection {conn} belongs to {peer_id}, not {peer.peer_id}")
        if state == "removed":
            raise fail(i, f"connection {conn} was already removed")
        if isinstance(ev, AddPeer):
            if state != "initialized":
                raise fail(i, f"AddPeer twice for {conn}")
            conns[conn] = (peer_id, "added")
        elif isinstance(ev, RemovePeer):
            conns[conn] = (peer_id, "removed")
            open_by_peer.pop(peer_id, None)
        elif not isinstance(ev, Receive):
            raise fail(i, "unknown event")
    if complete and phase != "stopped":
        raise GrammarError(f"trace ends in phase {phase}, not after Stop: {[type(e).__name__ for e in events]}", len(events))
