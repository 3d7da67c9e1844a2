"""The refund poller: a platform's refund requests folded into its stored orders (``sync.refunds``).

For a platform whose profile says ``polls_refunds``, a run reads two windows of refund requests, like the order
poller's window of creation times: one of creation times (new requests: an order with an open request) and one of
finishing times (requests decided since: approved or rejected, however long ago they were made), each from the
cursor minus the look-back to the run's start. Each window is read page after page **until an empty page**, never
trusting a total, ``concurrency`` pages at a time; a request seen twice is folded in once. Every batch of pages is
written (each request merged into its stored order, ``RefundStore.save_refunds``) before a checkpoint records
the next page, so a run that fails or runs out of time resumes there, and a failed run keeps its checkpoint.

A request whose order ordersync has never stored is kept: the order is fetched by id (``OrderFetcher.fetch_order``)
and stored with it. An order the platform no longer knows (``404``) quarantines its requests: logged and counted,
never dropped in silence.

The first run of a platform's refund poller (no cursor yet) also takes out of the open-orders index what the
retired refund watch left there (``RefundStore.end_refund_watch``): once, and harmless if it runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Unpack

from aws_lambda_powertools import Logger

from ordersync.errors import PermanentError
from ordersync.models import Platform, QuarantinedRecord, RefundPage, RefundRequest
from ordersync.platform_port import OrderFetcher, PlatformProfile, RefundQuery, RefundReader
from ordersync.sync.engine import PollReport, RunArguments, RunContext, execute
from ordersync.sync.ports import PollState, RefundStore
from ordersync.sync.records import from_iso, to_iso
from ordersync.sync.refunds import apply_refunds

logger = Logger(child=True)

Phase = Literal["created", "finished"]
PHASES: tuple[Phase, ...] = ("created", "finished")


def refund_poller_name(platform: Platform) -> str:
    return f"refunds#{platform.value}"


def run_refund_poller(profile: PlatformProfile, **run: Unpack[RunArguments]) -> PollReport:
    """One scheduled run of a platform's refund poller, under its own lease (``refunds#<platform>``)."""
    if not profile.polls_refunds:
        raise ValueError(f"{profile.platform.value} has no refund requests to poll (its profile's polls_refunds)")
    return execute(profile, refund_poller_name(profile.platform), poll_refunds, **run)


def poll_refunds(ctx: RunContext, state: PollState) -> str:
    """Read both windows of refund requests; return the new cursor (the windows' end)."""
    reader, store = ctx.client, ctx.repository
    if not isinstance(reader, RefundReader):
        raise TypeError(f"{ctx.platform.value}'s client cannot list refund requests")
    if not isinstance(store, RefundStore):
        raise TypeError("the orders store cannot save refund requests")
    checkpoint = state.checkpoint if state.checkpoint and state.checkpoint.get("kind") == "refunds" else None
    if state.cursor is None and checkpoint is None:
        ended = store.end_refund_watch(ctx.platform)
        logger.info("refund watch ended for orders it left in the open-orders index", extra={"orders": ended})
    if checkpoint is not None:
        window_from, window_to = from_iso(checkpoint["from"]), from_iso(checkpoint["to"])
        phase: Phase = checkpoint["phase"]
        next_page = int(checkpoint["next_page"])
    else:
        window_to = ctx.now()
        window_from = (from_iso(state.cursor) - ctx.options.lookback) if state.cursor else ctx.options.initial_from
        phase, next_page = "created", 1
    seen = _Seen()
    for current in PHASES[PHASES.index(phase) :]:
        logger.info(
            "polling refund requests",
            extra={"by": f"{current}_at", "from": to_iso(window_from), "to": to_iso(window_to), "from_page": next_page},
        )

        def save(page: int, current: Phase = current) -> None:
            ctx.checkpoint(
                {"kind": "refunds", "from": to_iso(window_from), "to": to_iso(window_to), "phase": current}
                | {"next_page": page}
            )

        _read_until_empty(
            ctx,
            reader,
            store,
            query=_query(current, window_from, window_to),
            first_page=next_page,
            seen=seen,
            on_progress=save,
        )
        next_page = 1
    return to_iso(window_to)


