"""The list poller (``sync.engine.run_poller``) on fakes: windows, checkpoints, leases, deadlines, scans."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from builders import NOW, Clock, order, orders, with_status
from fakes import FakeOrderStore, FakePlatformClient, FakePollStateStore

from ordersync import platforms
from ordersync.config import Settings
from ordersync.errors import RetryableError
from ordersync.models import Order, OrderPage, OrderStatus, Platform, QuarantinedRecord
from ordersync.platform_port import ListQuery
from ordersync.sync.engine import INITIAL_FROM, PollOptions, PollReport, poller_name, run_poller
from ordersync.sync.records import from_iso, to_iso

NO_DEADLINE = 900_000
LOOKBACK = timedelta(hours=2)


class Poll:
    """One platform's fake client, the fake stores, and a way to run the poller against them."""

    def __init__(self, platform: Platform, client: FakePlatformClient) -> None:
        self.platform = platform
        self.client = client
        self.store = FakeOrderStore()
        self.state = FakePollStateStore()
        self.clock = Clock()
        self.poller = poller_name(platform)

    def run(self, run_id: str = "run-1", *, remaining: Callable[[], int] | None = None, **options: Any) -> PollReport:
        values: dict[str, Any] = {"lookback": LOOKBACK, "concurrency": 1, "clock": self.clock}
        return run_poller(
            platforms.profile(self.platform),
            settings=Settings(),
            client=self.client,
            repository=self.store,
            state_repository=self.state,
            remaining_time_ms=remaining or (lambda: NO_DEADLINE),
            run_id=run_id,
            options=PollOptions(**(values | options)),
        )


@pytest.fixture
def window() -> Poll:
    """Ticketscloud: 25 orders, pages of 10."""
    return Poll(Platform.TICKETSCLOUD, FakePlatformClient(Platform.TICKETSCLOUD, orders(25), max_page_size=10))


@pytest.fixture
def scan() -> Poll:
    """E-cards: 25 orders created a day ago or earlier, newest first, pages of 10."""
    old = orders(25, platform=Platform.ECARDS, newest=NOW - timedelta(days=1))
    return Poll(Platform.ECARDS, FakePlatformClient(Platform.ECARDS, old, max_page_size=10, newest_first=True))


# -- the window strategy (Ticketscloud, Bizon365) ---------------------------------------------------------------
def test_a_first_window_run_reads_every_page_once_to_the_empty_one_and_stores_every_order(window: Poll) -> None:
    report = window.run()

    assert report.outcome == "completed"
    assert [query.page for query in window.client.queries] == [1, 2, 3, 4]
    assert (report.pages, report.requests, report.written, report.created) == (4, 4, 25, 25)
    assert report.page_budget == 4  # ceil(25 / 10) + 1
    assert len(window.store.items) == 25


def test_a_first_window_starts_before_any_order_and_ends_at_the_runs_start(window: Poll) -> None:
    window.run()

    assert {(query.created_from, query.created_to) for query in window.client.queries} == {(INITIAL_FROM, NOW)}


def test_a_completed_run_moves_the_cursor_to_the_windows_end_and_frees_the_lease(window: Poll) -> None:
    report = window.run()
    state = window.state.get(window.poller)

    assert report.cursor == to_iso(NOW)
    assert state is not None
    assert (state.cursor, state.checkpoint, state.lease_owner) == (to_iso(NOW), None, None)
    assert state.counters["orders_seen"] == 25


def test_the_next_window_starts_at_the_cursor_minus_the_lookback(window: Poll) -> None:
    window.run("run-1")
    later = window.clock.advance(timedelta(minutes=10))
    window.client.queries.clear()

    window.run("run-2")

    assert {(query.created_from, query.created_to) for query in window.client.queries} == {(NOW - LOOKBACK, later)}


def test_an_unchanged_order_is_not_written_again(window: Poll) -> None:
    window.run("run-1")
    window.clock.advance(timedelta(minutes=5))
    writes_before = len(window.store.writes)

    report = window.run("run-2", lookback=timedelta(days=1))

    assert (report.written, report.unchanged) == (0, 25)
    assert len(window.store.writes) == writes_before
    assert {stored.version for stored in window.store.items.values()} == {1}


