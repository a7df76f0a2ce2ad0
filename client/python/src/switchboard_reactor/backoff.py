"""Exponential backoff for re-attaching, as a small documented policy.

>>> policy = ReconnectPolicy(initial_backoff_s=0.1, multiplier=2.0, max_backoff_s=0.5, jitter=0.0)
>>> [round(d, 3) for d in policy.delays(max_attempts=5)]
[0.0, 0.1, 0.2, 0.4, 0.5]
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True)
class ReconnectPolicy:
    """How the SDK attaches, and re-attaches after its stream broke.

    The first attempt of a re-attach is immediate (the session is most
    likely still there to resume); then each wait grows by ``multiplier``
    from ``initial_backoff_s`` up to ``max_backoff_s``, each randomised by
    ±``jitter`` (a fraction) so that many reactors do not come back in step.
    """

    #: Wait before the second attempt, in seconds.
    initial_backoff_s: float = 0.05
    #: Longest wait between two attempts, in seconds.
    max_backoff_s: float = 5.0
    #: Growth of the wait per attempt.
    multiplier: float = 2.0
    #: Random spread of each wait, as a fraction of it (0.2 = ±20 %).
    jitter: float = 0.2
    #: Attempts of one re-attach before giving up with ReconnectFailedError; None retries forever.
    #: (A node that restarted is found again as long as it comes back.)
    max_attempts: int | None = None
    #: How long the first attach keeps trying while the node is unreachable (UNAVAILABLE), in seconds.
    connect_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.initial_backoff_s < 0 or self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("ReconnectPolicy: need 0 <= initial_backoff_s <= max_backoff_s")
        if self.multiplier < 1:
            raise ValueError("ReconnectPolicy.multiplier must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("ReconnectPolicy.jitter must be in [0, 1)")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("ReconnectPolicy.max_attempts must be at least 1 (or None)")

    def delays(self, max_attempts: int | None = None, rng: random.Random | None = None) -> Iterator[float]:
        """The wait before each attempt (0 for the first), for ``max_attempts`` attempts (None: forever)."""
        limit = self.max_attempts if max_attempts is None else max_attempts
        r = rng or random
        attempt = 0
        wait = self.initial_backoff_s
        while limit is None or attempt < limit:
            if attempt == 0:
                yield 0.0
            else:
                spread = wait * self.jitter
                yield max(0.0, wait + r.uniform(-spread, spread))
                wait = min(self.max_backoff_s, wait * self.multiplier)
            attempt += 1
