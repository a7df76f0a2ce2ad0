"""Telling the person running a reactor what went wrong while attaching: the node cannot be reached (at
WARNING on the first failed attempt, then every :data:`UNREACHABLE_WARNING_INTERVAL_S`, at INFO once it is
reached), and what to do about a refusal. Used by :class:`~switchboard_reactor.Reactor` (``reactor.py``); the
Go SDK's ``unreachable.go`` and the TypeScript SDK's ``run-reactor.ts`` hold the same messages.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

log = logging.getLogger("switchboard_reactor")

#: While the node cannot be reached, a warning at the first failed attempt, then at most this often (seconds).
UNREACHABLE_WARNING_INTERVAL_S = 30.0


def seconds(s: float) -> str:
    """``"100 ms"``, ``"1.6 s"``, ``"32 s"``."""
    if s < 1:
        return f"{round(s * 1000)} ms"
    return f"{s:.1f} s".replace(".0 s", " s") if s < 10 else f"{round(s)} s"


def attach_hint(code: grpc.StatusCode, details: str, name: str, target: str) -> str:
    """What to do about a refusal (or failure) with ``code``, when the SDK knows; ``details`` is the node's message."""
    if code == grpc.StatusCode.ALREADY_EXISTS:
        if "channel 0x" in details:
            return (
                "Another reactor on that node holds that channel: give this reactor channel IDs of its own, "
                "or stop the other reactor."
            )
        return (
            f'The name "{name}" is taken on that node (by another process, or by another Reactor in this one): '
            "stop that reactor, or give this one another name."
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"Check that the node is running and that {target or 'the target'} is its grpc.laddr."
    return ""


class Unreachable:
    """Tells the person running the reactor that the node cannot be reached: at WARNING on the first failed
    attempt, then every :data:`UNREACHABLE_WARNING_INTERVAL_S` while it lasts; at INFO once it is reached."""

    def __init__(self, name: str, target: str) -> None:
        self._name = name
        self._node_target = target
        self._where = f"the node at {target}" if target else "the node"
        self.attempts = 0
        self._since = 0.0
        self._warned_at: float | None = None

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def failed(self, details: str, retry_in: float, gives_up_in: float | None = None) -> None:
        now = self._now()
        if self.attempts == 0:
            self._since = now
        self.attempts += 1
        if self._warned_at is not None and now - self._warned_at < UNREACHABLE_WARNING_INTERVAL_S:
            return
        self._warned_at = now
        why = f"UNAVAILABLE: {details.rstrip('. ')}"
        retry = f"retrying in {seconds(retry_in)}"
        if gives_up_in is not None:
            retry += f" (giving up in {seconds(gives_up_in)}: ReconnectPolicy.connect_timeout_s)"
        if self.attempts == 1:
            hint = attach_hint(grpc.StatusCode.UNAVAILABLE, details, self._name, self._node_target)
            log.warning(
                'reactor "%s": cannot reach %s (%s). %s %s%s; this is reported again every %s while it lasts.',
                self._name, self._where, why, hint, retry[0].upper(), retry[1:], seconds(UNREACHABLE_WARNING_INTERVAL_S),
            )  # fmt: skip
        else:
            log.warning(
                'reactor "%s": still cannot reach %s after %d attempts in %s (%s); %s.',
                self._name, self._where, self.attempts, seconds(now - self._since), why, retry,
            )  # fmt: skip

    def elapsed(self) -> float:
        return self._now() - self._since if self.attempts else 0.0

    def reached(self) -> None:
        if self._warned_at is not None:
            log.info(
                'reactor "%s": reached %s after %d failed %s in %s.',
                self._name, self._where, self.attempts, "attempt" if self.attempts == 1 else "attempts",
                seconds(self.elapsed()),
            )  # fmt: skip
        self.attempts = 0
        self._warned_at = None