def test_a_changed_order_is_written_with_the_next_version(window: Poll) -> None:
    window.run("run-1")
    paid = with_status(window.client.orders[3], OrderStatus.PAID)
    window.client.replace(paid)
    window.clock.advance(timedelta(minutes=5))

    report = window.run("run-2", lookback=timedelta(days=1))

    assert report.written == 1
    assert window.store.stored(paid).version == 2
    assert window.store.stored(paid).order.status is OrderStatus.PAID


def test_progress_is_checkpointed_after_each_batch_is_written(window: Poll) -> None:
    stored_at_checkpoint: list[int] = []
    checkpoint = window.state.checkpoint

    def spy(*args: Any, **kwargs: Any) -> None:
        stored_at_checkpoint.append(len(window.store.items))
        checkpoint(*args, **kwargs)

    window.state.checkpoint = spy  # type: ignore[method-assign]
    window.run()

    assert [saved["next_page"] for saved in window.state.checkpoints if saved] == [2, 3, 4, 5]
    assert stored_at_checkpoint == [10, 20, 25, 25]


def test_pages_after_the_first_are_read_concurrently_in_batches_of_the_concurrency(window: Poll) -> None:
    window.client.orders = orders(45)

    window.run(concurrency=2)

    assert [saved["next_page"] for saved in window.state.checkpoints if saved] == [2, 4, 6, 7]
    assert sorted(query.page for query in window.client.queries) == [1, 2, 3, 4, 5, 6]


def test_a_run_resumes_from_the_checkpoint_of_an_unfinished_one(window: Poll) -> None:
    window_to = NOW - timedelta(minutes=3)
    window.state.set_state(
        window.poller,
        checkpoint={"kind": "window", "from": to_iso(INITIAL_FROM), "to": to_iso(window_to), "next_page": 3},
    )

    report = window.run()

    assert report.resumed
    assert [query.page for query in window.client.queries] == [3, 4]
    assert window.client.queries[0].created_to == window_to
    assert report.cursor == to_iso(window_to)


def test_a_failed_run_keeps_its_checkpoint_frees_the_lease_and_the_next_run_resumes(window: Poll) -> None:
    window.client.faults = {3: RetryableError(Platform.TICKETSCLOUD, "GET /orders: HTTP 503", status_code=503)}

    failed = window.run("run-1")
    state = window.state.get(window.poller)
    window.client.faults = {}
    window.client.queries.clear()
    resumed = window.run("run-2")

    assert failed.outcome == "failed"
    assert failed.error is not None
    assert failed.error.startswith("RetryableError")
    assert state is not None
    assert state.checkpoint == {"kind": "window", "from": to_iso(INITIAL_FROM), "to": to_iso(NOW), "next_page": 3}
    assert state.lease_owner is None
    assert resumed.outcome == "completed"
    assert resumed.resumed
    assert [query.page for query in window.client.queries] == [3, 4]
    assert failed.written + resumed.written == 25


def test_a_run_is_skipped_while_another_run_holds_the_lease(window: Poll) -> None:
    window.state.hold(window.poller, "other-run", until=NOW + timedelta(minutes=5))

    report = window.run()

    assert report.outcome == "skipped_lease_held"
    assert window.client.requests == 0
    assert window.state.get(window.poller).lease_owner == "other-run"  # type: ignore[union-attr]


def test_an_expired_lease_is_taken_over(window: Poll) -> None:
    window.state.hold(window.poller, "killed-run", until=NOW - timedelta(seconds=1))

    assert window.run().outcome == "completed"


def test_a_run_stops_before_the_lambda_deadline_and_the_next_one_finishes(window: Poll) -> None:
    def remaining() -> int:
        return NO_DEADLINE if window.client.requests < 2 else 10_000  # under the 20 s safety margin

    stopped = window.run("run-1", remaining=remaining)
    state = window.state.get(window.poller)
    finished = window.run("run-2")

    assert stopped.outcome == "stopped_for_time"
    assert stopped.written == 20
    assert state is not None
    assert state.lease_owner is None
    assert state.checkpoint is not None
    assert state.checkpoint["next_page"] == 3
    assert finished.resumed
    assert finished.written == 5


