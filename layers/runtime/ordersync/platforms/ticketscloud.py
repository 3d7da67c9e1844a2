"""Ticketscloud client: list orders, export them to e-mail, and PATCH one order.

Ticketscloud writes its times as zone-less wall-clock strings (Moscow time by the integrators' account), so
the zone is a setting and every time is stored in UTC. Money is a decimal string without a currency: RUB.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ordersync.errors import MalformedResponseError, OutcomeUnknownError, ValidationFailedError
from ordersync.models import (
    Customer,
    Money,
    Order,
    OrderItem,
    OrderPage,
    OrderStatus,
    Platform,
    QuarantinedRecord,
    UtcDatetime,
)
from ordersync.platforms.base import DEFAULT_TIMEOUT, HttpTransport, ListQuery, RetryPolicy

PLATFORM = Platform.TICKETSCLOUD
MAX_PAGE_SIZE = 200
ORDERS_PATH = "/v2/resources/orders"
EXPORT_PATH = "/v2/resources/orders/export"
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
    """The envelope of a list answer; its orders are validated one by one so a bad one is quarantined."""

    data: list[Any]
    pagination: TicketscloudPagination
    refs: dict[str, Any] = Field(default_factory=dict)


class TicketscloudOrderEnvelope(_Payload):
    """The answer to a PATCH: the updated order, and promocode errors that do not change the ``200``."""

    data: TicketscloudOrder
    refs: dict[str, Any] = Field(default_factory=dict)
    errors: list[TicketscloudErrorItem] = Field(default_factory=list)


# -- request models (what ordersync sends) ---------------------------------------------------------------


class TicketscloudCustomer(BaseModel):
    """The ``customer`` action: any of the four fields; ``lang`` is ``en`` or ``ru``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, min_length=1)
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
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise ValueError(f"must be a string (or a number or boolean), not {type(value).__name__}")


