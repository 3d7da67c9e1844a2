"""The refund watch: a Ticketscloud ``done`` order can be refunded long after the list poll's look-back has passed
it, so a fulfilled Ticketscloud order stays in the open-orders index for ``REFUND_WATCH_DAYS`` after it was
fulfilled, checked by the status poller; every other final status leaves the index at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from readpath_support import Harness, consume, load_handler, open_order_ids, status_poll

from ordersync import composition
from ordersync.aws.orders_repository import OrderRepository
from ordersync.config import Settings
from ordersync.models import Money, Order, OrderStatus, Platform

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


@pytest.fixture
def consumer(handler_env: None) -> Any:
    return load_handler("stream_consumer")


def ticketscloud(harness: Harness) -> TicketscloudSimulator:
    assert isinstance(harness.simulator, TicketscloudSimulator)
    return harness.simulator


def fulfilled_by_the_status_poller(harness: Harness) -> str:
    """A new order, stored pending by the list poll, paid, and seen ``done`` by the status poller."""
    (order_id,) = ticketscloud(harness).add_orders(1)
    harness.poll("run-1")
    ticketscloud(harness).pay(order_id)
    harness.clock.advance(timedelta(minutes=10))
    status_poll(harness, "status-done")
    assert harness.stored()[order_id].order.status is OrderStatus.FULFILLED
    return order_id


def make_order(platform: Platform, status: OrderStatus, *, raw: dict[str, Any] | None = None) -> Order:
    return Order(
        platform=platform,
        order_id="order-0001",
        status=status,
        raw_status=status.value,
        created_at=NOW - timedelta(minutes=3),
        total=Money(amount="150.00", currency="RUB"),
        raw=raw or {"status": status.value},
    )


def open_keys(repository: OrderRepository, platform: Platform) -> set[str]:
    return {stored.order.key for stored in repository.open_orders(platform, FAR_FUTURE, 100)}


# -- through the simulator, the status poller and the stream ---------------------------------------------------------
def test_a_refund_after_the_look_back_passed_the_order_is_one_status_change_and_leaves_the_index(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=10)
    order_id = fulfilled_by_the_status_poller(harness)
    harness.clock.advance(timedelta(days=2))
    harness.poll("run-2")  # its window still reaches back to the order's creation: nothing new
    harness.clock.advance(timedelta(days=1))
    harness.poll("run-3")  # from here on the list poll's window starts after the order's creation
    ticketscloud(harness).refund(order_id)
    harness.clock.advance(timedelta(hours=1))
    harness.poll("run-4")
    missed_by_the_list_poll = harness.stored()[order_id]
    consume(consumer, stream.new_records())
    captured_events.drain()

    report = status_poll(harness, "status-refund")

    consume(consumer, stream.new_records())
    events = [event for event in captured_events.drain() if event["detail"]["order_id"] == order_id]
    refunded = harness.stored()[order_id]
    assert missed_by_the_list_poll.order.status is OrderStatus.FULFILLED
    assert report.outcome == "completed"
    assert [event["detail-type"] for event in events] == ["Order Status Changed"]
    detail = events[0]["detail"]
    assert (detail["old_status"], detail["new_status"]) == ("fulfilled", "refunded")
    assert (detail["old_raw_status"], detail["new_raw_status"]) == ("done", "refunded")
    assert detail["version"] == missed_by_the_list_poll.version + 1
    assert refunded.order.status is OrderStatus.REFUNDED
    assert refunded.next_check_at is None
    assert refunded.watch_until is None
    assert order_id not in open_order_ids(harness)


def test_a_fulfilled_order_is_watched_until_its_watch_ends_then_leaves_the_index_without_an_event(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=10)
    order_id = fulfilled_by_the_status_poller(harness)
    watched = harness.stored()[order_id]
    window = harness.repository.refund_watch.window
    harness.clock.advance(window - timedelta(days=1))
    status_poll(harness, "status-late")
    still_watched = harness.stored()[order_id]
    open_before_the_end = open_order_ids(harness)
    consume(consumer, stream.new_records())
    captured_events.drain()
    harness.clock.advance(timedelta(days=2))

    report = status_poll(harness, "status-after-watch")

    consume(consumer, stream.new_records())
    after = harness.stored()[order_id]
    assert window == timedelta(days=30)  # REFUND_WATCH_DAYS' default
    assert watched.watch_until == watched.last_changed_at + window
    assert still_watched.next_check_at is not None
    assert still_watched.next_check_at <= watched.watch_until  # the last check falls at the watch's end
    assert order_id in open_before_the_end
    assert report.outcome == "completed"
    assert order_id not in open_order_ids(harness)
    assert after.next_check_at is None
    assert after.watch_until is None
    assert after.version == watched.version  # bookkeeping only: the order itself did not change
    assert [event for event in captured_events.drain() if event["detail"]["order_id"] == order_id] == []


def test_orders_first_seen_fulfilled_are_watched_from_their_creation(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=60)  # created over the last three days

    harness.poll()

    stored = harness.stored()
    fulfilled = {order_id for order_id, item in stored.items() if item.order.status is OrderStatus.FULFILLED}
    window = harness.repository.refund_watch.window
    assert fulfilled
    assert fulfilled <= open_order_ids(harness)
    for order_id in fulfilled:
        assert stored[order_id].watch_until == stored[order_id].order.created_at + window


def test_a_first_sync_leaves_fulfilled_orders_older_than_the_watch_out_of_the_index(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=60)
    harness.clock.advance(harness.repository.refund_watch.window + timedelta(days=4))  # every order is older than that

    harness.poll()

    stored = harness.stored()
    assert any(item.order.status is OrderStatus.FULFILLED for item in stored.values())
    assert open_order_ids(harness) == {order_id for order_id, item in stored.items() if not item.order.status.is_final}
    assert all(item.watch_until is None for item in stored.values())


# -- the rule, through the repository -------------------------------------------------------------------------------
@pytest.mark.parametrize("final", [OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REFUNDED])
def test_other_final_ticketscloud_statuses_leave_the_index_at_once(
    repository: OrderRepository, final: OrderStatus
) -> None:
    repository.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.PENDING)], seen_at=NOW)

    repository.save_changed([make_order(Platform.TICKETSCLOUD, final)], seen_at=NOW + timedelta(minutes=5))

    stored = repository.get(Platform.TICKETSCLOUD, "order-0001")
    assert stored is not None
    assert stored.order.status is final
    assert stored.next_check_at is None
    assert open_keys(repository, Platform.TICKETSCLOUD) == set()


@pytest.mark.parametrize("platform", [Platform.BIZON365, Platform.ECARDS])
def test_fulfilled_orders_of_other_platforms_leave_the_index_at_once(
    repository: OrderRepository, platform: Platform
) -> None:
    repository.save_changed([make_order(platform, OrderStatus.PENDING)], seen_at=NOW)

    repository.save_changed([make_order(platform, OrderStatus.FULFILLED)], seen_at=NOW + timedelta(minutes=5))

    stored = repository.get(platform, "order-0001")
    assert stored is not None
    assert stored.next_check_at is None
    assert stored.watch_until is None
    assert open_keys(repository, platform) == set()


def test_a_ticketscloud_order_seen_becoming_fulfilled_is_watched_from_then(repository: OrderRepository) -> None:
    repository.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.PENDING)], seen_at=NOW)
    fulfilled_seen_at = NOW + timedelta(hours=2)

    repository.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.FULFILLED)], seen_at=fulfilled_seen_at)

    stored = repository.get(Platform.TICKETSCLOUD, "order-0001")
    assert stored is not None
    assert stored.watch_until == fulfilled_seen_at + repository.refund_watch.window
    assert stored.next_check_at is not None
    assert fulfilled_seen_at < stored.next_check_at <= stored.watch_until
    assert open_keys(repository, Platform.TICKETSCLOUD) == {stored.order.key}


def test_a_change_that_keeps_the_fulfilled_status_keeps_the_watch_end(repository: OrderRepository) -> None:
    repository.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.PENDING)], seen_at=NOW)
    fulfilled_seen_at = NOW + timedelta(hours=1)
    repository.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.FULFILLED)], seen_at=fulfilled_seen_at)
    edited = make_order(Platform.TICKETSCLOUD, OrderStatus.FULFILLED, raw={"status": "done", "comment": "gate B"})

    repository.save_changed([edited], seen_at=NOW + timedelta(days=5))

    stored = repository.get(Platform.TICKETSCLOUD, "order-0001")
    assert stored is not None
    assert stored.version == 3
    assert stored.watch_until == fulfilled_seen_at + repository.refund_watch.window


def test_a_zero_day_refund_watch_makes_fulfilled_final_at_once(repository: OrderRepository, dynamodb: Any) -> None:
    unwatched = OrderRepository(
        repository.table_name,
        dynamodb_client=dynamodb,
        refund_watch=replace(repository.refund_watch, window=timedelta(0)),
    )
    unwatched.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.PENDING)], seen_at=NOW)

    unwatched.save_changed([make_order(Platform.TICKETSCLOUD, OrderStatus.FULFILLED)], seen_at=NOW + timedelta(hours=1))

    stored = unwatched.get(Platform.TICKETSCLOUD, "order-0001")
    assert stored is not None
    assert stored.next_check_at is None
    assert stored.watch_until is None


def test_the_refund_watch_comes_from_refund_watch_days(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository reads no environment: the handlers' wiring passes it ``REFUND_WATCH_DAYS``."""
    monkeypatch.setenv("REFUND_WATCH_DAYS", "7")
    monkeypatch.setenv("ORDERS_TABLE", "any-table")
    composition.reset()
    try:
        repository = composition.order_repository()
    finally:
        composition.reset()

    assert Settings().refund_watch_days == 30
    assert Settings.from_env({"REFUND_WATCH_DAYS": "7"}).refund_watch_days == 7
    assert repository.refund_watch.window == timedelta(days=7)


def test_the_repository_has_no_default_refund_watch(dynamodb: Any) -> None:
    with pytest.raises(TypeError, match="refund_watch"):
        OrderRepository("any-table", dynamodb_client=dynamodb)  # type: ignore[call-arg]
