"""A poll that is killed, crashes, runs out of time, meets a flaky platform or a bad record, or races another
poller: no order is lost, none is written twice, and the cursor only moves past what is durably stored."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from readpath_support import NO_DEADLINE, ORDERS_TABLE, POLL_STATE_TABLE, Harness

from ordersync.models import OrderStatus, Platform
from ordersync.platform_port import ListQuery
from ordersync.sync.engine import PollReport

CHILD = """
import sys
from datetime import timedelta
from ordersync.aws.orders_repository import OrderRepository
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import OrderStatus, Platform
from ordersync.platforms import profile
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.sync.engine import PollOptions, run_poller

platform, base_url, token, page_size, orders_table, state_table = sys.argv[1:7]
platform = Platform(platform)
kind = EcardsClient if platform is Platform.ECARDS else TicketscloudClient
client = kind(base_url, token, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02))
client.max_page_size = int(page_size)
run_poller(
    profile(platform),
    settings=Settings(),
    client=client,
    repository=OrderRepository(orders_table),
    state_repository=PollStateRepository(state_table),
    remaining_time_ms=lambda: 900_000,
    run_id="doomed",
    options=PollOptions(lookback=timedelta(hours=2), concurrency=4, scan_checkpoint_every=2),
)
print("finished", flush=True)
"""


ORDERS = 240


def _later() -> datetime:
    """A clock past the killed run's lease: the next scheduled run, some minutes later."""
    return datetime.now(UTC) + timedelta(minutes=20)


@pytest.mark.parametrize(("platform", "seed"), [(Platform.TICKETSCLOUD, 11), (Platform.ECARDS, 12)])
def test_a_poll_killed_at_a_random_point_resumes_without_losing_or_duplicating(
    harness_factory, stream, platform: Platform, seed: int
) -> None:
    harness: Harness = harness_factory(platform, orders=ORDERS)
    harness.simulator.faults.latency = 0.02
    pages = ORDERS // 20
    kill_after = random.Random(seed).randint(3, pages - 3)
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        [
            sys.executable,
            "-c",
            CHILD,
            platform.value,
            harness.simulator.base_url,
            harness.simulator.token,
            "20",
            ORDERS_TABLE,
            POLL_STATE_TABLE,
        ],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(harness.simulator.requests) < kill_after and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL  # killed mid-run, not finished
    written_before = len(harness.stored())
    assert 0 < written_before < ORDERS

    harness.client.max_page_size = 20
    report = harness.poll("resumer", clock=_later)

    stored = harness.stored()
    assert report.outcome == "completed"
    assert set(stored) == set(harness.truth())
    assert {item.version for item in stored.values()} == {1}
    assert len(stream.new_records()) == ORDERS  # one write, hence one stream record, per order


class CrashingClient:
    """The real client, failing with a crash on its ``crash_on``-th list call."""

    def __init__(self, inner: Any, crash_on: int) -> None:
        self._inner = inner
        self.platform = inner.platform
        self.max_page_size = inner.max_page_size
        self.calls = 0
        self.crash_on = crash_on
        self._lock = threading.Lock()

    def list_orders(self, query: ListQuery) -> Any:
        with self._lock:
            self.calls += 1
            crash = self.calls == self.crash_on
        if crash:
            raise RuntimeError("simulated crash")
        return self._inner.list_orders(query)

    def close(self) -> None:
        self._inner.close()


def test_a_crashed_run_keeps_its_checkpoint_and_the_next_run_resumes_from_it(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=200)
    harness.client.max_page_size = 20
    real = harness.client
    harness.client = CrashingClient(real, crash_on=7)

    failed = harness.poll("run-1", concurrency=2)
    state = harness.state_repository.get("poller#ticketscloud")
    harness.client = real
    resumed = harness.poll("run-2", concurrency=2)

    assert failed.outcome == "failed"
    assert "simulated crash" in (failed.error or "")
    assert state is not None
    assert state.checkpoint is not None
    assert state.lease_owner is None  # a failed run gives its lease back
    assert resumed.outcome == "completed"
    assert resumed.resumed
    assert resumed.requests < 10  # it did not start over
    assert failed.written + resumed.written == 200
    assert {item.version for item in harness.stored().values()} == {1}