class TicketscloudVendorDataAction(BaseModel):
    """The ``vendor_data`` action with its documented limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: TicketscloudCustomer | None = None
    vendor_data: TicketscloudVendorDataAction | None = None
    send_tickets: bool | None = None
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
) -> OrderPage:
    """Turn a list answer into an ``OrderPage``: a bad record is quarantined, a bad envelope is an error."""
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


# -- the client ------------------------------------------------------------------------------------------


class TicketscloudClient:
    """Ticketscloud behind ``PlatformClient``, plus its own actions (export, PATCH)."""

    platform = PLATFORM
    max_page_size = MAX_PAGE_SIZE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timezone: str = "Europe/Moscow",
        currency: str = "RUB",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.currency = currency
        self.transport = HttpTransport(
            PLATFORM,
            base_url,
            headers={"Authorization": f"key {token}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            http_client=http_client,
        )

    # -- reading ---------------------------------------------------------------------------------------
    def list_orders(self, query: ListQuery) -> OrderPage:
        """The poller's entry: ``query.extra`` may carry ``events`` (comma-joined) and ``only_with_customer``."""
        events = tuple(part for part in query.extra.get("events", "").split(",") if part)
        only = query.extra.get("only_with_customer")
        filters = TicketscloudOrderFilters(
            created_from=query.created_from,
            created_to=query.created_to,
            statuses=query.raw_statuses,
            events=events,
            only_with_customer=None if only is None else only.strip().lower() in ("true", "1", "yes"),
        )
        page_size = MAX_PAGE_SIZE if query.page_size is None else query.page_size
        return self.search_orders(filters, page=query.page, page_size=page_size)

    def search_orders(
        self, filters: TicketscloudOrderFilters, *, page: int = 1, page_size: int = MAX_PAGE_SIZE
    ) -> OrderPage:
        """One page of orders matching every given filter. Retried when safe: a list read changes nothing."""
        if page < 1:
            raise ValidationFailedError(PLATFORM, "page", f"must be at least 1, not {page}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailedError(PLATFORM, "page_size", f"must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        params = self._filter_params(filters) | {"page": str(page), "page_size": str(page_size)}
        body = self.transport.request("GET", ORDERS_PATH, params=params)
        return parse_order_page(body, timezone=self.zone, currency=self.currency)

    def _filter_params(self, filters: TicketscloudOrderFilters) -> dict[str, str]:
        params: dict[str, str] = {}
        if filters.created_from is not None or filters.created_to is not None:
            params["created_at"] = self.created_at_range(filters.created_from, filters.created_to)
        if filters.statuses:
            params["status"] = ",".join(filters.statuses)
        if filters.events:
            params["events"] = ",".join(filters.events)
        if filters.only_with_customer is not None:
            params["only_with_customer"] = "true" if filters.only_with_customer else "false"
        return params

    def created_at_range(self, start: datetime | None, end: datetime | None) -> str:
        """``from,to`` as the docs' example writes it, in the platform's zone, whole seconds that still cover
        both bounds; an open side is sent as a far bound, since the docs show only closed ranges."""
        low = (start or EARLIEST).astimezone(self.zone).replace(microsecond=0)
        high = (end or LATEST).astimezone(self.zone)
        if high.microsecond:
            high = high.replace(microsecond=0) + timedelta(seconds=1)
        return f"{low.strftime(QUERY_TIME_FORMAT)},{high.strftime(QUERY_TIME_FORMAT)}"

    # -- actions ---------------------------------------------------------------------------------------
    def export_orders(self, request: TicketscloudExportRequest) -> None:
        """Ask the platform to e-mail an export of the matching orders.

        The docs' heading says GET with query parameters, their example sends POST with JSON. POST is used: the
        example is a concrete request, and an e-mail address belongs in a body, not in URLs that proxies log.
        Retried like a read: the worst a repeat can do is send a second e-mail.
        """
        body: dict[str, Any] = {"email": request.email}
        if request.created_from is not None or request.created_to is not None:
            body["created_at"] = self.created_at_range(request.created_from, request.created_to)
        if request.statuses:
            body["status"] = list(request.statuses)
        if request.events:
            body["events"] = list(request.events)
        if request.only_with_customer is not None:
            body["only_with_customer"] = request.only_with_customer
        self.transport.request("POST", EXPORT_PATH, json=body, expect_json=False)

    def patch_order(self, order_id: str, actions: TicketscloudOrderActions) -> TicketscloudPatchResult:
        """Apply ``actions`` to one order with a single PATCH, sent exactly once.

        The platform answers ``409`` while an earlier change of the same order is still being processed: that
        change was not applied, and the caller (the queue worker, one order per FIFO group) retries it later, so
        the transport does not. A 409, 429 or 5xx raises ``RetryableError`` with its status code; a lost answer
        (timeout, dropped connection, unreadable 200) raises ``OutcomeUnknownError``: the change may have been
        applied. ``400`` (for example on a ``done`` order) raises ``PermanentError`` with the platform's
        ``errors`` body. Promocode errors come inside the ``200`` and are returned, never swallowed.
        """
        if not order_id or "/" in order_id:
            raise ValidationFailedError(PLATFORM, "order_id", f"not a usable order id: {order_id!r}")
        checked = _revalidated(actions)
        path = f"{ORDERS_PATH}/{order_id}"
        try:
            body = self.transport.request("PATCH", path, json=checked.patch_body(), retry_safe=False)
        except MalformedResponseError as error:
            raise OutcomeUnknownError(
                PLATFORM, f"PATCH {path}: answered with a body that is not JSON", status_code=error.status_code
            ) from error
        try:
            envelope = TicketscloudOrderEnvelope.model_validate(body)
            order = to_order(envelope.data, timezone=self.zone, refs=envelope.refs, currency=self.currency)
        except ValueError as error:  # ValidationError is a ValueError too
            reason = _reason(error) if isinstance(error, ValidationError) else str(error)
            raise OutcomeUnknownError(PLATFORM, f"PATCH {path}: unreadable answer ({reason})", body=body) from error
        return TicketscloudPatchResult(order=order, promocode_errors=tuple(envelope.errors))

    # -- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
