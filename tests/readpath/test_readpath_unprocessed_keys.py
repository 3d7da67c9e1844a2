"""Keys a BatchGetItem leaves unprocessed (a throttled table) are asked for again with the shared backoff, a
bounded number of times, on both the change check of ``save_changed`` and the completion of index items."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ordersync.aws import orders_repository
from ordersync.aws.orders_repository import MAX_UNPROCESSED_ROUNDS, OrderRepository, UnprocessedKeysError
from ordersync.backoff import Backoff
from ordersync.models import Money, Order, OrderStatus, Platform

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RecordingBackoff(Backoff):
    """The repository's backoff, recording its waits instead of sleeping them."""

    waits: list[float] = field(default_factory=list)

    def pause(self, attempt: int, sleep: Callable[[float], None] = time.sleep) -> bool:
        del sleep
        return super().pause(attempt, self.waits.append)


class ThrottledClient:
    """The repository's DynamoDB client, whose first ``throttled`` BatchGetItem calls process only their first
    key (all of them stay unprocessed with ``nothing=True``)."""

    def __init__(self, dynamodb: Any, throttled: int, *, nothing: bool = False) -> None:
        self.dynamodb = dynamodb
        self.throttled = throttled
        self.nothing = nothing
        self.batch_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dynamodb, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.batch_calls += 1
        if self.batch_calls > self.throttled:
            return dict(self.dynamodb.batch_get_item(RequestItems=RequestItems))
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        processed, left = ([], keys) if self.nothing else (keys[:1], keys[1:])
        responses: list[Any] = []
        if processed:
            responses = self.dynamodb.batch_get_item(RequestItems={table: request | {"Keys": processed}})["Responses"][
                table
            ]
        return {"Responses": {table: responses}, "UnprocessedKeys": {table: request | {"Keys": left}} if left else {}}


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> RecordingBackoff:
    recording = RecordingBackoff(attempts=MAX_UNPROCESSED_ROUNDS, base=0.05, cap=1.0)
    monkeypatch.setattr(orders_repository, "UNPROCESSED_BACKOFF", recording)
    return recording


def make_order(number: int) -> Order:
    return Order(
        platform=Platform.ECARDS,
        order_id=f"order-{number:04d}",
        status=OrderStatus.PENDING,
        raw_status="pending",
        created_at=NOW - timedelta(minutes=number),
        total=Money(amount="150.00", currency="RUB"),
        raw={"n": number},
    )


def throttled_repository(repository: OrderRepository, client: ThrottledClient) -> OrderRepository:
    return OrderRepository(
        repository.table_name,
        dynamodb_client=client,  # type: ignore[arg-type]
    )


def test_the_change_check_asks_again_for_unprocessed_keys_with_backoff(
    repository: OrderRepository, dynamodb: Any, backoff: RecordingBackoff
) -> None:
    orders = [make_order(number) for number in range(1, 6)]
    repository.save_changed(orders, seen_at=NOW)
    client = ThrottledClient(dynamodb, throttled=3)

    summary = throttled_repository(repository, client).save_changed(orders, seen_at=NOW + timedelta(minutes=1))

    assert summary.unchanged == 5
    assert summary.written == 0
    assert client.batch_calls == 4
    assert len(backoff.waits) == 3
    assert all(0 <= wait <= backoff.ceiling(attempt) for attempt, wait in enumerate(backoff.waits, start=1))


def test_the_change_check_gives_up_after_the_last_round(
    repository: OrderRepository, dynamodb: Any, backoff: RecordingBackoff
) -> None:
    client = ThrottledClient(dynamodb, throttled=1_000, nothing=True)

    with pytest.raises(UnprocessedKeysError, match="left 2 key\\(s\\) unprocessed after 8 rounds"):
        throttled_repository(repository, client).save_changed([make_order(1), make_order(2)], seen_at=NOW)
    assert client.batch_calls == MAX_UNPROCESSED_ROUNDS
    assert len(backoff.waits) == MAX_UNPROCESSED_ROUNDS - 1  # no wait after the last round


def test_open_orders_complete_index_items_despite_unprocessed_keys(
    repository: OrderRepository, dynamodb: Any, backoff: RecordingBackoff
) -> None:
    orders = [make_order(number) for number in range(1, 5)]
    repository.save_changed(orders, seen_at=NOW)
    client = ThrottledClient(dynamodb, throttled=2)

    due = throttled_repository(repository, client).open_orders(Platform.ECARDS, NOW + timedelta(days=30), limit=10)

    assert {stored.order.order_id for stored in due} == {order.order_id for order in orders}
    assert client.batch_calls == 3
    assert len(backoff.waits) == 2


def test_open_orders_no_longer_loop_forever_on_a_throttled_table(
    repository: OrderRepository, dynamodb: Any, backoff: RecordingBackoff
) -> None:
    repository.save_changed([make_order(1)], seen_at=NOW)
    client = ThrottledClient(dynamodb, throttled=1_000, nothing=True)

    with pytest.raises(UnprocessedKeysError):
        throttled_repository(repository, client).open_orders(Platform.ECARDS, NOW + timedelta(days=30), limit=10)
    assert client.batch_calls == MAX_UNPROCESSED_ROUNDS
    assert len(backoff.waits) == MAX_UNPROCESSED_ROUNDS - 1


def test_the_repository_waits_with_the_shared_backoff() -> None:
    assert Backoff(attempts=MAX_UNPROCESSED_ROUNDS, base=0.05, cap=1.0) == orders_repository.UNPROCESSED_BACKOFF
    assert issubclass(UnprocessedKeysError, RuntimeError)
