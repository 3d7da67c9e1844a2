"""The shared bounded backoff (``ordersync.backoff``): full jitter under an exponential ceiling and a cap."""

from __future__ import annotations

import pytest

from ordersync.backoff import Backoff


def test_the_ceiling_doubles_from_base_up_to_the_cap() -> None:
    backoff = Backoff(attempts=8, base=0.05, cap=1.0)

    assert [backoff.ceiling(attempt) for attempt in range(1, 8)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_delays_are_jittered_between_zero_and_the_ceiling() -> None:
    backoff = Backoff(attempts=4, base=0.1, cap=0.3)

    for attempt in (1, 2, 3, 50, 10_000):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= delay <= backoff.ceiling(attempt) for delay in delays)
        assert len(set(delays)) > 1  # jittered, not a fixed wait
    assert backoff.ceiling(10_000) == 0.3


def test_pause_sleeps_between_attempts_and_never_after_the_last() -> None:
    backoff = Backoff(attempts=3, base=0.2, cap=5.0)
    sleeps: list[float] = []

    assert backoff.pause(1, sleeps.append) is True
    assert backoff.pause(2, sleeps.append) is True
    assert backoff.pause(3, sleeps.append) is False
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.2
    assert 0 <= sleeps[1] <= 0.4


def test_a_single_attempt_never_waits() -> None:
    sleeps: list[float] = []

    assert Backoff(attempts=1, base=1.0, cap=1.0).pause(1, sleeps.append) is False
    assert sleeps == []


@pytest.mark.parametrize(("attempts", "base", "cap"), [(0, 0.1, 1.0), (3, -0.1, 1.0), (3, 0.1, -1.0)])
def test_a_backoff_without_a_bound_is_refused(attempts: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="must"):
        Backoff(attempts=attempts, base=base, cap=cap)
