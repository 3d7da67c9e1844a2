"""Bounded exponential backoff with full jitter: the one way every retry loop of ordersync waits.

Standard library only, so that the platform transport and the AWS adapters share it without importing
each other.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

_MAX_EXPONENT = 64  # 2**64 times any sane base is past every cap; keeps huge attempt numbers from overflowing


@dataclass(frozen=True)
class Backoff:
    """At most ``attempts`` tries; after failed try ``n`` the wait is drawn uniformly from zero to
    ``min(cap, base * 2 ** (n - 1))`` (full jitter, so that many callers retrying at once spread out)."""

    attempts: int
    base: float
    cap: float

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base < 0 or self.cap < 0:
            raise ValueError("base and cap must not be negative")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed try ``attempt`` (counted from 1)."""
        return min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT))

    def delay(self, attempt: int) -> float:
        """A jittered wait after failed try ``attempt`` (counted from 1): between zero and ``ceiling(attempt)``."""
        return random.uniform(0, self.ceiling(attempt))

    def pause(self, attempt: int, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Wait ``delay(attempt)`` if another try may follow try ``attempt`` and say so; after the last try,
        return ``False`` at once (waiting then would only delay the caller's error)."""
        if attempt >= self.attempts:
            return False
        sleep(self.delay(attempt))
        return True
