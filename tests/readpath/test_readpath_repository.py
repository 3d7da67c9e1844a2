"""The orders table and the poll-state table, through their adapters, against moto in server mode."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ordersync.aws.orders_repository import InvalidCursorError, OrderRepository
from ordersync.models import Money, Order, OrderStatus, Platform
from ordersync.sync.ports import LeaseLostError
from ordersync.sync.records import MAX_ORDER_PAYLOAD, decode_order, encode_order

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def make_order(
    number: int,
    *,
    platform: Platform = Platform.ECARDS,
    status: OrderStatus = OrderStatus.PENDING,
    raw: dict[str, Any] | None = None,
) -> Order:
    return Order(
        platform=platform,
        order_id=f"order-{number:04d}",
        status=status,
        raw_status=status.value,
        created_at=NOW - timedelta(minutes=number),
        total=Money(amount="150.00", currency="RUB"),
        raw=raw or {"n": number},
    )


def test_saving_stores_the_order_with_its_bookkeeping(repository: OrderRepository) -> None:
    order = make_order(1)

    summary = repository.save_changed([order], seen_at=NOW)

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert summary.written == 1
    assert summary.new_keys == {order.key}
    assert stored is not None
    assert stored.order == order
    assert stored.version == 1
    assert stored.first_seen_at == stored.last_changed_at == stored.last_seen_at == NOW
    assert stored.next_check_at is not None  # pending: in the open-orders index


def test_an_unchanged_order_costs_a_read_and_no_write(repository: OrderRepository) -> None:
    repository.save_changed([make_order(n) for n in range(150)], seen_at=NOW)

    summary = repository.save_changed([make_order(n) for n in range(150)], seen_at=NOW + timedelta(minutes=5))

    assert summary.written == 0
    assert summary.unchanged == 150
    assert summary.write_units == 0
    assert summary.read_units == 75.0  # half a unit per item under 4 KB


def test_a_changed_order_gets_the_next_version_and_keeps_its_first_seen(repository: OrderRepository) -> None:
    repository.save_changed([make_order(1)], seen_at=NOW)
    paid = make_order(1, status=OrderStatus.FULFILLED)

    summary = repository.save_changed([paid], seen_at=NOW + timedelta(hours=1))

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert summary.written == 1
    assert summary.new_keys == frozenset()
    assert stored is not None
    assert stored.version == 2
    assert stored.first_seen_at == NOW
    assert stored.last_changed_at == NOW + timedelta(hours=1)
    assert stored.next_check_at is None  # final: out of the open-orders index


def test_a_writer_holding_a_stale_version_does_not_overwrite_newer_data(repository: OrderRepository, dynamodb) -> None:
    repository.save_changed([make_order(1)], seen_at=NOW)
    newer = make_order(1, status=OrderStatus.PAID)
    other_writer = OrderRepository(repository.table_name, dynamodb_client=dynamodb)

    class RacingClient:
        """The poller's DynamoDB client: another writer commits between its read and its write."""

        def __init__(self) -> None:
            self.raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(dynamodb, name)

        def put_item(self, **kwargs: Any) -> Any:
            if not self.raced:
                self.raced = True
                other_writer.save_changed([newer], seen_at=NOW + timedelta(minutes=1))
            return dynamodb.put_item(**kwargs)

    poller = OrderRepository(
        repository.table_name,
        dynamodb_client=RacingClient(),  # type: ignore[arg-type]
    )
    stale = make_order(1, status=OrderStatus.CANCELLED, raw={"from": "an older read"})

    summary = poller.save_changed([stale], seen_at=NOW + timedelta(minutes=2))

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert summary.conflicts == 1
    assert summary.written == 0
    assert stored is not None
    assert stored.order == newer
    assert stored.version == 2


def test_listing_pages_through_every_order_once_with_an_opaque_cursor(repository: OrderRepository) -> None:
    repository.save_changed([make_order(n) for n in range(23)], seen_at=NOW)
    repository.save_changed([make_order(n, platform=Platform.TICKETSCLOUD) for n in range(4)], seen_at=NOW)
    seen: list[str] = []
    cursor = None

    for _ in range(10):
        page, cursor = repository.list(Platform.ECARDS, None, None, 10, cursor)
        seen.extend(stored.order.order_id for stored in page)
        if cursor is None:
            break

    assert len(seen) == 23
    assert len(set(seen)) == 23


def test_listing_filters_by_status_and_change_time(repository: OrderRepository) -> None:
    repository.save_changed([make_order(n) for n in range(6)], seen_at=NOW)
    repository.save_changed(
        [make_order(n, status=OrderStatus.FULFILLED) for n in range(2)], seen_at=NOW + timedelta(hours=1)
    )

    fulfilled, _ = repository.list(Platform.ECARDS, OrderStatus.FULFILLED, None, 50, None)
    recent, _ = repository.list(Platform.ECARDS, None, NOW + timedelta(minutes=30), 50, None)
    everywhere, _ = repository.list(None, OrderStatus.PENDING, None, 50, None)

    assert sorted(stored.order.order_id for stored in fulfilled) == ["order-0000", "order-0001"]
    assert sorted(stored.order.order_id for stored in recent) == ["order-0000", "order-0001"]
    assert len(everywhere) == 4


