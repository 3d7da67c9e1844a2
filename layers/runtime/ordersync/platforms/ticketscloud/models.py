"""Ticketscloud: wire models: what the platform sends and what ordersync sends it.

Ticketscloud client: list orders, export them to e-mail, and PATCH one order.

Ticketscloud writes its times as zone-less wall-clock strings (Moscow time by the integrators' account), so
the zone is a setting and every time is stored in UTC. Money is a decimal string without a currency: RUB.

Event times are the exception: an event's ``lifetime.start`` and ``lifetime.finish`` (in ``refs.events``) are
zone-less **UTC**, shown by the platform in the venue's zone (``refs.events[id].timezone``). No mapping reads
them yet; one that does reads them with ``parse_event_time``, never with ``parse_platform_time``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from ordersync.models import (
    ContactText,
    Order,
    OrderStatus,
    Platform,
    RefundStatus,
    UtcDatetime,
)
from ordersync.platforms.http import RetryPolicy

PLATFORM = Platform.TICKETSCLOUD
MAX_PAGE_SIZE = 200
ORDERS_PATH = "/v2/resources/orders"
EXPORT_PATH = "/v2/resources/orders/export"
REFUND_REQUESTS_PATH = "/v2/resources/refund_requests"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # how the platform writes times
QUERY_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # how the docs' example writes the created_at filter
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # an open lower bound, sent explicitly
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # an open upper bound, sent explicitly
DEFAULT_RETRY = RetryPolicy()

STATUS_MAP: Mapping[str, OrderStatus] = {
    "executed": OrderStatus.PENDING,
    "in_progress": OrderStatus.PENDING,
    "done": OrderStatus.FULFILLED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,  # the older lifecycle docs' spelling
    "expired": OrderStatus.EXPIRED,
    "refunded": OrderStatus.REFUNDED,
}

# -- payload models (what the platform sends) ------------------------------------------------------------


class _Payload(BaseModel):
    """Tolerant of fields the docs do not list, strict about the ones ordersync relies on."""

    model_config = ConfigDict(extra="allow", frozen=True)


def parse_platform_time(value: str, zone: ZoneInfo) -> datetime:
    """Read a platform time: ``"YYYY-MM-DD HH:MM:SS"`` in ``zone``; an explicit offset, if ever sent, wins."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def parse_event_time(value: str) -> datetime:
    """Read an event time (``lifetime.start``/``finish``): zone-less UTC; an explicit offset, if ever sent, wins."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _check_time(value: str | None) -> str | None:
    if value is not None:
        datetime.fromisoformat(value)  # raises ValueError naming the bad value
    return value


class TicketscloudTicket(_Payload):
    id: str
    set: str
    status: str | None = None
    number: int | None = None
    barcode: str | None = None
    serial: str | None = None
    price: Decimal | None = None
    discount: Decimal | None = None
    extra: Decimal | None = None
    full: Decimal
    nominal: Decimal | None = None


class TicketscloudValues(_Payload):
    full: Decimal
    price: Decimal | None = None
    discount: Decimal | None = None
    extra: Decimal | None = None
    nominal: Decimal | None = None
    sets_values: dict[str, Any] = Field(default_factory=dict)
    viral_promocodes: list[Any] = Field(default_factory=list)


class TicketscloudCustomerData(_Payload):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    lang: str | None = None


class TicketscloudSettings(_Payload):
    customer: TicketscloudCustomerData | None = None
    send_tickets: bool | None = None
    invitation: bool | None = None
    subscribe_agree: bool | None = None


class TicketscloudVendorData(_Payload):
    order_id: str | None = None
    raw: dict[str, Any] | None = None  # the docs' own example holds booleans and numbers here


class TicketscloudOrder(_Payload):
    """One order as the platform sends it (list items and the ``data`` of a PATCH answer)."""

    id: str = Field(min_length=1)
    number: int
    status: str = Field(min_length=1)
    created_at: str
    expired_after: str | None = None
    done_at: str | None = None
    code: str | None = None
    event: str | None = None
    org: str | None = None
    vendor: str | None = None
    origin: str | None = None
    promocodes: list[str] = Field(default_factory=list)
    settings: TicketscloudSettings = Field(default_factory=TicketscloudSettings)
    tickets: list[TicketscloudTicket] = Field(default_factory=list)
    values: TicketscloudValues
    vendor_data: TicketscloudVendorData = Field(default_factory=TicketscloudVendorData)

    _times = field_validator("created_at", "expired_after", "done_at")(_check_time)


class TicketscloudPagination(_Payload):
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
    total: int = Field(ge=0)


class TicketscloudErrorItem(_Payload):
    code: str
    msg: str = ""


class TicketscloudOrderList(_Payload):
    """The envelope of a list answer; its orders are validated one by one so a bad one is quarantined.
    ``pagination`` can be missing live, or count only its page: it is a hint, never the end of the list."""

    data: list[Any]
    pagination: TicketscloudPagination | None = None
    refs: dict[str, Any] = Field(default_factory=dict)


class TicketscloudOrderEnvelope(_Payload):
    """The answer to a PATCH: the updated order, and promocode errors that do not change the ``200``."""

    data: TicketscloudOrder
    refs: dict[str, Any] = Field(default_factory=dict)
    errors: list[TicketscloudErrorItem] = Field(default_factory=list)


# -- refund requests (their own resource) ---------------------------------------------------------------

REFUND_STATUS_MAP: Mapping[str, RefundStatus] = {status.value: status for status in RefundStatus}
"""Its refund statuses are the canonical ones: ``new`` -> ``in_progress`` -> ``approved`` | ``rejected``."""


class TicketscloudRefundRequest(_Payload):
    """One refund request as the platform sends it. Times are zone-less wall-clock like the order times;
    ``refund_nominal`` is the amount refunded, ``delta`` its deprecated twin (read when the former is absent)."""

    id: str = Field(min_length=1)
    status: str = Field(min_length=1)
    order: str = Field(min_length=1)
    culprit: str | None = None
    policy: str | None = None
    created_at: str
    requested_at: str | None = None
    finished_at: str | None = None
    refund_nominal: Decimal | None = None
    delta: Decimal | None = None
    event: str | None = None
    org: str | None = None
    vendor: str | None = None
    tickets: list[str] = Field(default_factory=list)

    _times = field_validator("created_at", "requested_at", "finished_at")(_check_time)


class TicketscloudRefundList(_Payload):
    """The envelope of a refund-request list answer. ``pagination`` is a hint at most (read until an empty
    page), so it is neither required nor used."""

    data: list[Any]
    pagination: dict[str, Any] | None = None
    refs: dict[str, Any] = Field(default_factory=dict)


# -- request models (what ordersync sends) ---------------------------------------------------------------


class TicketscloudCustomer(BaseModel):
    """The ``customer`` action: any of the four fields; ``lang`` is ``en`` or ``ru``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: ContactText | None = Field(default=None, min_length=1)
    email: ContactText | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: ContactText | None = Field(default=None, min_length=1)
    lang: Literal["en", "ru"] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if all(value is None for _, value in self):
            raise ValueError("customer needs at least one of name, email, phone, lang")
        return self


