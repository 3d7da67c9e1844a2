"""Bizon365: mapping of its wire models onto the canonical ``Order``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ordersync.models import (
    Customer,
    Money,
    Order,
    OrderItem,
    OrderStatus,
)
from ordersync.platforms.bizon365.models import (
    PLATFORM,
    RAW_PAID,
    RAW_PARTIALLY_PAID,
    RAW_UNPAID,
    Bizon365Good,
    Bizon365Order,
    iso_currency,
)

# -- mapping -----------------------------------------------------------------------------------------
_STATUS = {
    RAW_PAID: OrderStatus.FULFILLED,
    RAW_PARTIALLY_PAID: OrderStatus.PARTIALLY_PAID,
    RAW_UNPAID: OrderStatus.PENDING,
}


def to_order(payload: Bizon365Order, *, timezone: ZoneInfo | str = "Europe/Moscow") -> Order:
    """Map one Bizon365 record onto the canonical ``Order`` (zone-less times are read in ``timezone``)."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    currency = iso_currency(payload.currency)
    created = payload.created if payload.created.tzinfo is not None else payload.created.replace(tzinfo=zone)
    raw_status = payload.raw_status
    return Order(
        platform=PLATFORM,
        order_id=payload.id,
        number=payload.id,
        status=_STATUS[raw_status],
        raw_status=raw_status,
        created_at=created,
        total=Money(amount=payload.amount, currency=currency),
        paid=Money(amount=payload.paid_so_far, currency=currency),
        customer=_customer(payload),
        items=tuple(
            OrderItem(
                sku=good.id,
                name=_good_name(good),
                quantity=good.cnt,
                unit_price=Money(amount=good.price, currency=currency),
            )
            for good in payload.goods
        ),
        raw=payload.raw or payload.model_dump(mode="json", by_alias=True),
    )


def _customer(payload: Bizon365Order) -> Customer | None:
    names = [
        part.strip() for part in (payload.firstname, payload.middlename, payload.lastname) if part and part.strip()
    ]
    name = " ".join(names) or None
    email = payload.email or None
    phone = payload.phone or None
    if name is None and email is None and phone is None:
        return None
    return Customer(name=name, email=email, phone=phone)


def _good_name(good: Bizon365Good) -> str | None:
    extra = good.model_extra or {}
    for key in ("title", "name"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return None
