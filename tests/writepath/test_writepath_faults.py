"""Actions through a platform having a bad day: a small run of ``tests/benchmarks/bench_action_faults.py``
(5xx, 429 with ``Retry-After``, unreadable ``200`` after the change was made, answers slower than the client's
timeout), through the local FIFO event source with the worker's visibility backoff."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_action_faults import FaultMix, FaultReport, run


@pytest.fixture(scope="module")
def report(moto_endpoint: str) -> FaultReport:
    del moto_endpoint
    return run(actions=40, orders=8, faults=FaultMix(), concurrency=4, speed=8.0, deadline_seconds=120)


def test_every_action_ends_final(report: FaultReport) -> None:
    assert report.all_final, report.lines()


def test_no_action_is_dead_lettered_without_being_tried(report: FaultReport) -> None:
    assert report.dead_lettered_untried == 0


def test_no_change_is_applied_twice_after_an_unknown_outcome(report: FaultReport) -> None:
    assert report.applied_twice == 0


def test_each_orders_changes_land_in_acceptance_order(report: FaultReport) -> None:
    assert report.out_of_order == 0


def test_ordersync_never_overlaps_two_changes_of_one_order(report: FaultReport) -> None:
    assert report.conflicts == 0