def test_a_run_that_lost_its_lease_stops_without_moving_the_cursor(window: Poll) -> None:
    def another_run_takes_over(query: ListQuery) -> None:
        if query.page == 2:
            window.state.hold(window.poller, "run-2", until=NOW + timedelta(minutes=15))

    window.client.before_request = another_run_takes_over

    report = window.run("run-1")
    state = window.state.get(window.poller)

    assert report.outcome == "lease_lost"
    assert state is not None
    assert state.cursor is None
    assert state.lease_owner == "run-2"


def test_quarantined_records_are_counted_and_the_rest_of_the_page_is_stored(window: Poll) -> None:
    bad = QuarantinedRecord(platform=Platform.TICKETSCLOUD, record_id="broken", reason="created_at: missing")
    window.client.quarantined = {2: (bad,)}

    report = window.run()

    assert report.outcome == "completed"
    assert report.quarantined == 1
    assert report.written == 25


def test_bizon365_reads_each_window_without_free_and_with_free_1() -> None:
    poll = Poll(Platform.BIZON365, FakePlatformClient(Platform.BIZON365, orders(3, platform=Platform.BIZON365)))

    poll.run()

    assert [dict(query.extra) for query in poll.client.queries] == [{}, {"free": "1"}]


def test_bizon365_stores_paid_and_free_orders_when_free_1_answers_free_orders_only() -> None:
    paid = orders(12, platform=Platform.BIZON365, prefix="paid")
    free = orders(5, platform=Platform.BIZON365, prefix="free")
    client = LivePagingClient(Platform.BIZON365, [*paid, *free], free_only={order.key for order in free})
    poll = Poll(Platform.BIZON365, client)

    report = poll.run()

    assert len(poll.store.items) == 17
    assert (report.orders_seen, report.created) == (17, 17)


def test_bizon365_stores_every_order_once_when_free_1_adds_free_orders_to_the_rest() -> None:
    paid = orders(12, platform=Platform.BIZON365, prefix="paid")
    free = orders(5, platform=Platform.BIZON365, prefix="free")
    poll = Poll(Platform.BIZON365, FakePlatformClient(Platform.BIZON365, [*paid, *free]))

    report = poll.run()

    assert len(poll.store.items) == 17
    assert (report.orders_seen, report.created) == (17, 17)
    assert {stored.version for stored in poll.store.items.values()} == {1}


def test_a_bizon365_run_interrupted_in_its_second_pass_resumes_there() -> None:
    poll = Poll(Platform.BIZON365, FakePlatformClient(Platform.BIZON365, orders(3, platform=Platform.BIZON365)))
    checkpoint = {"kind": "window", "from": to_iso(INITIAL_FROM), "to": to_iso(NOW), "next_page": 1, "pass": 1}
    poll.state.set_state(poll.poller, checkpoint=checkpoint)

    poll.run()

    assert [dict(query.extra) for query in poll.client.queries] == [{"free": "1"}]


def test_bizon365_always_looks_back_at_least_three_days() -> None:
    options = PollOptions.from_settings(platforms.profile(Platform.BIZON365), Settings(poll_lookback_minutes=60))

    assert options.lookback == timedelta(days=3)
    assert PollOptions.from_settings(
        platforms.profile(Platform.TICKETSCLOUD), Settings(poll_lookback_minutes=60)
    ).lookback == timedelta(hours=1)


