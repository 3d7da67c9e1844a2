"""Helpers shared by the Bizon365 test modules: the doc's examples, a fast client, a recording sleep."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from ordersync_tools.simulators.bizon365 import DEFAULT_PROJECT_ID, DEFAULT_TOKEN, Bizon365Simulator

from ordersync.platforms.bizon365 import Bizon365Client
from ordersync.platforms.http import RetryPolicy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bizon365"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)
"""Three attempts, a millisecond apart: retries are exercised without slowing the suite."""


def load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def doc_order(name: str = "order.json") -> dict[str, Any]:
    """A doc example without the fixture's own ``_comment``."""
    return {key: value for key, value in load_fixture(name).items() if key != "_comment"}


class RecordingSleep:
    """Stands in for ``time.sleep``: records the delays the client asked for and waits for none of them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_client(
    sim: Bizon365Simulator,
    *,
    token: str = DEFAULT_TOKEN,
    project_id: str = DEFAULT_PROJECT_ID,
    sleep: Callable[[float], None] | None = None,
    timeout: float = 2.0,
    retry: RetryPolicy = FAST_RETRY,
) -> Bizon365Client:
    return Bizon365Client(
        sim.base_url,
        token,
        project_id=project_id,
        timeout=httpx.Timeout(timeout),
        retry=retry,
        sleep=sleep or RecordingSleep(),
    )


def raw_get(sim: Bizon365Simulator, params: dict[str, str], *, token: str | None = DEFAULT_TOKEN) -> httpx.Response:
    """A bare request to the simulator, for what a well-behaved client never sends."""
    headers = {} if token is None else {"X-Token": token}
    return httpx.get(
        f"{sim.base_url}/api/v2/{sim.project_id}/orders/getorders", params=params, headers=headers, timeout=5
    )
