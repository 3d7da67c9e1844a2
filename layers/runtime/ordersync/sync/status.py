"""The status poller: orders that are not final yet have their status read again until they are. (Refunds of
fulfilled orders come through the refund poller, ``sync.refund_poll``, not through status checks.)

It reads the sparse ``open-orders`` index (only open orders are in it, most overdue first), never the
table. A platform whose profile says ``reads_status_by_id`` has each due order's status read on its own; the others
have no single-order read, so their due orders are grouped into short windows of creation times and read through
the list filters; one whose profile says ``reads_order_by_id_when_cheaper`` reads them by id when that takes fewer
requests than those windows. A changed order is written like any other (and leaves the index once final); an
unchanged one only has its next check moved, later the older it is (``records.next_status_check``), or leaves the
index when it is final (what the retired refund watch left there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Unpack

from aws_lambda_powertools import Logger

from ordersync.errors import MalformedResponseError, PermanentError, PlatformError
from ordersync.models import Order
from ordersync.platform_port import OrderStatusReading, PlatformProfile, StatusReader
from ordersync.sync.engine import (
    PollReport,
    RunArguments,
    RunContext,
    execute,
    fetch_window,
    status_poller_name,
)
from ordersync.sync.ports import PollState
from ordersync.sync.records import StoredOrder, content_hash, next_check_after, next_status_check

logger = Logger(child=True)

CLUSTER_GAP = timedelta(hours=1)
"""Due orders created closer together than this share one list window."""
CLUSTER_SPAN = timedelta(days=1)
NOT_FOUND_RECHECK = timedelta(hours=6)
READ_FAILED_RECHECK = timedelta(minutes=5)
"""An order whose status read failed (429, 5xx, timeout after the transport's retries) is tried again this soon,
not after its age-based delay: a failed read is not a check."""


def run_status_poller(profile: PlatformProfile, **run: Unpack[RunArguments]) -> PollReport:
    """One run of the status poller for one platform, under its own lease (``status#<platform>``)."""
    return execute(profile, status_poller_name(profile.platform), check_open_orders, **run)


def check_open_orders(ctx: RunContext, state: PollState) -> None:
    """Check due open orders in batches until none is due (or time runs short); no cursor is kept."""
    del state  # the index is the state: what is due is what the last runs left due
    done: set[str] = set()
    for round_number in range(1, ctx.options.max_status_rounds + 1):
        ctx.ensure_time()
        now = ctx.now()
        batch = ctx.repository.open_orders(ctx.platform, now, ctx.options.status_batch)
        due = [stored for stored in batch if stored.order.key not in done]
        if not due:
            return
        done.update(stored.order.key for stored in due)
        unread: set[str] = set()
        if isinstance(ctx.client, StatusReader) and _reads_by_id(ctx.profile, due, ctx.client.max_page_size):
            current, unread = _read_one_by_one(ctx, ctx.client, due, listed_at=now)
        else:
            current = _read_through_windows(ctx, due)
        for stored in due:
            key = stored.order.key
            order = current.get(key)
            if order is not None and content_hash(order) != stored.content_hash:
                continue  # written (by ``save`` or the window read), with its own next check
            if key in ctx.summary.conflict_keys:
                continue
            next_check: datetime | None
            if key in unread:  # not checked: stays in the index
                next_check = min(now + READ_FAILED_RECHECK, next_check_after(stored.order.created_at, now))
            else:
                delay_from = now if order is not None else now + NOT_FOUND_RECHECK
                next_check = next_status_check(
                    stored.order, now, due=next_check_after(stored.order.created_at, delay_from)
                )
            if ctx.repository.reschedule(stored, next_check_at=next_check):
                ctx.rescheduled += 1
        ctx.checkpoint({"kind": "status", "round": round_number})


def _reads_by_id(profile: PlatformProfile, due: Sequence[StoredOrder], page_size: int) -> bool:
    """Whether the due orders are read one by one: always where the platform's status is read by id, and where it
    only can be (``reads_order_by_id_when_cheaper``) when one request per order is fewer than the windows' reads
    would take at best (each window's pages for its due orders, plus the empty page where the list must end on
    one, once per list pass)."""
    if profile.reads_status_by_id:
        return True
    if not profile.reads_order_by_id_when_cheaper:
        return False
    return len(due) < window_requests(profile, [stored.order.created_at for stored in due], page_size)


def window_requests(profile: PlatformProfile, created: Sequence[datetime], page_size: int) -> int:
    """The fewest requests reading the windows around orders created at ``created`` can take."""
    trailing = 1 if profile.end_of_list == "empty_page" else 0
    windows = creation_windows(created)
    counts = [sum(1 for moment in created if start <= moment <= end) for start, end in windows]
    per_pass = sum(max(1, -(-count // page_size)) + trailing for count in counts)
    return per_pass * len(profile.list_passes)


def _read_one_by_one(
    ctx: RunContext, reader: StatusReader, due: Sequence[StoredOrder], *, listed_at: datetime
) -> tuple[dict[str, Order], set[str]]:
    """Read each due order's status concurrently; write the ones that changed. Returns the orders read, by key,
    and the keys whose read failed. A changed order is the stored one (as listed from the index at ``listed_at``)
    with its new status, so it is not written over an item another writer changed since then."""

    def read(stored: StoredOrder) -> tuple[StoredOrder, OrderStatusReading | PlatformError]:
        ctx.count_request()
        try:
            return stored, reader.get_order_status(stored.order.order_id)
        except PlatformError as error:
            return stored, error

    current: dict[str, Order] = {}
    changed: list[Order] = []
    failures: list[PlatformError] = []
    unread: set[str] = set()
    for stored, reading in ctx.pool.map(read, due):
        if isinstance(reading, PermanentError) and reading.status_code == 404:
            logger.warning("open order unknown to the platform", extra={"order_id": stored.order.order_id})
            continue
        if isinstance(reading, PlatformError):
            failures.append(reading)
            logger.warning(
                "status read failed", extra={"order_id": stored.order.order_id, "error": type(reading).__name__}
            )
            if isinstance(reading, MalformedResponseError):  # an answer we cannot read will not improve soon
                current[stored.order.key] = stored.order
            else:
                unread.add(stored.order.key)  # not checked: tried again soon
            continue
        order = stored.order
        if reading.raw_status != order.raw_status or reading.status != order.status:
            order = order.model_copy(
                update={
                    "status": reading.status,
                    "raw_status": reading.raw_status,
                    "raw": order.raw | {"status": reading.raw_status},
                }
            )
            changed.append(order)
        current[stored.order.key] = order
    if failures and len(failures) == len(due):
        raise failures[0]
    if changed:
        ctx.save(changed, observed_at=listed_at)
    return current, unread


def _read_through_windows(ctx: RunContext, due: Sequence[StoredOrder]) -> dict[str, Order]:
    """Read the list over short creation-time windows around the due orders; everything read is stored."""
    current: dict[str, Order] = {}
    for window_from, window_to in creation_windows([stored.order.created_at for stored in due]):
        ctx.ensure_time()
        current |= fetch_window(ctx, window_from, window_to, collect=True)
    return current


def creation_windows(created: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    """Cover the given creation times with few short windows (a second of margin at each end)."""
    windows: list[tuple[datetime, datetime]] = []
    margin = timedelta(seconds=1)
    for moment in sorted(created):
        if windows:
            start, end = windows[-1]
            if moment - end <= CLUSTER_GAP and moment - start <= CLUSTER_SPAN:
                windows[-1] = (start, moment + margin)
                continue
        windows.append((moment - margin, moment + margin))
    return windows