# -- a total that is only a hint (Ticketscloud: read until an empty page) ------------------------------------
class LivePagingClient(FakePlatformClient):
    """Pages as Ticketscloud's live list serves them: ``sizes`` gives each page's length in turn (shorter than asked
    on pages that are not the last), ``pagination`` is ``missing``, ``page_local`` (a total counting only the page)
    or ``exact``; ``repeat`` puts each page's last order again at the top of the next page. ``free_only``: keys
    that a ``free=1`` read answers alone (and a read without it leaves out)."""

    def __init__(
        self,
        platform: Platform,
        listed: list[Order],
        *,
        sizes: tuple[int, ...] = (),
        pagination: str = "exact",
        repeat: bool = False,
        free_only: set[str] | None = None,
    ) -> None:
        super().__init__(platform, listed, max_page_size=10)
        self.sizes, self.pagination, self.repeat, self.free_only = sizes, pagination, repeat, free_only

    def list_orders(self, query: ListQuery) -> OrderPage:
        self.queries.append(query)
        matching = sorted(self.orders, key=lambda order: (order.created_at, order.order_id))
        if self.free_only is not None:
            wanted = query.extra.get("free") == "1"
            matching = [order for order in matching if (order.key in self.free_only) == wanted]
        chunks: list[list[Order]] = []
        start = 0
        while start < len(matching):
            size = self.sizes[len(chunks) % len(self.sizes)] if self.sizes else self.max_page_size
            chunk = matching[start : start + size]
            if self.repeat and chunks:
                chunk = [chunks[-1][-1], *chunk[:-1]] if len(chunk) > 1 else chunk
            chunks.append(chunk)
            start += len(chunk) - (1 if self.repeat and len(chunks) > 1 and len(chunk) > 1 else 0)
        page = chunks[query.page - 1] if query.page <= len(chunks) else []
        total = {"missing": None, "page_local": len(page), "exact": len(matching)}[self.pagination]
        return OrderPage(
            platform=self.platform, orders=tuple(page), page=query.page, page_size=self.max_page_size, total=total
        )


def live_window(listed: int = 25, **options: Any) -> Poll:
    return Poll(Platform.TICKETSCLOUD, LivePagingClient(Platform.TICKETSCLOUD, orders(listed), **options))


def test_a_window_without_pagination_is_read_in_concurrent_batches_to_the_first_empty_page() -> None:
    poll = live_window(pagination="missing")

    report = poll.run(concurrency=3)

    assert sorted(query.page for query in poll.client.queries) == [1, 2, 3, 4]
    assert (report.outcome, report.written, report.requests, report.page_budget) == ("completed", 25, 4, 4)


@pytest.mark.parametrize("pagination", ["missing", "page_local", "exact"])
def test_short_pages_that_are_not_the_last_never_end_the_window(pagination: str) -> None:
    poll = live_window(60, sizes=(10, 3, 7, 10), pagination=pagination)

    report = poll.run(concurrency=4)

    assert len(poll.store.items) == 60
    assert report.orders_seen == 60
    pages = sorted(query.page for query in poll.client.queries)
    assert pages[: pages.index(max(pages))] == list(range(1, max(pages)))


def test_a_page_local_total_is_not_trusted_and_the_batches_grow_to_the_concurrency() -> None:
    poll = live_window(45, pagination="page_local")

    poll.run(concurrency=4)

    assert sorted(query.page for query in poll.client.queries) == [1, 2, 3, 4, 5, 6]  # 1, 2, then 3-6
    assert len(poll.store.items) == 45


def test_a_truthful_total_costs_one_empty_page_and_no_more() -> None:
    poll = live_window(45)

    report = poll.run(concurrency=4)

    assert sorted(query.page for query in poll.client.queries) == [1, 2, 3, 4, 5, 6]
    assert report.requests == report.page_budget == 6  # ceil(45 / 10) + 1


def test_an_order_repeated_on_the_next_page_is_stored_and_counted_once() -> None:
    poll = live_window(25, repeat=True, pagination="missing")

    report = poll.run(concurrency=2)

    assert len(poll.store.items) == 25
    assert report.orders_seen == 25
    assert {stored.version for stored in poll.store.items.values()} == {1}


# -- the scan strategy (e-cards: newest first, no filters, shifting pages) ------------------------------------
def test_a_first_scan_reads_newest_first_until_the_list_ends(scan: Poll) -> None:
    report = scan.run()

    assert report.outcome == "completed"
    assert [query.page for query in scan.client.queries] == [1, 2, 3]
    assert all(query.created_from is None and query.created_to is None for query in scan.client.queries)
    assert report.written == 25
    assert report.cursor == to_iso(NOW)


