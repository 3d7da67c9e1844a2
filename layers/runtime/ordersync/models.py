"""The canonical order model every platform maps onto.

Everything downstream (the orders table, change events, the API) speaks this model only, so a
platform's quirks stay inside its own module in ``ordersync.platforms``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class Platform(StrEnum):
    """Platform ids: the same in keys, routes, events, CLI options and metrics."""

    TICKETSCLOUD = "ticketscloud"
    BIZON365 = "bizon365"
    ECARDS = "ecards"


class OrderStatus(StrEnum):
    """Canonical order status. The platform's own status is kept beside it as ``raw_status``."""

    PENDING = "pending"  # created, waiting for payment
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"  # paid, still being fulfilled
    FULFILLED = "fulfilled"  # paid and delivered / done
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"  # approved refunds cover every ticket (or the platform says so)
    PARTIALLY_REFUNDED = "partially_refunded"  # fulfilled, with approved refunds of some of its tickets

    @property
    def is_final(self) -> bool:
        """A final status is not read again by the status poller. A fulfilled order can still be refunded, but
        refunds reach it through its platform's refund requests (``sync.refunds``), not through its status."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {
        OrderStatus.FULFILLED,
        OrderStatus.CANCELLED,
        OrderStatus.EXPIRED,
        OrderStatus.REFUNDED,
        OrderStatus.PARTIALLY_REFUNDED,
    }
)


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are rejected, never guessed."""


CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (and DEL): never part of a name, an e-mail address or a phone number."""


def _no_control_characters(value: str) -> str:
    found = CONTROL_CHARACTERS.search(value)
    if found is not None:
        raise ValueError(f"must not hold control characters (U+{ord(found.group()):04X} at {found.start()})")
    return value


ContactText = Annotated[str, AfterValidator(_no_control_characters)]
"""A customer's name, e-mail address or phone as a request carries it: any text but control characters."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Money(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217 code, e.g. RUB")


class Customer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    lang: str | None = None


class OrderItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(description="The platform's id of what was sold (ticket set, good, e-card id)")
    name: str | None = None
    quantity: int = Field(ge=0)
    unit_price: Money | None = None


class RefundStatus(StrEnum):
    """A refund request's lifecycle: ``new`` -> ``in_progress`` -> ``approved`` | ``rejected``."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (RefundStatus.NEW, RefundStatus.IN_PROGRESS)


class RefundRequest(BaseModel):
    """One refund request of one order, as a platform with refunds as their own resource reports it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    refund_id: str = Field(min_length=1, description="The platform's id of the refund request")
    order_id: str = Field(min_length=1, description="The platform's id of the refunded order")
    status: RefundStatus
    culprit: str | None = Field(default=None, description="Who caused it, as the platform says (user, org)")
    policy: str | None = Field(default=None, description="The refund policy applied, as the platform says")
    amount: Money = Field(description="The amount refunded (or asked to be) to the buyer")
    ticket_ids: tuple[str, ...] = Field(default=(), description="The ids of the refunded tickets")
    created_at: UtcDatetime
    requested_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = Field(default=None, description="When it was approved or rejected")


class RefundSummary(BaseModel):
    """An order's refunds: every request known, and what the approved ones add up to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    refunded: Money = Field(description="The sum of the approved requests' amounts")
    refunded_ticket_ids: tuple[str, ...] = Field(default=(), description="Tickets of approved requests, sorted")
    open_requests: tuple[str, ...] = Field(default=(), description="Ids of the requests not yet decided, sorted")
    requests: tuple[RefundRequest, ...] = Field(default=(), description="Every request known, by id")


class Order(BaseModel):
    """One order of one platform, in ordersync's canonical shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    order_id: str = Field(min_length=1, description="The platform's id of the order")
    number: str | None = Field(default=None, description="The human-facing order number, if the platform has one")
    status: OrderStatus
    raw_status: str = Field(description="The platform's own status string, unchanged")
    created_at: UtcDatetime
    total: Money
    paid: Money | None = Field(default=None, description="What has been paid so far, where the platform says")
    customer: Customer | None = None
    items: tuple[OrderItem, ...] = ()
    refunds: RefundSummary | None = Field(
        default=None, description="Its refund requests and what they add up to; absent while it has none"
    )
    raw: dict[str, Any] = Field(default_factory=dict, description="The platform's payload, as received")

    @property
    def key(self) -> str:
        """The order's identity across ordersync: the same platform order is always the same key."""
        return order_key(self.platform, self.order_id)


def order_key(platform: Platform, order_id: str) -> str:
    return f"{platform.value}#{order_id}"


class QuarantinedRecord(BaseModel):
    """A platform record that failed validation: kept, counted and logged, never turned into a wrong order."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    record_id: str | None = Field(default=None, description="The record's id, if one could be read")
    reason: str
    raw: Any = None


class OrderPage(BaseModel):
    """One page of a platform's order list, already mapped onto canonical orders."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    orders: tuple[Order, ...]
    quarantined: tuple[QuarantinedRecord, ...] = ()
    page: int = Field(ge=1, description="1-based page number")
    page_size: int = Field(ge=1)
    total: int | None = Field(default=None, description="Records matching the query, when the platform says")
    total_pages: int | None = None


class RefundPage(BaseModel):
    """One page of a platform's refund-request list, already mapped onto ``RefundRequest``."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    refunds: tuple[RefundRequest, ...]
    quarantined: tuple[QuarantinedRecord, ...] = ()
    page: int = Field(ge=1, description="1-based page number")
    page_size: int = Field(ge=1)
