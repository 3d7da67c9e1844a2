"""Refunds as first-class data: the pure rules that fold an order's refund requests into the order.

A platform that keeps refunds as their own resource (its profile's ``polls_refunds``) leaves a refunded order in
its fulfilled status; the refund poller reads the requests and every writer of the orders table folds them into
the order with ``apply_refunds``: the order carries a ``RefundSummary`` (every request, the approved amount, the
refunded tickets, the open requests) and its canonical status becomes ``refunded`` once approved requests cover
all its tickets, ``partially_refunded`` while they cover some. The platform's own ``raw_status`` is kept.

Nothing here talks to AWS or names a platform: the repository, the unit fakes and the tests share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from ordersync.models import Money, Order, OrderStatus, RefundRequest, RefundStatus, RefundSummary

REFUND_STATUSES = frozenset({OrderStatus.REFUNDED, OrderStatus.PARTIALLY_REFUNDED})


def newer(stored: RefundRequest, incoming: RefundRequest) -> RefundRequest:
    """Which of two readings of one request to keep: the later one, except that a decision (approved or
    rejected) is never undone by a reading from before it."""
    if not stored.status.is_open and incoming.status.is_open:
        return stored
    return incoming


def merge_requests(*groups: Iterable[RefundRequest]) -> tuple[RefundRequest, ...]:
    """The requests of every group, one per id (later groups win, see ``newer``), sorted by id."""
    merged: dict[str, RefundRequest] = {}
    for group in groups:
        for request in group:
            known = merged.get(request.refund_id)
            merged[request.refund_id] = request if known is None else newer(known, request)
    return tuple(merged[refund_id] for refund_id in sorted(merged))


def summarize(requests: Iterable[RefundRequest], currency: str) -> RefundSummary:
    """What the approved requests add up to, and which are still open."""
    every = merge_requests(requests)
    approved = [request for request in every if request.status is RefundStatus.APPROVED]
    return RefundSummary(
        refunded=Money(amount=sum((request.amount.amount for request in approved), Decimal(0)), currency=currency),
        refunded_ticket_ids=tuple(sorted({ticket for request in approved for ticket in request.ticket_ids})),
        open_requests=tuple(request.refund_id for request in every if request.status.is_open),
        requests=every,
    )


def platform_status(order: Order) -> OrderStatus:
    """The order's status before its refunds were folded in (a refund status only ever replaces ``fulfilled``)."""
    if order.refunds is not None and order.status in REFUND_STATUSES:
        return OrderStatus.FULFILLED
    return order.status


def refund_status(order: Order, summary: RefundSummary) -> OrderStatus:
    """``refunded`` when the approved requests cover every ticket of a fulfilled order (or, for an order
    without ticket lines, its whole total), ``partially_refunded`` when they cover some, else its own status."""
    status = platform_status(order)
    if status is not OrderStatus.FULFILLED or (not summary.refunded_ticket_ids and summary.refunded.amount <= 0):
        return status
    tickets = sum(item.quantity for item in order.items)
    if tickets > 0:
        covered = len(summary.refunded_ticket_ids) >= tickets
    else:
        covered = summary.refunded.amount >= order.total.amount
    return OrderStatus.REFUNDED if covered else OrderStatus.PARTIALLY_REFUNDED


def apply_refunds(order: Order, *known: RefundSummary | None, incoming: Iterable[RefundRequest] = ()) -> Order:
    """``order`` with its refunds folded in: the requests it carries, those of the ``known`` summaries (what is
    stored) and ``incoming`` ones, later ones winning by id. An order with no request at all is returned as is."""
    requests = merge_requests(
        *(summary.requests for summary in known if summary is not None),
        order.refunds.requests if order.refunds is not None else (),
        incoming,
    )
    if not requests:
        return order
    summary = summarize(requests, order.total.currency)
    return order.model_copy(update={"refunds": summary, "status": refund_status(order, summary)})
