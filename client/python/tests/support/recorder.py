"""Helpers for scenarios: a task that records a reactor's events, and a transport that records the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from switchboard_reactor import AttachStream, Event, Reactor, Transport
from switchboard_reactor.pb import gateway_pb2 as pb

E = TypeVar("E")


class Trace:
    """Consumes ``reactor.events()`` in a task (optionally slowly) and keeps every event."""

    def __init__(self, reactor: Reactor, *, delay_s: float = 0.0, on_event: Callable[[Event], None] | None = None) -> None:
        self.reactor = reactor
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self.done = False
        self._delay_s = delay_s
        self._on_event = on_event
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for ev in self.reactor.events():
                self.events.append(ev)
                if self._on_event is not None:
                    self._on_event(ev)
                self._changed.set()
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
        except Exception as err:  # recorded for the test to assert on
            self.error = err
        finally:
            self.done = True
            self._changed.set()

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[], object], what: str, timeout_s: float = 15.0) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate():
                    if self.done:
                        raise AssertionError(f"events ended (error {self.error!r}) before {what}: {self.names()}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; events: {self.names()}") from None

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


def credit_of(request: pb.AttachRequest) -> pb.Credit | None:
    """The Credit a request carries, alone or inside a RequestBatch."""
    which = request.WhichOneof("msg")
    if which == "credit":
        return request.credit
    if which == "batch" and request.batch.HasField("credit"):
        return request.batch.credit
    return None


def commands_of(request: pb.AttachRequest) -> list[pb.Command]:
    """The Commands a request carries, alone or inside a RequestBatch."""
    which = request.WhichOneof("msg")
    if which == "command":
        return [request.command]
    if which == "batch":
        return list(request.batch.commands)
    return []


def results_of(response: pb.AttachResponse) -> list[pb.CommandResult]:
    """The CommandResults a response carries, alone or inside a ResultBatch."""
    which = response.WhichOneof("msg")
    if which == "result":
        return [response.result]
    if which == "results":
        return list(response.results.results)
    return []


class RecordingTransport:
    """Wraps a transport and keeps every stream message: requests written (before they are written), responses read."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.written: list[pb.AttachRequest] = []
        self.read: list[pb.AttachResponse] = []

    def open(self) -> AttachStream:
        return _RecordingStream(self.inner.open(), self.written, self.read)

    async def close(self) -> None:
        await self.inner.close()

    def credit_granted_on_last_attachment(self) -> int:
        """Messages of credit granted since the last Register (its initial credit included)."""
        total = 0
        for req in self.written:
            credit = credit_of(req)
            if req.WhichOneof("msg") == "register":
                total = req.register.initial_credit.messages
            elif credit is not None:
                total += credit.messages
        return total


class _RecordingStream:
    def __init__(self, inner: AttachStream, written: list[pb.AttachRequest], read: list[pb.AttachResponse]) -> None:
        self.inner = inner
        self.written = written
        self._read = read

    async def write(self, request: pb.AttachRequest) -> None:
        self.written.append(request)
        await self.inner.write(request)

    async def read(self) -> pb.AttachResponse | None:
        response = await self.inner.read()
        if response is not None:
            self._read.append(response)
        return response

    def cancel(self) -> None:
        self.inner.cancel()
