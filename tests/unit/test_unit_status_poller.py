"""The status poller (``sync.status.run_status_poller``) on fakes: open orders are read again until final."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from builders import NOW, Clock, order, with_status
from fakes import FakeOrderStore, FakePlatformClient, FakePollStateStore, FakeStatusClient

from ordersync import platforms
from ordersync.config import Settings
from ordersync.errors import RetryableError
from ordersync.models import Order, OrderStatus, Platform
from ordersync.sync.engine import PollOptions, PollReport, status_poller_name
from ordersync.sync.records import next_check_after
from ordersync.sync.status import (
    NOT_FOUND_RECHECK,
    READ_FAILED_RECHECK,
    creation_windows,
    run_status_poller,
    window_requests,
)

NO_DEADLINE = 900_000
SEEN = NOW - timedelta(minutes=10)
"""When the list poller stored the open orders: a young order's next check (5 minutes later) is due by NOW."""


def run(client: FakePlatformClient, store: FakeOrderStore, clock: Clock | None = None, **kwargs: Any) -> PollReport:
    return run_status_poller(
        platforms.profile(client.platform),
        settings=Settings(),
        client=client,
        repository=store,
        state_repository=kwargs.pop("state", FakePollStateStore()),
        remaining_time_ms=lambda: NO_DEADLINE,
        run_id="status-run",
        options=PollOptions(concurrency=2, clock=clock or Clock(), **kwargs),
    )


def open_ecards(*order_ids: str) -> tuple[list[Order], FakeStatusClient, FakeOrderStore]:
    placed = [order(order_id, platform=Platform.ECARDS, created_at=NOW - timedelta(hours=1)) for order_id in order_ids]
    store = FakeOrderStore()
    store.seed(*placed, at=SEEN)
    return placed, FakeStatusClient(Platform.ECARDS, placed), store


def test_ecards_open_orders_are_read_one_by_one_and_a_final_one_leaves_the_index() -> None:
    (first, second), client, store = open_ecards("e1", "e2")
    client.replace(with_status(first, OrderStatus.FULFILLED, "sent"))

    report = run(client, store)

    assert report.outcome == "completed"
    assert sorted(client.status_reads) == ["e1", "e2"]
    assert client.queries == []  # no list reads
    assert store.stored(first).order.status is OrderStatus.FULFILLED
    assert store.stored(first).version == 2
    assert store.stored(first).next_check_at is None
    assert store.stored(second).version == 1


def test_an_open_order_that_did_not_change_is_only_checked_again_later() -> None:
    (placed,), client, store = open_ecards("e1")

    report = run(client, store)

    stored = store.stored(placed)
    assert report.rescheduled == 1
    assert store.writes == []
    assert stored.version == 1
    assert stored.next_check_at == next_check_after(placed.created_at, NOW)


def test_an_order_whose_status_read_failed_is_tried_again_soon() -> None:
    (failing, fine), client, store = open_ecards("e1", "e2")
    client.status_faults["e1"] = RetryableError(Platform.ECARDS, "GET: HTTP 503", status_code=503)

    report = run(client, store)

    assert report.outcome == "completed"
    assert store.stored(failing).next_check_at == NOW + READ_FAILED_RECHECK
    assert store.stored(failing).version == 1
    assert store.stored(fine).next_check_at == next_check_after(fine.created_at, NOW)


def test_an_order_the_platform_does_not_know_is_checked_again_only_hours_later() -> None:
    (placed,), client, store = open_ecards("e1")
    client.orders.clear()  # the status read answers 404

    run(client, store)

    assert store.stored(placed).next_check_at == next_check_after(placed.created_at, NOW + NOT_FOUND_RECHECK)


def test_a_run_whose_every_status_read_fails_fails() -> None:
    _, client, store = open_ecards("e1", "e2")
    for order_id in ("e1", "e2"):
        client.status_faults[order_id] = RetryableError(Platform.ECARDS, "GET: timed out")

    report = run(client, store)

    assert report.outcome == "failed"


def test_nothing_due_means_no_platform_request() -> None:
    _, client, store = open_ecards("e1")

    report = run(client, store, clock=Clock(SEEN + timedelta(minutes=1)))

    assert report.outcome == "completed"
    assert client.status_reads == []


