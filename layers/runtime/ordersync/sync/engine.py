"""The poll engine: one run of one platform's poller, from taking the lease to moving the cursor.

A run fetches pages, writes what changed, and checkpoints after every batch of pages that is durably
written, so a run killed at any point resumes from its last checkpoint: pages after it are read again and,
being unchanged, cost reads but no writes. The strategy depends on what the platform can filter on:

* ``window`` (a platform that filters on creation times): a fixed window of creation times, from the cursor
  minus the look-back to the run's start, page 1 first to learn ``total``, then the other pages concurrently.
  Where the profile says the total is only a hint (``end_of_list="empty_page"``), pages are read in concurrent
  batches until one comes back empty, sized by the hint so that a truthful one costs a single empty page.
  A window is read once per entry of the profile's ``list_passes``; an order repeated across pages or passes
  is stored and counted once.
* ``newest_first_scan`` (a platform without filters): newest first, pages shifting as orders arrive: read from
  page 1 until a page holds only stored orders older than the look-back; repeats are deduplicated by id.

Which one, and the list filters and minimum look-back, is the platform's ``PlatformProfile`` to declare.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, Unpack

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from ordersync.config import SYNC_START_DEFAULT, Settings
from ordersync.models import Order, OrderPage, Platform, QuarantinedRecord, utc_now
from ordersync.platform_port import ListQuery, PlatformClient, PlatformProfile
from ordersync.sync.ports import LeaseLostError, OrderStore, PollState, PollStateStore
from ordersync.sync.records import SaveSummary, from_iso, to_iso
from ordersync.sync.redact import redact

logger = Logger(child=True)

Outcome = Literal["completed", "stopped_for_time", "skipped_lease_held", "lease_lost", "failed"]

LEASE_MARGIN = timedelta(seconds=30)
INITIAL_FROM = SYNC_START_DEFAULT
"""Where a first window starts unless ``SYNC_START_DATE`` says otherwise: before any order of any platform."""


@dataclass(frozen=True)
class PollOptions:
    """Knobs of one run; ``from_settings`` reads them from the environment's ``Settings``."""

    lookback: timedelta = timedelta(days=1)
    concurrency: int = 4
    lease_for: timedelta | None = None
    """How long a lease lasts; by default the Lambda's remaining time plus ``LEASE_MARGIN``, so that the run
    after a killed one never waits longer than the killed one could have lived."""
    safety_margin_ms: int = 20_000
    scan_checkpoint_every: int = 10
    initial_from: datetime = INITIAL_FROM
    status_batch: int = 200
    max_status_rounds: int = 50
    clock: Callable[[], datetime] = utc_now

    @classmethod
    def from_settings(cls, profile: PlatformProfile, settings: Settings, **overrides: Any) -> PollOptions:
        lookback = max(timedelta(minutes=settings.poll_lookback_minutes), profile.min_lookback)
        values: dict[str, Any] = {
            "lookback": lookback,
            "concurrency": settings.poll_concurrency,
            "initial_from": settings.sync_start_date,
        }
        return cls(**(values | overrides))


class PollReport(BaseModel):
    """What one run did; the handler turns it into metrics and the log's summary line."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    poller: str
    run_id: str
    outcome: Outcome
    started_at: datetime
    duration_ms: int
    resumed: bool = False
    pages: int = 0
    requests: int = 0
    orders_seen: int = 0
    refunds_seen: int = 0
    written: int = 0
    created: int = 0
    unchanged: int = 0
    conflicts: int = 0
    quarantined: int = 0
    too_large: int = 0
    rescheduled: int = 0
    shifts_detected: int = 0
    rereads: int = 0
    page_budget: int = 0
    """The fewest requests the run's window reads could have taken, to set ``requests`` against: per read of a
    window, ``ceil(N / page size)`` pages (at least one; N the distinct records it brought), ``+ 1`` where the list
    must end on an empty page (``ceil(N / page size) + 1``)."""
    read_units: float = 0.0
    write_units: float = 0.0
    cursor: str | None = None
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.outcome == "completed"


class StopRun(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The Lambda is about to run out of time: the last checkpoint stands, the run ends cleanly."""