def _query(phase: Phase, window_from: datetime, window_to: datetime) -> Callable[[int, int], RefundQuery]:
    def query(page: int, page_size: int) -> RefundQuery:
        if phase == "created":
            return RefundQuery(page=page, page_size=page_size, created_from=window_from, created_to=window_to)
        return RefundQuery(page=page, page_size=page_size, finished_from=window_from, finished_to=window_to)

    return query


def _read_until_empty(
    ctx: RunContext,
    reader: RefundReader,
    store: RefundStore,
    *,
    query: Callable[[int, int], RefundQuery],
    first_page: int,
    seen: _Seen,
    on_progress: Callable[[int], None],
) -> None:
    """Read pages ``concurrency`` at a time from ``first_page`` until an empty one; store each batch, then record
    the next page. A short page never ends the list by itself."""
    page_size = ctx.client.max_page_size

    def fetch(page: int) -> RefundPage:
        ctx.count_request()
        answer = reader.list_refund_requests(query(page, page_size))
        with ctx.counter_lock:
            ctx.pages += 1
        return answer

    next_page = first_page
    while True:
        ctx.ensure_time()
        batch = list(range(next_page, next_page + max(1, ctx.options.concurrency)))
        pages = [fetch(batch[0])] if len(batch) == 1 else list(ctx.pool.map(fetch, batch))
        filled: list[RefundPage] = []
        for page in pages:
            if not page.refunds and not page.quarantined:
                break
            filled.append(page)
        _store(ctx, reader, store, filled, seen)
        next_page = batch[0] + len(filled)
        on_progress(next_page)
        if len(filled) < len(pages):
            return


@dataclass
class _Seen:
    """What one run has seen already: a request read in both windows (or on two pages) counts once, and an order
    the platform does not know is asked for, and its requests quarantined, once."""

    refunds: set[str] = field(default_factory=set)
    unknown_orders: set[str] = field(default_factory=set)


def _store(ctx: RunContext, reader: RefundReader, store: RefundStore, pages: Sequence[RefundPage], seen: _Seen) -> None:
    requests: list[RefundRequest] = []
    for page in pages:
        ctx.quarantine(page.quarantined)
        for request in page.refunds:
            if request.refund_id not in seen.refunds:
                ctx.refunds_seen += 1
                seen.refunds.add(request.refund_id)
            if request.order_id not in seen.unknown_orders:
                requests.append(request)
    if not requests:
        return
    result = store.save_refunds(ctx.platform, requests, seen_at=ctx.now())
    ctx.summary = ctx.summary + result.summary
    for order_id in sorted(result.missing_order_ids):
        of_order = [request for request in requests if request.order_id == order_id]
        if not _store_unseen_order(ctx, reader, order_id, of_order):
            seen.unknown_orders.add(order_id)


def _store_unseen_order(ctx: RunContext, reader: RefundReader, order_id: str, requests: list[RefundRequest]) -> bool:
    """Refund requests of an order never stored: fetch the order by id and store it with them. ``False`` (the
    requests quarantined) when the order cannot be read."""
    if not isinstance(reader, OrderFetcher):
        _quarantine(ctx, requests, f"order {order_id} is not stored and the client cannot read one order")
        return False
    fetched_at = ctx.now()
    ctx.count_request()
    try:
        order = reader.fetch_order(order_id)
    except PermanentError as error:
        if error.status_code != 404:
            raise
        _quarantine(ctx, requests, f"order {order_id} of this refund request is unknown to the platform")
        return False
    logger.info("fetched the order of a refund request never seen", extra={"order_id": order_id})
    ctx.save([apply_refunds(order, incoming=requests)], observed_at=fetched_at)
    return True


def _quarantine(ctx: RunContext, requests: Sequence[RefundRequest], reason: str) -> None:
    ctx.quarantine(
        QuarantinedRecord(
            platform=ctx.platform, record_id=request.refund_id, reason=reason, raw=request.model_dump(mode="json")
        )
        for request in requests
    )
