"""Polling into the orders table: a first sync lands every order with its canonical status, a repeat poll
writes nothing, and the number of platform requests is the minimum the page size allows."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from ordersync_tools.simulators.ticketscloud import live_page_sizes
from readpath_support import EXPECTED_STATUS

from ordersync.models import OrderStatus, Platform

ALL_PLATFORMS = [Platform.TICKETSCLOUD, Platform.BIZON365, Platform.ECARDS]


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_first_sync_stores_every_order_with_its_canonical_status(harness_factory, platform: Platform) -> None:
    harness = harness_factory(platform, orders=130)

    report = harness.poll()

    truth = harness.truth()
    stored = harness.stored()
    assert report.outcome == "completed"
    assert set(stored) == set(truth)
    assert report.written == len(truth)
    for order_id, raw_status in truth.items():
        order = stored[order_id].order
        assert order.raw_status == raw_status
        assert order.status == OrderStatus(EXPECTED_STATUS[platform][raw_status])
        assert stored[order_id].version == 1


@pytest.mark.parametrize("platform", ALL_PLATFORMS)
def test_a_repeat_poll_writes_nothing(harness_factory, platform: Platform) -> None:
    harness = harness_factory(platform, orders=130)
    harness.poll("run-1")

    report = harness.poll("run-2", lookback=timedelta(days=400))  # the window covers every order again

    assert report.outcome == "completed"
    assert report.orders_seen == len(harness.truth())
    assert report.written == 0
    assert report.write_units == 0
    assert report.unchanged == report.orders_seen
    assert {stored.version for stored in harness.stored().values()} == {1}


def test_a_full_ticketscloud_window_costs_its_pages_and_one_empty_page(harness_factory, behaviour: str) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=450)

    report = harness.poll()

    assert report.written == 450
    assert report.page_budget == math.ceil(450 / 200) + 1
    if behaviour == "live":  # the hint misleads: at most one batch of pages beyond the budget
        assert report.page_budget <= report.requests < report.page_budget + harness.options().concurrency
    else:
        assert report.requests == report.page_budget
    assert len(harness.simulator.requests) == report.requests


def test_a_full_bizon365_window_costs_the_pages_of_its_two_reads(harness_factory, behaviour: str) -> None:
    harness = harness_factory(Platform.BIZON365, orders=250)
    everything = harness.simulator.orders
    free = sum(1 for order in everything if not order["amount"])

    report = harness.poll()

    assert report.written == len(everything)
    with_free = free if behaviour == "live" else len(everything)  # free=1: free orders only, or added to the rest
    pages = math.ceil((len(everything) - free) / 100) + max(1, math.ceil(with_free / 100))
    assert report.requests == len(harness.simulator.requests) == pages


def test_a_ticketscloud_window_of_1000_orders_on_live_paging_stores_all_1000(harness_factory, behaviour: str) -> None:
    if behaviour != "live":
        pytest.skip("the live paging is the point")
    harness = harness_factory(Platform.TICKETSCLOUD, orders=1000)

    report = harness.poll()

    assert report.outcome == "completed"
    assert len(harness.stored()) == 1000
    assert (report.written, report.orders_seen) == (1000, 1000)
    assert report.page_budget == math.ceil(1000 / 200) + 1
    assert report.requests < report.page_budget + harness.options().concurrency


def test_every_paid_and_free_bizon365_order_is_stored_when_free_1_answers_free_orders_only(
    harness_factory, behaviour: str
) -> None:
    if behaviour != "live":
        pytest.skip("the harsher reading of free=1 is the point")
    harness = harness_factory(Platform.BIZON365, orders=200)
    free = {str(order["_id"]) for order in harness.simulator.orders if not order["amount"]}
    assert free

    report = harness.poll()

    stored = harness.stored()
    assert set(stored) == set(harness.truth())
    assert free < set(stored)
    assert report.orders_seen == len(stored)


def test_ecards_full_scan_reads_each_page_once(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=205)

    report = harness.poll()

    assert report.written == 205
    assert report.requests == math.ceil(205 / 20)


def test_window_pages_are_fetched_concurrently_within_the_bound(harness_factory) -> None:
    """Seven pages of twenty, read three at a time to the first empty page."""
    harness = harness_factory(Platform.TICKETSCLOUD, orders=140)
    harness.client.max_page_size = 20  # seven pages without thousands of orders
    harness.simulator.faults.latency = 0.05

    report = harness.poll(concurrency=3)

    requests = harness.simulator.requests
    peak = max(
        sum(
            1
            for other in requests
            if other.received_at <= request.received_at < (other.finished_at or other.received_at)
        )
        for request in requests
    )
    assert report.written == 140
    assert report.page_budget == 8  # seven pages and the empty one
    size_of = live_page_sizes(20) if harness.simulator.live else (lambda index: 20)
    needed = next(pages for pages in range(1, 100) if sum(size_of(index) for index in range(pages)) >= 140)
    assert needed + 1 <= report.requests < needed + 1 + 3  # at most one batch of pages past the empty one
    assert 2 <= peak <= 3


def test_the_window_starts_at_the_cursor_minus_the_lookback(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=50)
    first = harness.poll("run-1")
    harness.clock.advance(timedelta(minutes=30))
    harness.simulator.clear_requests()

    harness.poll("run-2", lookback=timedelta(hours=2))

    created_at = harness.simulator.requests[0].query["created_at"][0]
    start = created_at.split(",")[0]
    assert first.cursor is not None
    assert harness.state_repository.get("poller#ticketscloud").cursor is not None
    assert start  # a bounded window, not the whole history
    assert harness.simulator.requests[0].query["page_size"] == ["200"]


def test_new_orders_since_the_last_run_are_picked_up(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=40)
    harness.poll("run-1")
    harness.clock.advance(timedelta(minutes=1))
    new_ids = harness.simulator.add_orders(3)
    harness.clock.advance(timedelta(seconds=2))

    report = harness.poll("run-2")

    assert report.created == 3
    assert set(new_ids) <= set(harness.stored())
