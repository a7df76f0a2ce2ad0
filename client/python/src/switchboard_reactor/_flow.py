"""The inbox: received events, deduplication, acknowledgements and credit.

Pure bookkeeping — no I/O, no asyncio — so every rule is unit-tested alone.

Credit policy
    The node may send an event only while it holds credit (messages and
    bytes). Each attachment starts with a *window* of credit (given in
    Register). Credit is given back only for events the application has
    *consumed* — an event counts as consumed when the application asks for
    the next one — so the events on their way or waiting here never exceed
    the window: that is the backpressure. Consumed credit is returned in
    batches (a quarter of the window, or at once when nothing is waiting
    here), each batch together with an Ack of the last consumed event.

    Invariant, per attachment: credit granted ≤ window + events consumed.

Numbering
    Events of a session are numbered 1, 2, 3, ... An event whose number was
    already seen is a resend (after a resume) and is dropped, but still
    consumed credit on the node's side, so its credit is returned. A gap is a
    protocol error.

Re-attaching
    :meth:`begin_attachment` forgets the events still waiting here (the node
    resends every unacknowledged one after a resume) and grants a fresh
    window. :meth:`on_registered` then either continues the session (resume)
    or starts a fresh one (numbers restart at 1).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ProtocolError

T = TypeVar("T")

#: Default window: events the node may send before the application consumed any.
DEFAULT_WINDOW_MESSAGES = 256
#: Default window in payload bytes (16 MiB). One larger event may still come alone (it overdraws).
DEFAULT_WINDOW_BYTES = 16 * 1024 * 1024


@dataclass
class FlowStats:
    """Counters of the inbox, for metrics and tests. All cumulative over the reactor's life."""

    #: Events accepted (not counting resends dropped as duplicates).
    received: int = 0
    #: Resent events dropped because they had been received before.
    duplicates: int = 0
    #: Events the application consumed.
    consumed: int = 0
    #: Credit granted, in messages, including each attachment's initial window.
    credit_granted_messages: int = 0
    #: Credit granted, in bytes, including each attachment's initial window.
    credit_granted_bytes: int = 0
    #: Credit (messages) left unused by attachments that ended: the node forgets it.
    credit_forfeited_messages: int = 0
    #: Most events waiting in the inbox at once.
    max_buffered: int = 0
    #: Events dropped from the inbox when re-attaching (the node resends them after a resume).
    discarded: int = 0
    #: Register messages sent (attach attempts, the first one included).
    attachments: int = 0
    #: Re-attachments that resumed the session.
    resumes: int = 0
    #: Fresh sessions after the first (a resume was refused, or none was possible).
    fresh_sessions: int = 0


@dataclass
class _Entry(Generic[T]):
    session: int
    attachment: int
    #: 0 for the SDK's own markers (not numbered, not credited).
    seq: int
    #: Payload bytes, as the node counts them against the byte credit.
    size: int
    item: T


