"""Ticketscloud: mapping of its wire models onto the canonical ``Order``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ordersync.errors import MalformedResponseError, ValidationFailedError
from ordersync.models import (
    Customer,
    Money,
    Order,
    OrderItem,
    OrderPage,
    QuarantinedRecord,
    RefundPage,
    RefundRequest,
)
from ordersync.platforms.ticketscloud.models import (
    MAX_PAGE_SIZE,
    PLATFORM,
    REFUND_STATUS_MAP,
    STATUS_MAP,
    TicketscloudOrder,
    TicketscloudOrderActions,
    TicketscloudOrderList,
    TicketscloudRefundList,
    TicketscloudRefundRequest,
    TicketscloudTicket,
    parse_platform_time,
)

# -- mapping ---------------------------------------------------------------------------------------------


class UnmappableOrderError(ValueError):
    """A record that validated but cannot be mapped (an unknown status): it is quarantined."""


def _money(amount: Decimal, currency: str) -> Money:
    return Money(amount=amount, currency="RUB" if currency == "RUR" else currency)


def to_order(
    payload: TicketscloudOrder,
    *,
    timezone: str | ZoneInfo = "Europe/Moscow",
    refs: Mapping[str, Any] | None = None,
    currency: str = "RUB",
    raw: Mapping[str, Any] | None = None,
) -> Order:
    """Map one platform order onto the canonical ``Order`` (status table in ``docs/design.md``)."""
    status = STATUS_MAP.get(payload.status)
    if status is None:
        raise UnmappableOrderError(f"status: unknown status {payload.status!r}")
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    total = _money(payload.values.full, currency)
    customer_data = payload.settings.customer
    customer = (
        Customer(name=customer_data.name, email=customer_data.email, phone=customer_data.phone, lang=customer_data.lang)
        if customer_data is not None
        else None
    )
    return Order(
        platform=PLATFORM,
        order_id=payload.id,
        number=str(payload.number),
        status=status,
        raw_status=payload.status,
        created_at=parse_platform_time(payload.created_at, zone),
        total=total,
        paid=total if payload.status == "done" else None,
        customer=customer,
        items=_items(payload.tickets, refs or {}, currency),
        raw=dict(raw) if raw is not None else payload.model_dump(mode="json"),
    )


def _items(tickets: Sequence[TicketscloudTicket], refs: Mapping[str, Any], currency: str) -> tuple[OrderItem, ...]:
    """One item per ticket set and price: the platform lists tickets one by one."""
    counts: dict[tuple[str, Decimal], int] = {}
    for ticket in tickets:
        counts[(ticket.set, ticket.full)] = counts.get((ticket.set, ticket.full), 0) + 1
    sets = refs.get("sets") if isinstance(refs.get("sets"), Mapping) else {}
    items = []
    for (set_id, price), quantity in counts.items():
        set_ref = sets.get(set_id) if isinstance(sets, Mapping) else None
        name = set_ref.get("name") if isinstance(set_ref, Mapping) and isinstance(set_ref.get("name"), str) else None
        items.append(OrderItem(sku=set_id, name=name, quantity=quantity, unit_price=_money(price, currency)))
    return tuple(items)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        field = ".".join(str(part) for part in item["loc"]) or "record"
        parts.append(f"{field}: {item['msg']}")
    return "; ".join(parts)


def parse_order_page(
    body: Any,
    *,
    timezone: str | ZoneInfo = "Europe/Moscow",
    currency: str = "RUB",
    page: int = 1,
    page_size: int = MAX_PAGE_SIZE,
) -> OrderPage:
    """Turn a list answer into an ``OrderPage``: a bad record is quarantined, a bad envelope is an error. Without
    ``pagination`` the page is the one asked for (``page``, ``page_size``) and its total is unknown."""
    try:
        envelope = TicketscloudOrderList.model_validate(body)
    except ValidationError as error:
        raise MalformedResponseError(PLATFORM, f"order list: {_reason(error)}", body=body) from error
    orders: list[Order] = []
    quarantined: list[QuarantinedRecord] = []
    for record in envelope.data:
        record_id = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
        try:
            payload = TicketscloudOrder.model_validate(record)
            orders.append(to_order(payload, timezone=timezone, refs=envelope.refs, currency=currency, raw=record))
        except ValidationError as error:
            quarantined.append(
                QuarantinedRecord(platform=PLATFORM, record_id=record_id, reason=_reason(error), raw=record)
            )
        except ValueError as error:  # an unknown status, or a time the validators let through
            quarantined.append(QuarantinedRecord(platform=PLATFORM, record_id=record_id, reason=str(error), raw=record))
    pagination = envelope.pagination
    if pagination is None:
        return OrderPage(
            platform=PLATFORM, orders=tuple(orders), quarantined=tuple(quarantined), page=page, page_size=page_size
        )
    return OrderPage(
        platform=PLATFORM,
        orders=tuple(orders),
        quarantined=tuple(quarantined),
        page=pagination.page,
        page_size=pagination.page_size,
        total=pagination.total,
        total_pages=math.ceil(pagination.total / pagination.page_size),
    )


def _revalidated(actions: TicketscloudOrderActions) -> TicketscloudOrderActions:
    """The actions checked again against the documented limits: ``model_copy(update=...)`` and ``model_construct``
    skip validation, and a limit broken that way must still be refused here rather than sent."""
    try:
        return TicketscloudOrderActions.model_validate(actions.model_dump(exclude_none=True))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "actions"
        raise ValidationFailedError(PLATFORM, field, _reason(error)) from error


# -- refund requests -------------------------------------------------------------------------------------


def to_refund_request(
    payload: TicketscloudRefundRequest, *, timezone: str | ZoneInfo = "Europe/Moscow", currency: str = "RUB"
) -> RefundRequest:
    """Map one refund request onto the canonical ``RefundRequest`` (its times in the platform's zone, like orders)."""
    status = REFUND_STATUS_MAP.get(payload.status)
    if status is None:
        raise UnmappableOrderError(f"status: unknown refund status {payload.status!r}")
    amount = payload.refund_nominal if payload.refund_nominal is not None else payload.delta
    if amount is None:
        raise UnmappableOrderError("refund_nominal: Field required (and no delta either)")
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    return RefundRequest(
        refund_id=payload.id,
        order_id=payload.order,
        status=status,
        culprit=payload.culprit,
        policy=payload.policy,
        amount=_money(amount, currency),
        ticket_ids=tuple(payload.tickets),
        created_at=parse_platform_time(payload.created_at, zone),
        requested_at=parse_platform_time(payload.requested_at, zone) if payload.requested_at else None,
        finished_at=parse_platform_time(payload.finished_at, zone) if payload.finished_at else None,
    )


def parse_refund_page(
    body: Any, *, page: int, page_size: int, timezone: str | ZoneInfo = "Europe/Moscow", currency: str = "RUB"
) -> RefundPage:
    """Turn a refund-request list answer into a ``RefundPage``: a bad record is quarantined, a bad envelope is an
    error. ``page``/``page_size`` are what was asked: the answer's ``pagination`` is not trusted."""
    try:
        envelope = TicketscloudRefundList.model_validate(body)
    except ValidationError as error:
        raise MalformedResponseError(PLATFORM, f"refund request list: {_reason(error)}", body=body) from error
    refunds: list[RefundRequest] = []
    quarantined: list[QuarantinedRecord] = []
    for record in envelope.data:
        record_id = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
        try:
            payload = TicketscloudRefundRequest.model_validate(record)
            refunds.append(to_refund_request(payload, timezone=timezone, currency=currency))
        except ValidationError as error:
            quarantined.append(
                QuarantinedRecord(platform=PLATFORM, record_id=record_id, reason=_reason(error), raw=record)
            )
        except ValueError as error:
            quarantined.append(QuarantinedRecord(platform=PLATFORM, record_id=record_id, reason=str(error), raw=record))
    return RefundPage(
        platform=PLATFORM, refunds=tuple(refunds), quarantined=tuple(quarantined), page=page, page_size=page_size
    )
