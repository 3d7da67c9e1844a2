"""Fixtures of the read-path suite: the orders and poll-state tables in moto (server mode), the three
simulators on 127.0.0.1, clients pointed at them, the stream and the event bus observed from outside."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ordersync_tools.simulators.base import PlatformSimulator, SimClock
from readpath_support import (
    LIVE_SWITCHABLE,
    ORDERS_TABLE,
    POLL_STATE_TABLE,
    EventCapture,
    Harness,
    StreamReader,
    create_orders_table,
    create_poll_state_table,
    make_client,
    make_simulator,
)

from ordersync.aws.orders_repository import OrderRepository
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import Platform
from ordersync.platform_port import PlatformClient


@pytest.fixture
def dynamodb(aws: str) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def tables(dynamodb: Any) -> tuple[str, str]:
    return create_orders_table(dynamodb), create_poll_state_table(dynamodb)


@pytest.fixture
def repository(tables: tuple[str, str], dynamodb: Any) -> OrderRepository:
    return OrderRepository(tables[0], dynamodb_client=dynamodb)


@pytest.fixture
def state_repository(tables: tuple[str, str], dynamodb: Any) -> PollStateRepository:
    return PollStateRepository(tables[1], dynamodb_client=dynamodb)


@pytest.fixture
def settings() -> Settings:
    return Settings(orders_table=ORDERS_TABLE, poll_state_table=POLL_STATE_TABLE, poll_concurrency=4)


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture(params=["live", "tidy"])
def behaviour(request: pytest.FixtureRequest) -> str:
    """Every read-path test runs against the platforms as they behave live (Ticketscloud's short pages and missing
    or page-local ``pagination``, Bizon365's ``free=1`` answering free orders only) and as their docs describe."""
    return str(request.param)


@pytest.fixture
def harness_factory(
    repository: OrderRepository,
    state_repository: PollStateRepository,
    settings: Settings,
    clock: SimClock,
    behaviour: str,
) -> Iterator[Any]:
    started: list[PlatformSimulator] = []
    clients: list[PlatformClient] = []

    def build(platform: Platform, *, orders: int = 60, seed: int = 7, **extra: Any) -> Harness:
        if platform in LIVE_SWITCHABLE:
            extra.setdefault("live", behaviour == "live")
        elif behaviour != "live":
            pytest.skip(f"{platform.value} has no tidy behaviour apart from its live one")
        simulator = make_simulator(platform, orders=orders, clock=clock, seed=seed, **extra).start()
        started.append(simulator)
        client = make_client(simulator)
        clients.append(client)
        return Harness(platform, simulator, client, repository, state_repository, settings, clock)

    yield build
    for client in clients:
        client.close()
    for simulator in started:
        simulator.stop()


@pytest.fixture
def stream(tables: tuple[str, str]) -> StreamReader:
    return StreamReader(tables[0])


@pytest.fixture
def captured_events(aws: str) -> EventCapture:
    return EventCapture()


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch, tables: tuple[str, str]) -> Iterator[None]:
    """The environment template.yaml gives the read-path functions, pointed at the test resources."""
    from ordersync import composition

    values = {
        "ORDERS_TABLE": tables[0],
        "POLL_STATE_TABLE": tables[1],
        "EVENT_BUS_NAME": "ordersync-test-events",
        "POWERTOOLS_SERVICE_NAME": "ordersync",
        "POWERTOOLS_METRICS_NAMESPACE": "ordersync",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POLL_LOOKBACK_MINUTES": "120",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    composition.reset()
    yield
    composition.reset()