def test_the_status_poller_runs_under_its_own_lease() -> None:
    _, client, store = open_ecards("e1")
    state = FakePollStateStore()
    state.hold(status_poller_name(Platform.ECARDS), "other", until=NOW + timedelta(minutes=5))
    state.hold("poller#ecards", "list-run", until=NOW + timedelta(minutes=5))

    report = run(client, store, state=state)

    assert report.outcome == "skipped_lease_held"
    assert report.poller == "status#ecards"


def test_ticketscloud_open_orders_are_read_through_short_creation_windows() -> None:
    early = order("t1", created_at=NOW - timedelta(hours=3))
    close_by = order("t2", created_at=NOW - timedelta(hours=3) + timedelta(minutes=20))
    later = order("t3", created_at=NOW - timedelta(minutes=50))
    store = FakeOrderStore()
    store.seed(early, close_by, later, at=SEEN - timedelta(hours=1))
    client = FakePlatformClient(Platform.TICKETSCLOUD, [early, with_status(close_by, OrderStatus.PAID), later])

    run(client, store)

    second = timedelta(seconds=1)
    windows = {(query.created_from, query.created_to) for query in client.queries}
    assert windows == {
        (early.created_at - second, close_by.created_at + second),
        (later.created_at - second, later.created_at + second),
    }
    assert store.stored(close_by).order.status is OrderStatus.PAID
    assert store.stored(early).version == 1


def test_a_few_due_ticketscloud_orders_are_read_by_id_when_that_takes_fewer_requests() -> None:
    early = order("t1", created_at=NOW - timedelta(hours=3))
    later = order("t2", created_at=NOW - timedelta(minutes=50))
    store = FakeOrderStore()
    store.seed(early, later, at=SEEN - timedelta(hours=1))
    client = FakeStatusClient(Platform.TICKETSCLOUD, [early, with_status(later, OrderStatus.CANCELLED)])

    report = run(client, store)

    assert sorted(client.status_reads) == ["t1", "t2"]  # 2 requests; two windows would take at least 4
    assert client.queries == []
    assert report.requests == 2
    assert store.stored(later).order.status is OrderStatus.CANCELLED


def test_many_due_ticketscloud_orders_close_in_time_are_read_through_their_window() -> None:
    due = [order(f"t{number:02}", created_at=NOW - timedelta(hours=2, minutes=number)) for number in range(30)]
    store = FakeOrderStore()
    store.seed(*due, at=SEEN - timedelta(hours=1))
    client = FakeStatusClient(Platform.TICKETSCLOUD, due)

    report = run(client, store)

    assert client.status_reads == []
    assert report.requests == len(client.queries) < 30


def test_the_window_cost_counts_the_empty_page_and_every_list_pass() -> None:
    created = [NOW - timedelta(hours=5), NOW - timedelta(hours=1)]

    assert window_requests(platforms.profile(Platform.TICKETSCLOUD), created, 200) == 4  # (1 page + 1 empty) x 2
    assert window_requests(platforms.profile(Platform.BIZON365), created, 200) == 4  # 1 page x 2 windows x 2 passes


def test_a_fulfilled_ticketscloud_order_leaves_the_open_orders_index_at_once() -> None:
    """No refund watch: refunds of a done order come through the refund poller, not through status checks."""
    done = order("t1", status=OrderStatus.FULFILLED, created_at=NOW - timedelta(days=3))
    store = FakeOrderStore()

    store.seed(done, at=NOW - timedelta(days=2))

    assert store.stored(done).next_check_at is None


def test_due_orders_close_in_time_share_one_window_and_distant_ones_do_not() -> None:
    base = NOW - timedelta(days=2)
    created = [base, base + timedelta(minutes=30), base + timedelta(minutes=80), base + timedelta(hours=5)]

    windows = creation_windows(created)

    second = timedelta(seconds=1)
    assert windows == [(base - second, created[2] + second), (created[3] - second, created[3] + second)]


def test_young_orders_are_checked_more_often_than_old_ones() -> None:
    young = next_check_after(NOW - timedelta(minutes=10), NOW) - NOW
    day_old = next_check_after(NOW - timedelta(hours=5), NOW) - NOW
    old = next_check_after(NOW - timedelta(days=30), NOW) - NOW

    assert young < day_old < old
