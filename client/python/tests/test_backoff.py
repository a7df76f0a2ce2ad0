from __future__ import annotations

import random
from itertools import islice

import pytest

from switchboard_reactor import ReconnectPolicy


def test_delays_grow_to_the_cap_and_stop_after_max_attempts() -> None:
    p = ReconnectPolicy(initial_backoff_s=0.1, multiplier=3.0, max_backoff_s=1.0, jitter=0.0, max_attempts=5)
    assert list(p.delays()) == [0.0, 0.1, pytest.approx(0.3), pytest.approx(0.9), 1.0]


def test_unlimited_attempts_go_on() -> None:
    p = ReconnectPolicy(jitter=0.0)
    assert len(list(islice(p.delays(), 1000))) == 1000


def test_jitter_stays_within_its_fraction() -> None:
    p = ReconnectPolicy(initial_backoff_s=1.0, multiplier=1.0, max_backoff_s=1.0, jitter=0.25)
    delays = list(islice(p.delays(rng=random.Random(1)), 1, 200))
    assert all(0.75 <= d <= 1.25 for d in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    "kwargs",
    [{"multiplier": 0.5}, {"jitter": 1.0}, {"max_attempts": 0}, {"initial_backoff_s": 2.0, "max_backoff_s": 1.0}],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]