@dataclass
class RunContext:
    """One run's collaborators and running totals."""

    profile: PlatformProfile
    poller: str
    run_id: str
    client: PlatformClient
    repository: OrderStore
    state_repository: PollStateStore
    remaining_time_ms: Callable[[], int]
    options: PollOptions
    pool: ThreadPoolExecutor
    summary: SaveSummary = field(default_factory=SaveSummary)
    pages: int = 0
    requests: int = 0
    orders_seen: int = 0
    refunds_seen: int = 0
    quarantined: int = 0
    rescheduled: int = 0
    shifts_detected: int = 0
    rereads: int = 0
    page_budget: int = 0
    resumed: bool = False
    cursor: str | None = None
    counter_lock: threading.Lock = field(default_factory=threading.Lock)
    prefetcher: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="poll-prefetch")
    )
    """Runs the fetch of the next batch of pages (on ``pool``) while the current batch is written."""

    @property
    def platform(self) -> Platform:
        return self.profile.platform

    def count_request(self) -> None:
        """Requests are counted from the pool's threads."""
        with self.counter_lock:
            self.requests += 1

    def now(self) -> datetime:
        return self.options.clock()

    def ensure_time(self) -> None:
        """Raise ``StopRun`` when less than the safety margin is left before the Lambda's deadline."""
        if self.remaining_time_ms() < self.options.safety_margin_ms:
            raise StopRun

    def fetch(self, query: ListQuery) -> OrderPage:
        self.count_request()
        page = self.client.list_orders(query)
        with self.counter_lock:
            self.pages += 1
        return page

    def fetch_many(self, queries: Sequence[ListQuery]) -> list[OrderPage]:
        """Fetch pages concurrently (bounded by the pool); the first failure is raised after all finish."""
        if len(queries) == 1:
            return [self.fetch(queries[0])]
        return list(self.pool.map(self.fetch, queries))

    def store(self, pages: Iterable[OrderPage], *, observed_at: datetime) -> SaveSummary:
        """Quarantine the bad records, write the changed orders, and add both to the run's totals.
        ``observed_at`` is when the pages were requested: what another writer stored after it is not overwritten."""
        orders: list[Order] = []
        for page in pages:
            self.quarantine(page.quarantined)
            orders.extend(page.orders)
        return self.save(orders, observed_at=observed_at)

    def save(self, orders: Sequence[Order], *, observed_at: datetime) -> SaveSummary:
        self.orders_seen += len(orders)
        summary = self.repository.save_changed(orders, seen_at=self.now(), observed_at=observed_at)
        self.summary = self.summary + summary
        return summary

    def quarantine(self, records: Iterable[QuarantinedRecord]) -> None:
        for record in records:
            self.quarantined += 1
            logger.warning(
                "record quarantined",
                extra={
                    "platform": record.platform.value,
                    "record_id": record.record_id,
                    "reason": redact(record.reason),
                },
            )

    def lease_for(self) -> timedelta:
        if self.options.lease_for is not None:
            return self.options.lease_for
        return timedelta(milliseconds=max(0, self.remaining_time_ms())) + LEASE_MARGIN

    def checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record progress and renew the lease up to this invocation's deadline."""
        self.state_repository.checkpoint(
            self.poller, self.run_id, checkpoint=checkpoint, now=self.now(), lease_for=self.lease_for()
        )

    def report(self, outcome: Outcome, started_at: datetime, started: float, error: str | None = None) -> PollReport:
        return PollReport(
            platform=self.platform,
            poller=self.poller,
            run_id=self.run_id,
            outcome=outcome,
            started_at=started_at,
            duration_ms=int((time.perf_counter() - started) * 1000),
            resumed=self.resumed,
            pages=self.pages,
            requests=self.requests,
            orders_seen=self.orders_seen,
            refunds_seen=self.refunds_seen,
            written=self.summary.written,
            created=self.summary.created,
            unchanged=self.summary.unchanged,
            conflicts=self.summary.conflicts,
            quarantined=self.quarantined,
            too_large=self.summary.too_large,
            rescheduled=self.rescheduled,
            shifts_detected=self.shifts_detected,
            rereads=self.rereads,
            page_budget=self.page_budget,
            read_units=self.summary.read_units,
            write_units=self.summary.write_units,
            cursor=self.cursor,
            error=error,
        )


def poller_name(platform: Platform) -> str:
    return f"poller#{platform.value}"