def test_a_run_stops_cleanly_before_the_lambda_deadline_and_the_next_one_finishes(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=200)
    calls = iter(range(1_000_000))

    def remaining() -> int:
        return NO_DEADLINE if next(calls) < 4 else 5_000  # time runs short after a few pages

    stopped = harness.poll("run-1", remaining_time_ms=remaining, scan_checkpoint_every=1)
    finished = harness.poll("run-2")

    assert stopped.outcome == "stopped_for_time"
    assert 0 < stopped.written < 200
    assert finished.outcome == "completed"
    assert finished.resumed
    assert stopped.written + finished.written == 200
    assert harness.state_repository.get("poller#ecards").checkpoint is None


def test_ecards_pages_shifting_during_a_scan_still_see_every_order_once(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=200, arrivals_per_request=3)
    before = set(harness.truth())

    report = harness.poll("run-1", lookback=timedelta(days=400))

    stored = harness.stored()
    assert report.outcome == "completed"
    assert report.shifts_detected > 0
    assert before <= set(stored)
    assert report.written == len(stored)  # every order written exactly once, repeats skipped
    assert report.orders_seen == len(stored)
    assert {item.version for item in stored.values()} == {1}

    harness.simulator.arrivals_per_request = 0
    again = harness.poll("run-2")
    assert set(harness.stored()) == set(harness.truth())
    assert again.written == len(harness.truth()) - len(stored)


@pytest.mark.parametrize(
    "faults",
    [
        {"rate_limit_share": 0.3, "retry_after": 0.01},
        {"server_error_share": 0.3},
        {"malformed_share": 0.2},
    ],
    ids=["429", "5xx", "malformed-body"],
)
def test_transient_platform_errors_are_retried_and_the_sync_completes(harness_factory, faults) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=200)
    harness.client.max_page_size = 20
    for name, value in faults.items():
        setattr(harness.simulator.faults, name, value)

    reports = [harness.poll("run-1")]
    while not reports[-1].completed and len(reports) < 5:  # a page out of retries fails the run: the next resumes
        reports.append(harness.poll(f"run-{len(reports) + 1}"))

    stored = harness.stored()
    assert reports[-1].outcome == "completed"
    assert set(stored) == set(harness.truth())
    assert {item.version for item in stored.values()} == {1}
    assert len(harness.simulator.requests) > sum(report.requests for report in reports)  # some were retried


def test_platform_timeouts_are_retried_and_the_sync_completes(harness_factory) -> None:
    harness = harness_factory(Platform.ECARDS, orders=100)
    harness.client.close()
    from readpath_support import make_client

    harness.client = make_client(harness.simulator, timeout=0.2)
    harness.simulator.faults.timeout_share = 0.3
    harness.simulator.faults.timeout_hold = 0.4

    report = harness.poll()

    assert report.outcome == "completed"
    assert set(harness.stored()) == set(harness.truth())
    assert len(harness.simulator.requests) > report.requests  # some requests were sent again
    harness.client.close()


def test_a_platform_that_keeps_failing_fails_the_run_and_frees_the_lease(harness_factory) -> None:
    harness = harness_factory(Platform.BIZON365, orders=50)
    harness.simulator.faults.server_error_share = 1.0

    failed = harness.poll("run-1")
    harness.simulator.faults.server_error_share = 0.0
    recovered = harness.poll("run-2")

    assert failed.outcome == "failed"
    assert "HTTP 5" in (failed.error or "")
    assert failed.written == 0
    assert recovered.outcome == "completed"
    assert set(harness.stored()) == set(harness.truth())


def test_a_record_that_fails_validation_is_quarantined_and_the_rest_is_stored(harness_factory, caplog) -> None:
    harness = harness_factory(Platform.BIZON365, orders=60)
    victim = harness.simulator.orders[5]
    harness.simulator.patch_order(victim["_id"], {"amount": "ivan.petrov@example.ru", "phone": "+7 916 123-45-67"})
    caplog.set_level(logging.INFO)

    report = harness.poll()

    stored = harness.stored()
    quarantine_lines = [record for record in caplog.records if record.getMessage() == "record quarantined"]
    assert report.outcome == "completed"
    assert report.quarantined == 1
    assert str(victim["_id"]) not in stored
    assert set(stored) == set(harness.truth()) - {str(victim["_id"])}
    assert [getattr(line, "record_id", None) for line in quarantine_lines] == [str(victim["_id"])]
    assert "amount" in quarantine_lines[0].reason
    assert "ivan.petrov@example.ru" not in caplog.text
    assert "916 123-45-67" not in caplog.text


