"""Helpers shared by the e-cards test modules: the docs' examples, a fixed clock, a fast client, a recording sleep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from ordersync_tools.simulators.base import RecordedRequest, SimClock
from ordersync_tools.simulators.ecards import EcardsSimulator

from ordersync.platforms.ecards import EcardsCardLine, EcardsClient, EcardsCreateOrderRequest, EcardsParticipant
from ordersync.platforms.http import RetryPolicy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ecards"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The simulators' clock starts here, so that seeded data is the same on every run."""
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
"""Three attempts, a millisecond apart: retries are exercised without slowing the suite."""
SHORT_TIMEOUT = httpx.Timeout(2.0, connect=1.0)


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class RecordingSleep:
    """A ``sleep`` that only records how long it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@contextmanager
def running_simulator(orders: int = 45, seed: int = 7, **options: Any) -> Iterator[EcardsSimulator]:
    """A simulator on a free 127.0.0.1 port with its clock fixed at ``START``."""
    options.setdefault("clock", SimClock(START))
    with EcardsSimulator(orders=orders, seed=seed, **options).running() as simulator:
        yield simulator


def client_for(
    simulator: EcardsSimulator,
    *,
    token: str | None = None,
    sleep: RecordingSleep | None = None,
    retry: RetryPolicy = FAST_RETRY,
    timeout: httpx.Timeout | float = SHORT_TIMEOUT,
) -> EcardsClient:
    return EcardsClient(
        simulator.base_url,
        simulator.token if token is None else token,
        retry=retry,
        timeout=timeout,
        sleep=sleep or RecordingSleep(),
    )


def create_request(order_id: UUID | None = None, quantity: int = 2) -> EcardsCreateOrderRequest:
    return EcardsCreateOrderRequest(
        order_id=order_id,
        participant=EcardsParticipant(email="anna@example.ru", name="Anna Petrova", phone="79251153242"),
        ecards=[EcardsCardLine(id=7, quantity=quantity, face_value="1000 ₽")],
    )


def requests_to(simulator: EcardsSimulator, method: str, path_prefix: str = "/v1/orders") -> list[RecordedRequest]:
    """The requests the simulator received with ``method`` on paths starting with ``path_prefix``, in order."""
    return [r for r in simulator.requests if r.method == method and r.path.startswith(path_prefix)]