def status_poller_name(platform: Platform) -> str:
    return f"status#{platform.value}"


Body = Callable[[RunContext, PollState], str | None]


class RunArguments(TypedDict):
    """What every run of a poller works with, besides its platform's profile: written once, for ``run_poller``,
    ``run_status_poller`` and ``execute`` alike."""

    settings: Settings
    client: PlatformClient
    repository: OrderStore
    state_repository: PollStateStore
    remaining_time_ms: Callable[[], int]
    run_id: str
    options: NotRequired[PollOptions | None]


def run_poller(profile: PlatformProfile, **run: Unpack[RunArguments]) -> PollReport:
    """One scheduled run of a platform's list poller. Never raises for a platform failure: the report says
    ``failed`` (and the handler fails the invocation so that the schedule's retry policy applies)."""
    body: Body = scan_newest_first if profile.list_strategy == "newest_first_scan" else poll_window
    return execute(profile, poller_name(profile.platform), body, **run)


def execute(profile: PlatformProfile, poller: str, body: Body, **run: Unpack[RunArguments]) -> PollReport:
    """Lease, run ``body``, complete or keep the checkpoint, and always return a report."""
    platform = profile.platform
    options = run.get("options") or PollOptions.from_settings(profile, run["settings"])
    client, repository, state_repository = run["client"], run["repository"], run["state_repository"]
    remaining_time_ms, run_id = run["remaining_time_ms"], run["run_id"]
    started = time.perf_counter()
    started_at = options.clock()
    with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix=f"poll-{platform.value}") as pool:
        ctx = RunContext(
            profile, poller, run_id, client, repository, state_repository, remaining_time_ms, options, pool
        )
        state = state_repository.acquire(poller, run_id, now=started_at, lease_for=ctx.lease_for())
        if state is None:
            logger.info("another run holds the lease; skipping", extra={"poller": poller})
            return ctx.report("skipped_lease_held", started_at, started)
        ctx.resumed = state.checkpoint is not None
        try:
            cursor = body(ctx, state)
            ctx.cursor = cursor
            state_repository.complete(
                poller,
                run_id,
                cursor=cursor,
                now=ctx.now(),
                counters={"orders_seen": ctx.orders_seen, "orders_written": ctx.summary.written},
            )
        except StopRun:
            logger.info("stopping before the Lambda times out; resuming next run", extra={"poller": poller})
            state_repository.release(poller, run_id)
            return ctx.report("stopped_for_time", started_at, started)
        except LeaseLostError as error:
            logger.warning("lease lost: another run took over", extra={"poller": poller})
            return ctx.report("lease_lost", started_at, started, str(error))
        except Exception as error:
            logger.exception("poll run failed; the last checkpoint stands", extra={"poller": poller})
            state_repository.release(poller, run_id)
            return ctx.report("failed", started_at, started, f"{type(error).__name__}: {redact(str(error))}")
        finally:
            ctx.prefetcher.shutdown(wait=False, cancel_futures=True)
    report = ctx.report("completed", started_at, started)
    logger.info(
        "poll run completed",
        extra={
            "poller": poller,
            "orders_seen": report.orders_seen,
            "written": report.written,
            "pages": report.pages,
            "requests": report.requests,
            "page_budget": report.page_budget,
        },
    )
    return report


# -- window: a fixed window of creation times -------------------------------------------------------------------
def poll_window(ctx: RunContext, state: PollState) -> str:
    """Poll every page of a fixed creation-time window; return the new cursor (the window's end)."""
    checkpoint = state.checkpoint
    if checkpoint is not None and checkpoint.get("kind") == "window":
        window_from, window_to = from_iso(checkpoint["from"]), from_iso(checkpoint["to"])
        next_page = int(checkpoint["next_page"])
        first_pass = int(checkpoint.get("pass", 0))
    else:
        window_to = ctx.now()
        window_from = (from_iso(state.cursor) - ctx.options.lookback) if state.cursor else ctx.options.initial_from
        next_page, first_pass = 1, 0
    logger.info(
        "polling window",
        extra={"created_from": to_iso(window_from), "created_to": to_iso(window_to), "from_page": next_page},
    )
    fetch_window(
        ctx,
        window_from,
        window_to,
        first_page=next_page,
        first_pass=first_pass,
        on_progress=_window_checkpoint(ctx, window_from, window_to),
    )
    return to_iso(window_to)