class InterleavingClient:
    """The real client; on its ``at``-th list call it runs ``meanwhile`` to the end before answering."""

    def __init__(self, inner: Any, at: int, meanwhile: Any) -> None:
        self._inner = inner
        self.platform = inner.platform
        self.max_page_size = inner.max_page_size
        self.calls = 0
        self._at = at
        self._meanwhile = meanwhile
        self._lock = threading.Lock()

    def list_orders(self, query: ListQuery) -> Any:
        with self._lock:
            self.calls += 1
            now = self.calls == self._at
        if now:
            self._meanwhile()
        return self._inner.list_orders(query)

    def close(self) -> None:
        self._inner.close()


def test_two_pollers_racing_never_overlap(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=200)
    harness.client.max_page_size = 20
    real = harness.client
    second: list[PollReport] = []

    def second_run() -> None:  # another invocation starts while the first one is mid-run
        racer = threading.Thread(target=lambda: second.append(harness.poll("run-2")))
        racer.start()
        racer.join(timeout=30)

    harness.client = InterleavingClient(real, at=3, meanwhile=second_run)
    first = harness.poll("run-1")

    assert first.outcome == "completed"
    assert [report.outcome for report in second] == ["skipped_lease_held"]
    assert second[0].requests == 0
    assert first.written == 200
    assert {item.version for item in harness.stored().values()} == {1}


def test_a_run_that_lost_its_lease_stops_without_moving_the_cursor(harness_factory) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=200)
    harness.client.max_page_size = 20
    real = harness.client
    taken_over: list[PollReport] = []

    def lease_expires_and_another_run_takes_over() -> None:
        harness.client = real
        taken_over.append(harness.poll("run-2", clock=_later))

    slow = InterleavingClient(real, at=3, meanwhile=lease_expires_and_another_run_takes_over)
    harness.client = slow
    stale = harness.poll("run-1", concurrency=1)
    state = harness.state_repository.get("poller#ticketscloud")

    assert taken_over[0].outcome == "completed"
    assert stale.outcome == "lease_lost"
    assert state is not None
    assert state.cursor == taken_over[0].cursor
    assert state.lease_owner is None
    assert {item.version for item in harness.stored().values()} == {1}


class WriterAfterTheRead:
    """The real client; once its first list answer is in, ``meanwhile`` runs before the poller gets it."""

    def __init__(self, inner: Any, meanwhile: Any) -> None:
        self._inner = inner
        self.platform = inner.platform
        self.max_page_size = inner.max_page_size
        self._meanwhile = meanwhile
        self._done = False

    def list_orders(self, query: ListQuery) -> Any:
        page = self._inner.list_orders(query)
        if not self._done:
            self._done = True
            self._meanwhile()
        return page

    def close(self) -> None:
        self._inner.close()


def test_a_page_read_before_the_worker_stored_a_newer_answer_does_not_overwrite_it(harness_factory, stream) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=40)
    harness.poll("run-1")
    victim = sorted(order_id for order_id, raw in harness.truth().items() if raw == "in_progress")[0]
    before = harness.stored()[victim]
    stream.new_records()

    def worker_cancels_the_order() -> None:  # the write path's PATCH lands while the poller's page is in flight
        harness.simulator.cancel(victim)
        cancelled = before.order.model_copy(
            update={
                "status": OrderStatus.CANCELLED,
                "raw_status": "cancelled",
                "raw": before.order.raw | {"answered_by": "PATCH"},
            }
        )
        harness.repository.save_changed([cancelled], seen_at=harness.clock.now())

    real = harness.client
    harness.client = WriterAfterTheRead(real, worker_cancels_the_order)
    raced = harness.poll("run-2", lookback=timedelta(days=400))
    after_race = harness.stored()[victim]
    harness.client = real
    settled = harness.poll("run-3", lookback=timedelta(days=400))

    assert raced.outcome == "completed"
    assert raced.conflicts == 1
    assert after_race.version == 2
    assert after_race.order.status is OrderStatus.CANCELLED  # not set back to pending by the stale page
    assert [record["eventName"] for record in stream.new_records()] == ["MODIFY", "MODIFY"]  # worker, then run-3
    assert settled.written == 1
    assert harness.stored()[victim].order.status is OrderStatus.CANCELLED
    assert harness.stored()[victim].order.raw_status == "cancelled"
