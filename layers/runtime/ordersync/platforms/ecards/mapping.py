"""E-cards: mapping of its wire models onto the canonical ``Order``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ordersync.errors import (
    MalformedResponseError,
)
from ordersync.models import Customer, Money, Order, OrderPage, Platform, QuarantinedRecord
from ordersync.platforms.ecards.models import (
    CURRENCY,
    DEFAULT_TIMEZONE,
    STATUS_MAP,
    EcardsOrderListPayload,
    EcardsOrderPayload,
)

# -- mapping ----------------------------------------------------------------------------------------


def to_order(
    payload: EcardsOrderPayload,
    *,
    timezone: ZoneInfo | str = DEFAULT_TIMEZONE,
    raw: dict[str, Any] | None = None,
) -> Order:
    """The canonical order of one list record. Zone-less times are read in ``timezone``; ``raw`` is the record
    as received (its ``model_dump`` when not given)."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    return Order(
        platform=Platform.ECARDS,
        order_id=str(payload.id),
        number=str(payload.number),
        status=STATUS_MAP[payload.status],
        raw_status=payload.status.value,
        created_at=to_utc(payload.created_date, zone),
        total=Money(amount=payload.total, currency=CURRENCY),
        customer=_customer(payload.participant_login),
        raw=raw if raw is not None else payload.model_dump(mode="json", by_alias=True),
    )


def to_utc(value: datetime, zone: ZoneInfo) -> datetime:
    """A zone-less time is the platform's wall clock in ``zone``; an aware one is trusted as it is."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


_PLAIN_EMAIL = re.compile(r"^[^@\s]+@[^@\s_]+\.[A-Za-z]{2,}$")


def _customer(login: str | None) -> Customer | None:
    """``participantLogin`` is a login (the docs' example is ``sss@ss.ss_company``), not an address: it becomes
    the customer's e-mail only when it is a plain one. It always stays in ``raw``."""
    if login is not None and _PLAIN_EMAIL.match(login):
        return Customer(email=login)
    return None


def parse_page(body: Any, *, requested_page: int, timezone: ZoneInfo) -> OrderPage:
    """Map one list answer: good records become orders, bad ones are quarantined with the field that failed.

    A body without the envelope raises ``MalformedResponseError``: a broken answer is never an empty page.
    """
    try:
        envelope = EcardsOrderListPayload.model_validate(body)
        records = envelope.records
    except (ValidationError, ValueError) as error:
        raise MalformedResponseError(
            Platform.ECARDS, f"GET /v1/orders: unexpected list body ({_reason(error)})", body=_clip(body)
        ) from error
    orders: list[Order] = []
    quarantined: list[QuarantinedRecord] = []
    for record in records:
        try:
            orders.append(_map_record(record, timezone))
        except (ValidationError, TypeError) as error:
            quarantined.append(
                QuarantinedRecord(
                    platform=Platform.ECARDS, record_id=_record_id(record), reason=_reason(error), raw=record
                )
            )
    return OrderPage(
        platform=Platform.ECARDS,
        orders=tuple(orders),
        quarantined=tuple(quarantined),
        page=requested_page,
        page_size=envelope.page_size,
        total=None,
        total_pages=envelope.total_pages,
    )


def _map_record(record: Any, timezone: ZoneInfo) -> Order:
    if not isinstance(record, dict):
        raise TypeError(f"record is a {type(record).__name__}, not an object")
    return to_order(EcardsOrderPayload.model_validate(record), timezone=timezone, raw=record)


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or '<record>'}: {detail['msg']}"
            for detail in error.errors()
        )
    return str(error)


def _record_id(record: Any) -> str | None:
    if isinstance(record, dict):
        value = record.get("id")
        if isinstance(value, str | int) and str(value):
            return str(value)
    return None


def _clip(body: Any) -> Any:
    text = body if isinstance(body, str) else json.dumps(body, default=str, ensure_ascii=False)
    return text[:500]


# -- decoding -------------------------------------------------------------------------------------

_TRAILING_COMMA = re.compile(rb",(\s*)}\s*$")


def decode_json(content: bytes) -> Any:
    """JSON with its decimal numbers as ``Decimal``, so that totals never pass through binary floats."""
    return json.loads(content, parse_float=Decimal)


def decode_status_json(content: bytes) -> Any:
    """As ``decode_json``, also reading the docs' own example of a status, ``{"status": "Created",}``: a comma
    before the closing brace of the object, and nothing more lenient than that."""
    try:
        return decode_json(content)
    except json.JSONDecodeError:
        repaired = _TRAILING_COMMA.sub(rb"\1}", content)
        if repaired == content:
            raise
        return decode_json(repaired)