def _window_checkpoint(ctx: RunContext, window_from: datetime, window_to: datetime) -> Callable[[int, int], None]:
    def save(pass_number: int, next_page: int) -> None:
        checkpoint: dict[str, Any] = {
            "kind": "window",
            "from": to_iso(window_from),
            "to": to_iso(window_to),
            "next_page": next_page,
        }
        if pass_number:
            checkpoint["pass"] = pass_number
        ctx.checkpoint(checkpoint)

    return save


@dataclass
class _WindowRead:
    """What one read of a window (all its passes) has seen: keys already stored in this run, and the orders by key
    when the caller collects them."""

    collect: bool
    keys: set[str] = field(default_factory=set)
    orders: dict[str, Order] = field(default_factory=dict)
    records: int = 0

    def keep(self, ctx: RunContext, pages: Sequence[OrderPage], *, observed_at: datetime) -> None:
        """Quarantine the bad records and save the orders not seen before in this read: a repeated id is one
        order, stored and counted once."""
        fresh: list[Order] = []
        for page in pages:
            ctx.quarantine(page.quarantined)
            self.records += len(page.quarantined)
            for order in page.orders:
                if order.key in self.keys:
                    continue
                self.keys.add(order.key)
                fresh.append(order)
                if self.collect:
                    self.orders[order.key] = order
        self.records += len(fresh)
        ctx.save(fresh, observed_at=observed_at)


def fetch_window(
    ctx: RunContext,
    window_from: datetime,
    window_to: datetime,
    *,
    first_page: int = 1,
    first_pass: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    collect: bool = False,
) -> dict[str, Order]:
    """Fetch and store every page of a window, once per pass of the profile's ``list_passes``, the pages after
    the first ``concurrency`` at a time. After each batch is durably written ``on_progress(pass, next_page)``
    records the progress. With ``collect`` the orders read are returned by key (the status poller compares them
    with what it had)."""
    profile = ctx.profile
    read = _WindowRead(collect)
    for pass_number in range(first_pass, len(profile.list_passes)):
        filters = dict(profile.list_filters) | dict(profile.list_passes[pass_number])
        progress = None if on_progress is None else _progress_of(on_progress, pass_number)
        start = first_page if pass_number == first_pass else 1
        records_before = read.records
        if profile.end_of_list == "empty_page":
            _read_until_empty_page(ctx, read, _window_query(ctx, window_from, window_to, filters), start, progress)
        else:
            _read_until_total(ctx, read, _window_query(ctx, window_from, window_to, filters), start, progress)
        pages = max(1, math.ceil((read.records - records_before) / ctx.client.max_page_size))
        ctx.page_budget += pages + (1 if profile.end_of_list == "empty_page" else 0)
        if on_progress is not None and pass_number + 1 < len(profile.list_passes):
            on_progress(pass_number + 1, 1)
    return read.orders


def _progress_of(on_progress: Callable[[int, int], None], pass_number: int) -> Callable[[int], None]:
    def progress(next_page: int) -> None:
        on_progress(pass_number, next_page)

    return progress


def _window_query(
    ctx: RunContext, window_from: datetime, window_to: datetime, filters: dict[str, str]
) -> Callable[[int], ListQuery]:
    page_size = ctx.client.max_page_size

    def query(page: int) -> ListQuery:
        return ListQuery(page=page, page_size=page_size, created_from=window_from, created_to=window_to, extra=filters)

    return query


