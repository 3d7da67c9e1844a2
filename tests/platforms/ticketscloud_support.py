"""Helpers shared by the Ticketscloud test modules: the docs' examples, a fast client, raw requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from ordersync_tools.simulators.base import SimClock
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator

from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import TicketscloudClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ticketscloud"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
"""Three attempts, a millisecond apart: retries are exercised without slowing the suite."""
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ORDERS_PATH = "/v2/resources/orders"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def simulator(*, orders: int = 60, seed: int = 7, **options: Any) -> TicketscloudSimulator:
    """A simulator on a fixed clock, so its data is the same on every run."""
    return TicketscloudSimulator(orders=orders, seed=seed, clock=SimClock(START), **options)


class RecordingSleep:
    """Stands in for ``time.sleep``: records the delays the client asked for and waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(
    sim: TicketscloudSimulator,
    *,
    token: str = DEFAULT_TOKEN,
    sleep: RecordingSleep | None = None,
    timeout: float = 2.0,
    retry: RetryPolicy = FAST_RETRY,
    base_url: str | None = None,
) -> TicketscloudClient:
    return TicketscloudClient(
        base_url or sim.base_url,
        token,
        timeout=httpx.Timeout(timeout),
        retry=retry,
        sleep=sleep or RecordingSleep(),
    )


def raw(
    sim: TicketscloudSimulator,
    method: str,
    path: str = ORDERS_PATH,
    *,
    params: Any = None,
    json_body: Any = None,
    token: str | None = DEFAULT_TOKEN,
) -> httpx.Response:
    """A bare request to the simulator, for what a well-behaved client never sends."""
    headers = {"Authorization": f"key {token}"} if token is not None else {}
    return httpx.request(method, f"{sim.base_url}{path}", params=params, json=json_body, headers=headers, timeout=5.0)


def error_codes(response: httpx.Response) -> list[str]:
    return [error["code"] for error in response.json()["errors"]]


def open_order_id(sim: TicketscloudSimulator, *, min_tickets: int = 1) -> str:
    """A fresh ``executed`` order with at least ``min_tickets`` tickets."""
    while True:
        order_id = sim.add_orders(1)[0]
        if len(sim.order(order_id)["tickets"]) >= min_tickets:
            return order_id