def test_a_selective_status_filter_fills_its_page_and_resumes_after_the_last_order(
    repository: OrderRepository,
) -> None:
    # Listed most recently changed first: 60 pending orders stand in front of the 3 fulfilled ones.
    fulfilled = (3, 17, 29)
    repository.save_changed([make_order(n, status=OrderStatus.FULFILLED) for n in fulfilled], seen_at=NOW)
    repository.save_changed([make_order(n) for n in range(63) if n not in fulfilled], seen_at=NOW + timedelta(hours=1))
    pages: list[list[str]] = []
    cursor = None

    for _ in range(5):
        page, cursor = repository.list(Platform.ECARDS, OrderStatus.FULFILLED, None, 2, cursor)
        pages.append([stored.order.order_id for stored in page])
        if cursor is None:
            break

    assert [len(page) for page in pages] == [2, 1]
    assert sorted(order_id for page in pages for order_id in page) == ["order-0003", "order-0017", "order-0029"]


def test_a_cursor_that_was_not_handed_out_is_refused(repository: OrderRepository) -> None:
    with pytest.raises(InvalidCursorError):
        repository.list(Platform.ECARDS, None, None, 10, "not-a-cursor")


def _raw_cursor(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize(
    "key",
    [
        {"pk": "x"},
        {"pk": {"S": "ecards#1"}},
        {"pk": {"S": "ecards#1"}, "platform": {"S": "ecards"}, "last_changed_at": {"N": "1"}},
        {"pk": {"S": "ecards#1"}, "platform": {"S": "ecards"}, "last_changed_at": {"S": "yesterday"}},
        {"pk": {"S": "x"}, "platform": {"S": "ecards"}, "last_changed_at": {"S": "2026-11-22T12:00:00Z"}},
        ["pk"],
    ],
)
def test_a_crafted_cursor_is_refused_before_dynamodb_sees_it(repository: OrderRepository, key: object) -> None:
    repository.save_changed([make_order(n) for n in range(3)], seen_at=NOW)

    with pytest.raises(InvalidCursorError):
        repository.list(Platform.ECARDS, None, None, 10, _raw_cursor(key))


def test_a_cursor_of_another_platform_or_before_changed_since_is_refused(repository: OrderRepository) -> None:
    repository.save_changed([make_order(n) for n in range(3)], seen_at=NOW)
    _, cursor = repository.list(Platform.ECARDS, None, None, 1, None)
    assert cursor is not None

    with pytest.raises(InvalidCursorError, match="another platform"):
        repository.list(Platform.TICKETSCLOUD, None, None, 10, cursor)
    with pytest.raises(InvalidCursorError, match="changed_since"):
        repository.list(Platform.ECARDS, None, NOW + timedelta(hours=1), 10, cursor)


def test_open_orders_come_from_the_sparse_index_most_overdue_first(repository: OrderRepository) -> None:
    repository.save_changed([make_order(n) for n in range(5)], seen_at=NOW)
    repository.save_changed([make_order(5, status=OrderStatus.CANCELLED)], seen_at=NOW)

    due = repository.open_orders(Platform.ECARDS, NOW + timedelta(days=30), 100)

    assert sorted(stored.order.order_id for stored in due) == [f"order-{n:04d}" for n in range(5)]
    checks = [stored.next_check_at for stored in due]
    assert checks == sorted(checks)  # type: ignore[type-var]


def test_a_large_order_is_stored_compressed_and_read_back_whole(repository: OrderRepository) -> None:
    big = make_order(1, raw={"lines": [{"sku": f"card-{n}", "note": "x" * 40} for n in range(3000)]})

    summary = repository.save_changed([big], seen_at=NOW)

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert set(encode_order(big)) == {"order_z"}
    assert summary.written == 1
    assert summary.write_units > 1
    assert stored is not None
    assert stored.order == big
    assert not stored.raw_dropped


def test_a_huge_order_keeps_its_canonical_fields_and_drops_only_the_raw_payload(repository: OrderRepository) -> None:
    noise = random.Random(1).randbytes(400_000).hex()  # 800 KB that DEFLATE cannot squeeze under the limit
    huge = make_order(1, raw={"blob": noise})

    repository.save_changed([huge], seen_at=NOW)

    stored = repository.get(Platform.ECARDS, "order-0001")
    encoded = encode_order(huge)
    assert len(encoded["order_z"]) <= MAX_ORDER_PAYLOAD
    assert stored is not None
    assert stored.raw_dropped
    assert stored.order.raw == {}
    assert stored.order.model_dump(exclude={"raw"}) == huge.model_dump(exclude={"raw"})
    assert decode_order(encoded).order_id == huge.order_id


def test_the_lease_admits_one_owner_until_it_expires(state_repository) -> None:
    first = state_repository.acquire("poller#x", "run-a", now=NOW, lease_for=timedelta(minutes=5))
    second = state_repository.acquire(
        "poller#x", "run-b", now=NOW + timedelta(minutes=1), lease_for=timedelta(minutes=5)
    )
    third = state_repository.acquire(
        "poller#x", "run-b", now=NOW + timedelta(minutes=6), lease_for=timedelta(minutes=5)
    )

    assert first is not None
    assert second is None
    assert third is not None
    assert third.lease_owner == "run-b"
    with pytest.raises(LeaseLostError):
        state_repository.checkpoint(
            "poller#x", "run-a", checkpoint={"page": 3}, now=NOW, lease_for=timedelta(minutes=5)
        )


def test_completing_a_run_moves_the_cursor_clears_the_checkpoint_and_frees_the_lease(state_repository) -> None:
    state_repository.acquire("poller#x", "run-a", now=NOW, lease_for=timedelta(minutes=5))
    state_repository.checkpoint("poller#x", "run-a", checkpoint={"page": 3}, now=NOW, lease_for=timedelta(minutes=5))

    state_repository.complete("poller#x", "run-a", cursor="2026-11-22", now=NOW, counters={"orders_written": 7})

    state = state_repository.get("poller#x")
    assert state.cursor == "2026-11-22"
    assert state.checkpoint is None
    assert state.lease_owner is None
    assert state.last_complete_run_at == NOW
    assert state.counters["orders_written"] == 7
    assert state.counters["runs_completed"] == 1


def test_an_order_read_before_another_writer_stored_newer_data_is_not_written_over_it(
    repository: OrderRepository,
) -> None:
    repository.save_changed([make_order(1)], seen_at=NOW)
    newer = make_order(1, status=OrderStatus.CANCELLED)
    repository.save_changed([newer], seen_at=NOW + timedelta(minutes=2))  # the worker stores a PATCH answer
    read_earlier = make_order(1, raw={"n": 1, "read": "before the PATCH"})

    summary = repository.save_changed(
        [read_earlier], seen_at=NOW + timedelta(minutes=3), observed_at=NOW + timedelta(minutes=1)
    )

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert summary.written == 0
    assert summary.conflicts == 1
    assert summary.conflict_keys == {newer.key}
    assert summary.write_units == 0
    assert stored is not None
    assert stored.order == newer
    assert stored.version == 2


def test_an_order_read_after_the_last_write_is_written(repository: OrderRepository) -> None:
    repository.save_changed([make_order(1)], seen_at=NOW)
    fresh = make_order(1, status=OrderStatus.FULFILLED)

    summary = repository.save_changed(
        [fresh], seen_at=NOW + timedelta(minutes=2), observed_at=NOW + timedelta(minutes=1)
    )

    stored = repository.get(Platform.ECARDS, "order-0001")
    assert summary.written == 1
    assert summary.conflicts == 0
    assert stored is not None
    assert stored.order == fresh
    assert stored.version == 2


@pytest.mark.parametrize("platform", list(Platform))
def test_a_typical_order_of_each_platform_is_stored_in_one_write_unit(harness_factory, dynamodb, platform) -> None:
    harness = harness_factory(platform, orders=120)

    report = harness.poll()

    sizes = [
        int(item["item_bytes"]["N"])
        for page in dynamodb.get_paginator("scan").paginate(TableName=harness.repository.table_name)
        for item in page["Items"]
    ]
    assert len(sizes) == report.written > 0
    assert max(sizes) <= 1024
    assert report.write_units == report.written


def test_a_stored_payload_reads_back_from_bytes_and_from_a_stream_records_base64_text() -> None:
    order = make_order(1)
    packed = encode_order(order)["order_z"]

    assert decode_order({"order_z": packed}) == order
    assert decode_order({"order_z": base64.b64encode(packed).decode()}) == order


def test_listing_merges_the_index_shards_most_recently_changed_first_across_pages(
    repository: OrderRepository, dynamodb
) -> None:
    for n in range(40):
        repository.save_changed([make_order(n)], seen_at=NOW + timedelta(minutes=n))
    listed: list[str] = []
    cursor = None

    for _ in range(10):
        page, cursor = repository.list(Platform.ECARDS, None, None, 7, cursor)
        listed.extend(stored.order.order_id for stored in page)
        if cursor is None:
            break

    shards = {
        item["changed_shard"]["S"]
        for item in dynamodb.scan(TableName=repository.table_name, ProjectionExpression="changed_shard")["Items"]
    }
    assert listed == [f"order-{n:04d}" for n in reversed(range(40))]
    assert len(shards) > 1
    assert all(shard.startswith("ecards#") for shard in shards)