def _read_until_total(
    ctx: RunContext,
    read: _WindowRead,
    query: Callable[[int], ListQuery],
    first_page: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    """A platform whose total is exact: one page to learn it, then the pages it implies; without a total, one
    page at a time until a short one."""
    page_size = ctx.client.max_page_size
    ctx.ensure_time()
    observed_at = ctx.now()
    first = ctx.fetch(query(first_page))
    read.keep(ctx, [first], observed_at=observed_at)
    last_page = _last_page(first, page_size)
    next_page = first_page + 1
    if on_progress is not None:
        on_progress(next_page)
    prefetched: Prefetch | None = None
    while last_page is None or next_page <= last_page:
        ctx.ensure_time()
        if last_page is None:  # no total: one page at a time until a short one
            batch = [next_page]
        else:
            batch = list(range(next_page, min(last_page, next_page + ctx.options.concurrency - 1) + 1))
        observed_at, pages = _fetch_batch(ctx, batch, prefetched, query)
        for page in pages:
            found = _last_page(page, page_size)
            if found is not None and last_page is not None:
                last_page = max(last_page, found)
        prefetched = _prefetch_next(ctx, batch, last_page, query)
        read.keep(ctx, pages, observed_at=observed_at)
        next_page = batch[-1] + 1
        if on_progress is not None:
            on_progress(next_page)
        if last_page is None and len(pages[-1].orders) + len(pages[-1].quarantined) < page_size:
            break


def _read_until_empty_page(
    ctx: RunContext,
    read: _WindowRead,
    query: Callable[[int], ListQuery],
    first_page: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    """A platform whose total is only a hint: batches of pages until one comes back empty. Each batch reaches to
    where the hint says the list ends and one page more (the largest total seen, less the records read so far, at
    the pages' average fill), at most ``concurrency`` pages; with no hint, or once a batch meant to reach the end
    did not, batches are ``concurrency`` pages. The pages of the batch that holds the first empty page are all
    stored; no later batch is read."""
    concurrency = max(1, ctx.options.concurrency)
    total_hint: int | None = None
    records = pages_with_records = 0
    meant_to_end = hint_broken = False
    batch = [first_page]
    prefetched: Prefetch | None = None
    while True:
        ctx.ensure_time()
        observed_at, pages = _fetch_batch(ctx, batch, prefetched, query)
        ended = False
        for page in pages:
            count = len(page.orders) + len(page.quarantined)
            if count == 0:
                ended = True
                continue
            records += count
            pages_with_records += 1
            hint = _total_hint(page)
            if hint is not None:
                total_hint = max(total_hint or 0, hint)
        next_page = batch[-1] + 1
        following: list[int] = []
        if not ended:
            hint_broken = hint_broken or meant_to_end
            if total_hint is None or hint_broken:
                size = concurrency
            else:
                per_page = records / max(1, pages_with_records)
                size = math.ceil(max(0, total_hint - records) / per_page) + 1
            meant_to_end = size <= concurrency and not hint_broken and total_hint is not None
            following = list(range(next_page, next_page + min(size, concurrency)))
            prefetched = _prefetch(ctx, following, query)  # asked for while this batch is written
        read.keep(ctx, pages, observed_at=observed_at)
        if on_progress is not None:
            on_progress(next_page)
        if ended:
            return
        batch = following


def _total_hint(page: OrderPage) -> int | None:
    if page.total is not None:
        return page.total
    if page.total_pages is not None:
        return page.total_pages * page.page_size
    return None


@dataclass(frozen=True)
class Prefetch:
    """The next batch of pages, requested while the current one is being written."""

    batch: list[int]
    observed_at: datetime
    pages: Future[list[OrderPage]]


def _fetch_batch(
    ctx: RunContext, batch: list[int], prefetched: Prefetch | None, query: Callable[[int], ListQuery]
) -> tuple[datetime, list[OrderPage]]:
    """The pages of ``batch`` and when they were requested: the prefetched ones when they are that batch."""
    if prefetched is not None and prefetched.batch == batch:
        return prefetched.observed_at, prefetched.pages.result()
    observed_at = ctx.now()
    return observed_at, ctx.fetch_many([query(page) for page in batch])


def _prefetch_next(
    ctx: RunContext, batch: list[int], last_page: int | None, query: Callable[[int], ListQuery]
) -> Prefetch | None:
    """Start fetching the batch after ``batch`` (when the last page is known and some are left), so that
    fetching overlaps with writing the current batch; what it fetched counts only once it is stored, so the
    checkpoints stay where they were. With a concurrency of 1 the run stays strictly one step at a time."""
    if last_page is None or batch[-1] >= last_page or ctx.options.concurrency < 2:
        return None
    start = batch[-1] + 1
    return _prefetch(ctx, list(range(start, min(last_page, start + ctx.options.concurrency - 1) + 1)), query)


def _prefetch(ctx: RunContext, batch: list[int], query: Callable[[int], ListQuery]) -> Prefetch | None:
    """Start fetching ``batch`` on the prefetcher; what it fetched counts only once it is stored, so the
    checkpoints stay where they were. With a concurrency of 1 nothing is fetched ahead."""
    if not batch or ctx.options.concurrency < 2:
        return None
    observed_at = ctx.now()
    return Prefetch(batch, observed_at, ctx.prefetcher.submit(ctx.fetch_many, [query(page) for page in batch]))


def _last_page(page: OrderPage, page_size: int) -> int | None:
    if page.total is not None:
        return max(1, math.ceil(page.total / page_size))
    if page.total_pages is not None:
        return max(1, page.total_pages)
    return None


# -- newest_first_scan: newest first, no filters, shifting pages ---------------------------------------------
def scan_newest_first(ctx: RunContext, state: PollState) -> str:
    """Read from page 1 until a page holds only stored orders older than the look-back (or the list ends).

    New orders push older ones towards later pages while the scan runs, so a page may repeat orders of the
    page before: they are deduplicated by id and counted as a shift. A ``totalPages`` that shrinks or an order
    newer than the previous page's oldest means orders moved the other way: the previous page is read again
    rather than risk skipping. Until one scan has reached the end of the list (no cursor yet) the stop rule is
    off, since stored old orders do not yet mean that everything older is stored; such a first scan that was
    interrupted resumes by reading the new orders at the top, then jumping to its checkpoint (orders only
    arrive at the top, so what it had not read yet can only have moved further down).
    """
    checkpoint = state.checkpoint if state.checkpoint and state.checkpoint.get("kind") == "scan" else None
    first_scan = state.cursor is None
    resume_page = int(checkpoint["resume_page"]) if checkpoint and first_scan else None
    page_size = ctx.client.max_page_size
    horizon = ctx.now() - ctx.options.lookback
    seen: set[str] = set()
    previous: OrderPage | None = None
    page_number = 1
    since_checkpoint = 0
    while True:
        ctx.ensure_time()
        observed_at = ctx.now()
        page = ctx.fetch(ListQuery(page=page_number, page_size=page_size))
        if previous is not None and _moved_backwards(previous, page, seen):
            ctx.rereads += 1
            logger.info("list moved backwards; reading the previous page again", extra={"page": page_number})
            reread_at = ctx.now()
            _scan_page(ctx, ctx.fetch(ListQuery(page=page_number - 1, page_size=page_size)), seen, reread_at)
        all_stored = _scan_page(ctx, page, seen, observed_at)
        records = len(page.orders) + len(page.quarantined)
        if records == 0:
            break
        if resume_page is not None and all_stored and page_number + 1 < resume_page - 1:
            logger.info("caught up with new orders; resuming the interrupted scan", extra={"page": resume_page - 1})
            previous, page_number, resume_page = None, resume_page - 1, None
            continue
        if not first_scan and all_stored and all(order.created_at < horizon for order in page.orders):
            break
        if records < page_size or (page.total_pages is not None and page_number >= page.total_pages):
            break
        previous = page
        page_number += 1
        since_checkpoint += 1
        if since_checkpoint >= ctx.options.scan_checkpoint_every:
            ctx.checkpoint({"kind": "scan", "resume_page": page_number})
            since_checkpoint = 0
    return to_iso(ctx.now())


def _scan_page(ctx: RunContext, page: OrderPage, seen: set[str], observed_at: datetime) -> bool:
    """Store the orders of ``page`` not yet seen in this scan; ``True`` when none of them was new to the table."""
    fresh = [order for order in page.orders if order.key not in seen]
    if len(fresh) < len(page.orders):
        ctx.shifts_detected += 1
    seen.update(order.key for order in fresh)
    ctx.quarantine(page.quarantined)
    summary = ctx.save(fresh, observed_at=observed_at) if fresh else SaveSummary()
    return not summary.new_keys


def _moved_backwards(previous: OrderPage, page: OrderPage, seen: set[str]) -> bool:
    if previous.total_pages is not None and page.total_pages is not None and page.total_pages < previous.total_pages:
        return True
    if not previous.orders:
        return False
    oldest_before = min(order.created_at for order in previous.orders)
    return any(order.created_at > oldest_before for order in page.orders if order.key not in seen)