def test_a_later_scan_stops_at_a_page_of_stored_orders_older_than_the_lookback(scan: Poll) -> None:
    scan.run("run-1")
    scan.clock.advance(timedelta(minutes=10))
    scan.client.queries.clear()

    report = scan.run("run-2")

    assert [query.page for query in scan.client.queries] == [1]
    assert report.written == 0


def test_a_later_scan_picks_up_new_orders_at_the_top(scan: Poll) -> None:
    scan.run("run-1")
    fresh = order("new-1", platform=Platform.ECARDS, created_at=NOW + timedelta(minutes=1))
    scan.client.add(fresh)
    scan.clock.advance(timedelta(minutes=10))

    report = scan.run("run-2")

    assert report.written == 1
    assert fresh.key in scan.store.items


def test_orders_arriving_during_a_scan_shift_pages_and_every_order_is_stored_once(scan: Poll) -> None:
    arrivals = iter(orders(3, platform=Platform.ECARDS, newest=NOW, prefix="late"))

    def orders_arrive(query: ListQuery) -> None:
        if query.page == 2:
            scan.client.add(next(arrivals))

    scan.client.before_request = orders_arrive

    report = scan.run()

    assert report.shifts_detected >= 1
    assert {stored.version for stored in scan.store.items.values()} == {1}
    assert len(scan.store.items) >= 25


def test_a_scan_that_sees_the_list_shrink_reads_the_previous_page_again() -> None:
    listed = orders(21, platform=Platform.ECARDS, newest=NOW - timedelta(days=1))
    poll = Poll(Platform.ECARDS, FakePlatformClient(Platform.ECARDS, listed, max_page_size=10, newest_first=True))

    def the_newest_order_disappears(query: ListQuery) -> None:
        if query.page == 2 and len(poll.client.orders) == 21:
            poll.client.orders.pop()  # 3 pages become 2: everything moves up by one

    poll.client.before_request = the_newest_order_disappears

    report = poll.run()

    assert report.rereads == 1
    assert [query.page for query in poll.client.queries] == [1, 2, 1]
    assert len(poll.store.items) == 21  # the order that moved from page 2 to page 1 was not skipped


def test_a_scan_checkpoints_every_n_pages(scan: Poll) -> None:
    scan.run(scan_checkpoint_every=1)

    assert [saved["resume_page"] for saved in scan.state.checkpoints if saved] == [2, 3]


def test_an_interrupted_first_scan_reads_the_top_then_jumps_to_its_checkpoint() -> None:
    many = orders(60, platform=Platform.ECARDS, newest=NOW - timedelta(days=1))
    poll = Poll(Platform.ECARDS, FakePlatformClient(Platform.ECARDS, many, max_page_size=10, newest_first=True))
    poll.store.seed(*many[30:], at=NOW - timedelta(hours=1))  # pages 1-3 were stored by the interrupted scan
    poll.state.set_state(poll.poller, checkpoint={"kind": "scan", "resume_page": 5})

    report = poll.run()

    assert report.resumed
    assert [query.page for query in poll.client.queries] == [1, 4, 5, 6]
    assert len(poll.store.items) == 60
    assert from_iso(report.cursor or "") == NOW


def test_the_next_batch_of_a_window_is_requested_while_the_current_one_is_written(window: Poll) -> None:
    window.client.max_page_size = 5  # 25 orders: page 1, pages 2-3 and 4-5 two at a time, then the empty page 6
    save = window.store.save_changed
    requested_during_writes: list[int] = []

    def slow_save(batch: Any, **kwargs: Any) -> Any:
        before = window.client.requests
        deadline = time.monotonic() + 0.5
        while window.client.requests == before and before < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)  # long enough for a prefetch under way to have asked for its pages
        requested_during_writes.append(window.client.requests - before)
        return save(batch, **kwargs)

    window.store.save_changed = slow_save  # type: ignore[method-assign]

    report = window.run(concurrency=2)

    assert report.completed
    assert report.requests == 6  # prefetching asks for no page twice and none beyond the empty one
    assert len(window.store.items) == 25
    assert requested_during_writes == [2, 2, 1, 0]  # each next batch was asked for while the one before was written
