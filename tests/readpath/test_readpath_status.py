"""The status poller: open orders are read again until final, through the sparse open-orders index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from readpath_support import open_order_ids, status_poll

from ordersync.models import OrderStatus, Platform
from ordersync.sync.records import next_check_after
from ordersync.sync.status import READ_FAILED_RECHECK, creation_windows


def test_ecards_open_orders_are_read_one_by_one_until_final(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=80)
    harness.poll()
    open_before = open_order_ids(harness)
    harness.clock.advance(timedelta(hours=8))  # every schedule has run its course by now
    harness.simulator.clear_requests()

    report = status_poll(harness)

    truth = harness.truth()
    stored = harness.stored()
    status_reads = [request for request in harness.simulator.requests if request.path.endswith("/status")]
    assert open_before
    assert report.outcome == "completed"
    assert len(status_reads) == len(open_before) == report.requests
    assert all(stored[order_id].order.raw_status == truth[order_id] for order_id in open_before)
    assert report.written == sum(1 for order_id in open_before if stored[order_id].version == 2)
    assert open_order_ids(harness) == {
        order_id for order_id in open_before if not stored[order_id].order.status.is_final
    }


def test_an_open_order_that_did_not_change_is_only_checked_again_later(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=40)
    harness.poll()
    harness.clock.advance(timedelta(days=2))
    unchanged = {order_id: stored for order_id, stored in harness.stored().items() if not stored.order.status.is_final}
    for order_id in list(unchanged):
        if harness.truth()[order_id] != unchanged[order_id].order.raw_status:
            del unchanged[order_id]

    report = status_poll(harness)
    again = status_poll(harness, "status-2")

    after = harness.stored()
    assert report.rescheduled >= len(unchanged)
    for order_id, before in unchanged.items():
        assert after[order_id].version == before.version
        assert after[order_id].next_check_at is not None
        assert before.next_check_at is not None
        assert after[order_id].next_check_at > before.next_check_at
    assert again.requests == 0  # nothing is due again yet


def test_ticketscloud_open_orders_are_read_through_windows_or_by_id_whichever_is_fewer_requests(
    harness_factory,
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=120)
    harness.poll()
    open_before = open_order_ids(harness)
    in_progress = sorted(order_id for order_id in open_before if harness.truth()[order_id] == "in_progress")
    harness.simulator.pay(in_progress[0])
    harness.simulator.cancel(in_progress[1])
    harness.clock.advance(timedelta(days=2))
    harness.simulator.clear_requests()

    report = status_poll(harness)

    stored = harness.stored()
    assert report.outcome == "completed"
    assert stored[in_progress[0]].order.status is OrderStatus.FULFILLED
    assert stored[in_progress[1]].order.status is OrderStatus.CANCELLED
    assert in_progress[1] not in open_order_ids(harness)  # cancelled: final at once
    assert in_progress[0] not in open_order_ids(harness)  # fulfilled: final at once (refunds come as requests)
    list_reads = [request for request in harness.simulator.requests if request.path == "/v2/resources/orders"]
    by_id = [request for request in harness.simulator.requests if request.path != "/v2/resources/orders"]
    assert all("created_at" in request.query for request in list_reads)
    assert {request.path.rsplit("/", 1)[-1] for request in by_id} <= open_before
    assert not (list_reads and by_id)  # one way or the other for one batch of due orders


def test_a_few_due_ticketscloud_orders_are_read_by_id(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=60)
    order_id = harness.simulator.add_orders(1)[0]
    harness.poll()
    harness.clock.advance(timedelta(minutes=6))
    harness.simulator.pay(order_id)
    harness.simulator.clear_requests()

    report = status_poll(harness)

    due_reads = [request.path for request in harness.simulator.requests]
    assert report.outcome == "completed"
    assert f"/v2/resources/orders/{order_id}" in due_reads
    assert all(path.startswith("/v2/resources/orders/") for path in due_reads)
    assert len(due_reads) == report.requests
    assert harness.stored()[order_id].order.status is OrderStatus.FULFILLED


def test_a_bizon365_payment_is_found_and_a_paid_order_leaves_the_open_index(harness_factory) -> None:
    harness = harness_factory(Platform.BIZON365, orders=80)
    harness.poll()
    unpaid = sorted(order_id for order_id, raw in harness.truth().items() if raw == "unpaid")
    harness.simulator.pay(unpaid[0])
    harness.clock.advance(timedelta(days=2))

    status_poll(harness)

    stored = harness.stored()
    assert stored[unpaid[0]].order.status is OrderStatus.FULFILLED
    assert unpaid[0] not in open_order_ids(harness)


def test_young_orders_are_checked_more_often_than_old_ones() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    young = next_check_after(now - timedelta(minutes=10), now) - now
    day_old = next_check_after(now - timedelta(hours=5), now) - now
    week_old = next_check_after(now - timedelta(days=3), now) - now
    ancient = next_check_after(now - timedelta(days=90), now) - now

    assert young < day_old < week_old < ancient


def test_due_orders_close_in_time_share_one_window() -> None:
    base = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    created = [base, base + timedelta(minutes=20), base + timedelta(minutes=50), base + timedelta(days=3)]

    windows = creation_windows(created)

    assert len(windows) == 2
    assert windows[0][0] < base < base + timedelta(minutes=50) < windows[0][1]
    assert windows[1][0] < base + timedelta(days=3) < windows[1][1]


def test_an_order_whose_status_read_failed_is_tried_again_soon_not_after_its_age_based_delay(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=20)
    harness.simulator.add_orders(6)  # just created: open
    harness.poll()
    harness.clock.advance(timedelta(days=10))  # every open order is old now: a successful check waits a day
    harness.simulator.clear_requests()
    harness.simulator.faults.fail_next = [503] * 4  # the first status read fails on every attempt
    open_before = open_order_ids(harness)

    report = status_poll(harness, concurrency=1)

    now = harness.clock.now()
    stored = harness.stored()
    unread = harness.simulator.requests[0].path.split("/")[3]
    checked = open_before - {unread}
    assert report.outcome == "completed"
    assert unread in open_before
    assert stored[unread].version == 1
    assert stored[unread].next_check_at is not None
    assert stored[unread].next_check_at <= now + READ_FAILED_RECHECK
    assert len(checked) >= 5
    for order_id in checked:
        next_check = stored[order_id].next_check_at
        assert next_check is None or next_check > now + timedelta(hours=12)


class WorkerWritesDuringTheStatusRead:
    """The real e-cards client; during the first status read that finds a change, another writer stores a newer
    state of that order (the worker's PATCH answer) before the status poller gets the reading."""

    def __init__(self, inner: Any, stored_status: dict[str, str], meanwhile: Any) -> None:
        self._inner = inner
        self.platform = inner.platform
        self.max_page_size = inner.max_page_size
        self._stored_status = stored_status
        self._meanwhile = meanwhile
        self.raced: str | None = None

    def list_orders(self, query: Any) -> Any:
        return self._inner.list_orders(query)

    def get_order_status(self, order_id: str) -> Any:
        reading = self._inner.get_order_status(order_id)
        if self.raced is None and reading.raw_status != self._stored_status[str(order_id)]:
            self.raced = str(order_id)
            self._meanwhile(str(order_id))
        return reading

    def close(self) -> None:
        self._inner.close()


def test_a_status_change_is_not_written_over_an_order_another_writer_changed_since_it_was_listed(
    harness_factory,
) -> None:
    harness = harness_factory(Platform.ECARDS, orders=20)
    harness.simulator.add_orders(6)
    harness.poll()
    harness.clock.advance(timedelta(hours=8))
    before = harness.stored()

    def worker_stores_its_answer(order_id: str) -> None:
        order = before[order_id].order
        harness.repository.save_changed(
            [order.model_copy(update={"raw": order.raw | {"answered_by": "PATCH"}})], seen_at=harness.clock.now()
        )

    real = harness.client
    racing = WorkerWritesDuringTheStatusRead(
        real, {order_id: stored.order.raw_status for order_id, stored in before.items()}, worker_stores_its_answer
    )
    harness.client = racing
    report = status_poll(harness, concurrency=1)
    harness.client = real

    assert racing.raced is not None
    kept = harness.stored()[racing.raced]
    assert report.conflicts == 1
    assert kept.version == 2
    assert kept.order.raw["answered_by"] == "PATCH"  # the worker's newer data, not the listed copy's