RAW_MAX_KEYS = 20
RAW_MAX_KEY_LENGTH = 40
RAW_MAX_VALUE_LENGTH = 128
VENDOR_ORDER_ID_MAX_LENGTH = 64


def _raw_value(value: object) -> str:
    """The rule says every value is a string; the docs' example sends ``true`` and ``3``. Scalars are accepted
    and sent as strings, which satisfies both readings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise ValueError("must be a finite number (JSON has no NaN or Infinity)")
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise ValueError(f"must be a string (or a number or boolean), not {type(value).__name__}")


class TicketscloudVendorDataAction(BaseModel):
    """The ``vendor_data`` action with its documented limits."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    order_id: str | None = Field(default=None, max_length=VENDOR_ORDER_ID_MAX_LENGTH)
    raw: dict[str, str] | None = None

    @field_validator("raw", mode="before")
    @classmethod
    def _check_raw(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ValueError("raw must be an object")  # noqa: TRY004 - pydantic wants ValueError
        if len(value) > RAW_MAX_KEYS:
            raise ValueError(f"raw has {len(value)} keys, at most {RAW_MAX_KEYS} are allowed")
        checked: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or len(key) > RAW_MAX_KEY_LENGTH:
                raise ValueError(f"raw key {key!r} must be a string of 1 to {RAW_MAX_KEY_LENGTH} characters")
            try:
                text = _raw_value(item)
            except ValueError as error:
                raise ValueError(f"raw[{key!r}] {error}") from None
            if len(text) > RAW_MAX_VALUE_LENGTH:
                raise ValueError(f"raw[{key!r}] is {len(text)} characters, at most {RAW_MAX_VALUE_LENGTH}")
            checked[key] = text
        return checked

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.order_id is None and self.raw is None:
            raise ValueError("vendor_data needs order_id or raw")
        return self


class TicketscloudOrderActions(BaseModel):
    """Any combination of the four documented actions on one order, at least one; limits are checked here,
    before anything is sent. Field names are the API's, so the write-path API takes this as its body."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    customer: TicketscloudCustomer | None = None
    vendor_data: TicketscloudVendorDataAction | None = None
    send_tickets: StrictBool | None = Field(default=None, description="JSON true or false; nothing else")
    promocodes: list[str] | None = Field(default=None, min_length=1)

    @field_validator("promocodes")
    @classmethod
    def _codes_not_blank(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not code.strip() for code in value):
            raise ValueError("promocodes must not hold an empty code")
        return value

    @model_validator(mode="after")
    def _at_least_one(self) -> Self:
        if all(value is None for _, value in self):
            raise ValueError("at least one action is needed: customer, vendor_data, send_tickets or promocodes")
        return self

    def patch_body(self) -> dict[str, Any]:
        """The PATCH body: ``customer`` and ``send_tickets`` go under ``settings``, as the platform nests them."""
        body: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        if self.customer is not None:
            settings["customer"] = self.customer.model_dump(exclude_none=True)
        if self.send_tickets is not None:
            settings["send_tickets"] = self.send_tickets
        if settings:
            body["settings"] = settings
        if self.vendor_data is not None:
            body["vendor_data"] = self.vendor_data.model_dump(exclude_none=True)
        if self.promocodes is not None:
            body["promocodes"] = list(self.promocodes)
        return body


class TicketscloudOrderFilters(BaseModel):
    """Every documented list filter. Bounds are aware datetimes; they are sent in the platform's zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None
    statuses: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    only_with_customer: bool | None = None


class TicketscloudExportRequest(TicketscloudOrderFilters):
    """An export of the orders matching the filters, e-mailed by the platform to ``email``."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class TicketscloudPatchResult(BaseModel):
    """The updated order and the promocode errors the platform reported inside its ``200``."""

    model_config = ConfigDict(frozen=True)

    order: Order
    promocode_errors: tuple[TicketscloudErrorItem, ...] = ()
    raw: TicketscloudOrder | None = Field(default=None, description="The order as the platform sent it")


# -- the reseller's order lifecycle (live-behaviour.md): create, reservation, tariffs, finish, cancel, refunds ---

OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"
"""The shape of every Ticketscloud id (orders, events, sets, tickets, tariffs, refund requests)."""
ACTION_REFERENCE_KEY = "ordersync_action"
"""The ``vendor_data.raw`` key a create sets to its action id: a create whose outcome is unknown is looked up by it
among the event's recent orders, and never sent twice blindly."""
MAX_TICKETS_PER_REQUEST = 100

ObjectId = Annotated[str, Field(pattern=OBJECT_ID_PATTERN, description="A Ticketscloud id: 24 lowercase hex")]


class _Reservation(BaseModel):
    """Tickets to hold: ``tickets`` (seat ids) or ``random`` (``{set id: count}``), never both."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    tickets: list[ObjectId] | None = Field(
        default=None, min_length=1, max_length=MAX_TICKETS_PER_REQUEST, description="Ticket (seat) ids to hold"
    )
    random: dict[str, Annotated[int, Field(ge=1, le=MAX_TICKETS_PER_REQUEST)]] | None = Field(
        default=None, min_length=1, description="How many tickets of each set (no seats): `{set id: count}`"
    )

    @field_validator("tickets")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("tickets must not repeat a ticket id")
        return value

    @field_validator("random")
    @classmethod
    def _set_ids(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None:
            bad = [key for key in value if not re.fullmatch(OBJECT_ID_PATTERN, key)]
            if bad:
                raise ValueError(f"random: {bad[0]!r} is not a set id (24 lowercase hex)")
            if sum(value.values()) > MAX_TICKETS_PER_REQUEST:
                raise ValueError(f"random asks for more than {MAX_TICKETS_PER_REQUEST} tickets")
        return value

    @model_validator(mode="after")
    def _not_both(self) -> Self:
        if self.tickets is not None and self.random is not None:
            raise ValueError("give tickets or random, never both")
        return self

    def reservation_body(self) -> dict[str, Any]:
        if self.tickets is not None:
            return {"tickets": list(self.tickets)}
        if self.random is not None:
            return {"random": dict(self.random)}
        return {}


class TicketscloudCreateOrder(_Reservation):
    """``POST /v2/resources/orders``: a new order of ``event`` holding ``tickets`` or ``random`` (one is needed);
    ``all_or_nothing`` reserves all or none. ``vendor_data`` is the reseller's own reference, set in the same
    request."""

    event: ObjectId
    all_or_nothing: StrictBool | None = Field(default=None, description="JSON true or false: all tickets or none")
    vendor_data: TicketscloudVendorDataAction | None = None

    @model_validator(mode="after")
    def _some_tickets(self) -> Self:
        if self.tickets is None and self.random is None:
            raise ValueError("give tickets or random: an order reserves at least one ticket")
        if self.vendor_data is not None and ACTION_REFERENCE_KEY in (self.vendor_data.raw or {}):
            raise ValueError(f"vendor_data.raw.{ACTION_REFERENCE_KEY} is set by ordersync")
        if self.vendor_data is not None and len(self.vendor_data.raw or {}) >= RAW_MAX_KEYS:
            raise ValueError(f"vendor_data.raw: at most {RAW_MAX_KEYS - 1} keys (ordersync adds one)")
        return self

    def create_body(self, reference: str) -> dict[str, Any]:
        """The POST body, with ``reference`` (the action id) in ``vendor_data.raw``."""
        vendor = self.vendor_data.model_dump(exclude_none=True) if self.vendor_data else {}
        vendor["raw"] = dict(vendor.get("raw", {})) | {ACTION_REFERENCE_KEY: reference}
        body: dict[str, Any] = {"event": self.event, **self.reservation_body(), "vendor_data": vendor}
        if self.all_or_nothing is not None:
            body["all_or_nothing"] = self.all_or_nothing
        return body


class TicketscloudReservationChange(_Reservation):
    """``PATCH`` of the reservation: ``tickets`` or ``random`` is the whole desired state (every ticket that should
    stay), and ``tariffs`` (``{ticket id: tariff id}``); at least one."""

    tariffs: dict[str, str] | None = Field(default=None, min_length=1, description="`{ticket id: tariff id}`")

    @field_validator("tariffs")
    @classmethod
    def _tariff_ids(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            for ticket, tariff in value.items():
                if not re.fullmatch(OBJECT_ID_PATTERN, ticket) or not re.fullmatch(OBJECT_ID_PATTERN, tariff):
                    raise ValueError(f"tariffs: {ticket!r}: {tariff!r} must map a ticket id to a tariff id")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.tickets is None and self.random is None and self.tariffs is None:
            raise ValueError("give tickets, random or tariffs")
        return self

    def patch_body(self) -> dict[str, Any]:
        body = self.reservation_body()
        if self.tariffs is not None:
            body["tariffs"] = dict(self.tariffs)
        return body


class TicketscloudStatusChange(BaseModel):
    """Finish (``done``: the barcodes appear) or cancel (``cancelled``) an order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["done", "cancelled"]


class TicketscloudRefundCreate(BaseModel):
    """A refund request of some tickets of a ``done`` order (the order is the route's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    culprit: Literal["user", "org"]
    tickets: list[ObjectId] = Field(min_length=1, max_length=MAX_TICKETS_PER_REQUEST)
    requested_at: UtcDatetime | None = Field(default=None, description="When the buyer asked (default: now)")

    @field_validator("tickets")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("tickets must not repeat a ticket id")
        return value


class TicketscloudRefundDecision(BaseModel):
    """Approve or reject a refund request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["approved", "rejected"]


class TicketscloudRefundDecisionAction(TicketscloudRefundDecision):
    """The queued payload of a decision: the request's id (the route's) and the status."""

    refund_id: ObjectId