class Inbox(Generic[T]):
    """Events between the stream and the application, with the credit and ack rules above.

    >>> box: Inbox[str] = Inbox(window_messages=4, window_bytes=100)
    >>> box.begin_attachment()
    (4, 100)
    >>> box.on_registered(resumed=False, next_event_seq=1)
    >>> box.accept(1, 10, "a"), box.accept(2, 0, "b")
    (True, True)
    >>> box.take()          # "a" is handed out; nothing consumed yet
    'a'
    >>> box.due()
    (None, None)
    >>> box.take()          # asking for "b" consumes "a"
    'b'
    >>> box.take() is None  # consumes "b"; empty, so credit is due now
    True
    >>> box.due()
    (2, (2, 10))
    """

    def __init__(self, window_messages: int = DEFAULT_WINDOW_MESSAGES, window_bytes: int = DEFAULT_WINDOW_BYTES) -> None:
        if window_messages < 1:
            raise ValueError(f"window_messages must be at least 1, got {window_messages}")
        if window_bytes < 1:
            raise ValueError(f"window_bytes must be at least 1, got {window_bytes}")
        self.window_messages = window_messages
        self.window_bytes = window_bytes
        #: Credit is returned once this much is owed (or when the inbox is empty).
        self.batch_messages = max(1, window_messages // 4)
        self.batch_bytes = max(1, window_bytes // 4)
        self.stats = FlowStats()
        self._session = 0
        self._attachment = 0
        self._registered = False
        #: Highest number received in this session (waiting here, handed out or consumed).
        self._last_seq = 0
        #: Highest number consumed in this session.
        self._consumed_seq = 0
        #: Highest number acknowledged to the node in this session.
        self._acked_seq = 0
        #: Credit owed to the node on the current attachment.
        self._owed_messages = 0
        self._owed_bytes = 0
        #: Credit granted on the current attachment minus the credit its events used.
        self._outstanding_messages = 0
        self._buffer: deque[_Entry[T]] = deque()
        self._in_hand: _Entry[T] | None = None

    # ------------------------------------------------------------ attaching

    def begin_attachment(self) -> tuple[int, int]:
        """A new stream is about to Register: returns its initial credit ``(messages, bytes)``.

        Events still waiting here are dropped (a resumed session resends them).
        """
        self.stats.credit_forfeited_messages += max(0, self._outstanding_messages) if self._attachment else 0
        self._attachment += 1
        self._registered = False
        self.stats.attachments += 1
        self.stats.discarded += sum(1 for e in self._buffer if e.seq)
        self._buffer.clear()
        # Only what the application was handed counts as received now.
        held = self._in_hand
        self._last_seq = held.seq if held is not None and held.seq and held.session == self._session else self._consumed_seq
        self._owed_messages = 0
        self._owed_bytes = 0
        self._outstanding_messages = self.window_messages
        self.stats.credit_granted_messages += self.window_messages
        self.stats.credit_granted_bytes += self.window_bytes
        return self.window_messages, self.window_bytes

    def on_registered(self, *, resumed: bool, next_event_seq: int, position_known: bool = True) -> None:
        """The node answered Register.

        ``position_known`` is False when resuming a session this inbox never
        saw (a token from an earlier process): numbering then continues from
        ``next_event_seq``.
        """
        if self._attachment == 0:
            raise RuntimeError("on_registered before begin_attachment")
        self._registered = True
        if not resumed:
            if self.stats.attachments > 1:
                self.stats.fresh_sessions += 1
            self._session += 1
            self._last_seq = self._consumed_seq = self._acked_seq = 0
            if next_event_seq not in (0, 1):
                raise ProtocolError(f"a fresh session must number events from 1, the node said {next_event_seq}")
            return
        if self.stats.attachments > 1:
            self.stats.resumes += 1
        if not position_known:
            self._last_seq = self._consumed_seq = self._acked_seq = next_event_seq - 1
            return
        if next_event_seq > self._last_seq + 1:
            raise ProtocolError(
                f"resumed session continues at event {next_event_seq}, but events after {self._last_seq} were never received"
            )
        # Acknowledge again what was consumed: the last Ack may have been lost with the old stream.
        self._acked_seq = 0

    # ------------------------------------------------------------ receiving

    def accept(self, seq: int, size: int, item: T) -> bool:
        """An event arrived. Returns False for a resend already received (dropped, its credit owed back)."""
        if not self._registered:
            raise ProtocolError(f"event {seq} arrived before Registered")
        self._outstanding_messages -= 1
        if seq <= self._last_seq:
            self.stats.duplicates += 1
            self._owe(1, size)
            return False
        if seq != self._last_seq + 1:
            raise ProtocolError(f"event {seq} arrived after event {self._last_seq}: events were lost")
        self._last_seq = seq
        self._buffer.append(_Entry(self._session, self._attachment, seq, size, item))
        self.stats.received += 1
        self.stats.max_buffered = max(self.stats.max_buffered, len(self._buffer))
        return True

    def push_marker(self, item: T) -> None:
        """Queues an item of the SDK's own (not numbered, no credit) after what is waiting."""
        self._buffer.append(_Entry(self._session, self._attachment, 0, 0, item))

    # ------------------------------------------------------------ consuming

    def take(self) -> T | None:
        """Consumes the item handed out last and hands out the next one (None when empty)."""
        self.settle()
        if not self._buffer:
            return None
        entry = self._buffer.popleft()
        self._in_hand = entry
        return entry.item

    def settle(self) -> None:
        """Consumes the item handed out last, if any."""
        entry = self._in_hand
        if entry is None:
            return
        self._in_hand = None
        if entry.seq == 0:
            return
        self.stats.consumed += 1
        if entry.session == self._session:
            self._consumed_seq = max(self._consumed_seq, entry.seq)
        if entry.attachment == self._attachment:
            self._owe(1, entry.size)

    def _owe(self, messages: int, size: int) -> None:
        self._owed_messages += messages
        self._owed_bytes += size

    @property
    def waiting(self) -> int:
        """Items waiting to be handed out."""
        return len(self._buffer)

    # ------------------------------------------------------------ acks and credit

    def due(self, *, force: bool = False) -> tuple[int | None, tuple[int, int] | None]:
        """What to send now: ``(ack_seq or None, (credit_messages, credit_bytes) or None)``.

        Credit is due once a batch is owed, or at once when nothing waits here
        (so an idle application never holds the node back); ``force`` returns
        whatever is owed. An Ack goes with each credit.
        """
        flush = force or not self._buffer or self._owed_messages >= self.batch_messages or self._owed_bytes >= self.batch_bytes
        if not self._registered or not flush:
            return None, None
        ack = self._consumed_seq if self._consumed_seq > self._acked_seq else None
        credit = (self._owed_messages, self._owed_bytes) if self._owed_messages > 0 else None
        return ack, credit

    def mark_sent(self, ack: int | None, credit: tuple[int, int] | None) -> None:
        """Records that the Ack and Credit returned by :meth:`due` were written."""
        if ack is not None:
            self._acked_seq = max(self._acked_seq, ack)
        if credit is not None:
            messages, size = credit
            self._owed_messages -= messages
            self._owed_bytes -= size
            self._outstanding_messages += messages
            self.stats.credit_granted_messages += messages
            self.stats.credit_granted_bytes += size

    @property
    def outstanding_messages(self) -> int:
        """Credit the node holds on this attachment (granted minus used), as far as the inbox knows."""
        return self._outstanding_messages
