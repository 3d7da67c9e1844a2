"""The e-gift-card platform ("ecards"): list pages, create an order with a client-made ``orderId``, read a status.

The platform has no filters and a constant page size of 20, its list is newest first and shifts while new orders
arrive, its times carry no zone, and its totals are JSON numbers that must not pass through binary floats. A create
is never repeated blindly: ``create_order_safely`` asks for the order's status before it sends again, and the
platform's idempotency on ``orderId`` covers a create still in flight.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ordersync.errors import (
    MalformedResponseError,
    OutcomeUnknownError,
    PermanentError,
    RetryableError,
    ValidationFailedError,
)
from ordersync.models import Customer, Money, Order, OrderPage, OrderStatus, Platform, QuarantinedRecord
from ordersync.platforms.base import DEFAULT_TIMEOUT, HttpTransport, ListQuery, RetryPolicy

PAGE_SIZE = 20
"""The platform's constant page size (``pageSize`` in every list answer)."""

CURRENCY = "RUB"
"""The platform sells in roubles only; its totals carry no currency."""

DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_RETRY = RetryPolicy()


class EcardsStatus(StrEnum):
    """The platform's order statuses, spelled as it spells them (``Payed`` included)."""

    CREATED = "Created"
    PAYED = "Payed"
    READY_FOR_DELIVERY = "ReadyForDelivery"
    PARTIALLY_DELIVERED = "PartiallyDelivered"
    AWAITING_CERTIFICATE_ASSIGNMENT = "AwaitingCertificateAssignment"
    DELIVERED = "Delivered"
    CANCELLED = "Cancelled"


STATUS_MAP: dict[EcardsStatus, OrderStatus] = {
    EcardsStatus.CREATED: OrderStatus.PENDING,
    EcardsStatus.PAYED: OrderStatus.PAID,
    EcardsStatus.READY_FOR_DELIVERY: OrderStatus.PAID,
    EcardsStatus.PARTIALLY_DELIVERED: OrderStatus.PAID,
    EcardsStatus.AWAITING_CERTIFICATE_ASSIGNMENT: OrderStatus.PAID,
    EcardsStatus.DELIVERED: OrderStatus.FULFILLED,
    EcardsStatus.CANCELLED: OrderStatus.CANCELLED,
}
"""The canonical status of each platform status (the table in ``docs/design.md``)."""


class OrderNotFoundError(PermanentError):
    """The platform does not know the order (``404`` on its status)."""


# -- payloads the platform sends ------------------------------------------------------------------


class EcardsOrderPayload(BaseModel):
    """One order of the list. Fields the docs do not list are kept, not rejected."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: UUID
    number: int = Field(ge=0)
    created_date: datetime = Field(alias="createdDate", description="Zone-less in the docs: platform wall clock")
    status: EcardsStatus
    participant_login: str | None = Field(default=None, alias="participantLogin")
    total: Decimal = Field(ge=0)


class EcardsOrderListPayload(BaseModel):
    """The list envelope. The docs' table calls the array ``orders`` and their example ``data``: both are read."""

    model_config = ConfigDict(extra="allow", frozen=True)

    orders: list[Any] | None = None
    data: list[Any] | None = None
    total_pages: int = Field(alias="totalPages", ge=0)
    current_page: int = Field(alias="currentPage", ge=0)
    page_size: int = Field(alias="pageSize", ge=1)

    @property
    def records(self) -> list[Any]:
        if self.orders is not None:
            return self.orders
        if self.data is not None:
            return self.data
        raise ValueError("neither 'orders' nor 'data' holds the order array")


class EcardsStatusPayload(BaseModel):
    """The body of ``GET /v1/orders/{id}/status``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: EcardsStatus


# -- what ordersync sends ---------------------------------------------------------------------------


class EcardsParticipant(BaseModel):
    """Who receives the cards. The platform requires all three fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=32)


class EcardsCardLine(BaseModel):
    """One kind of card in a create. ``id`` is an int32 in the docs' table and a string in their example:
    numeric strings are accepted and sent as numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    id: int = Field(ge=0, le=2**31 - 1)
    quantity: int = Field(ge=1, le=2**31 - 1)
    face_value: str = Field(alias="faceValue", min_length=1, max_length=64, examples=["100 ₽"])


class EcardsCreateOrderRequest(BaseModel):
    """The body of ``POST /v1/orders``; the write path's API takes the same model. Without ``orderId`` one is made
    (uuid4) before sending, and the result says which."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    order_id: UUID | None = Field(default=None, alias="orderId")
    participant: EcardsParticipant
    ecards: list[EcardsCardLine] = Field(min_length=1, max_length=100)

    def with_order_id(self) -> tuple[EcardsCreateOrderRequest, UUID]:
        """This request with its ``orderId`` fixed (so that every resend carries the same one), and that id."""
        if self.order_id is not None:
            return self, self.order_id
        order_id = new_order_id()
        return self.model_copy(update={"order_id": order_id}), order_id

    def to_body(self) -> dict[str, Any]:
        """The JSON body, with the platform's field names."""
        body: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return body


def new_order_id() -> UUID:
    """A fresh client-made order id, as the platform requires."""
    return uuid.uuid4()


class EcardsCreateResult(BaseModel):
    """How a create ended: always with the order's id, known to exist on the platform."""

    model_config = ConfigDict(frozen=True)

    order_id: UUID
    sends: int = Field(ge=1, description="How many times the create was sent")
    confirmed_by_status: bool = Field(
        default=False, description="The create's answer was lost and the status read proved the order exists"
    )
    raw_status: str | None = Field(default=None, description="The status read, when one was")
    body: Any = Field(default=None, description="The platform's answer to the create (its shape is undocumented)")


class EcardsOrderStatus(BaseModel):
    """One order's status: the platform's own word and the canonical one."""

    model_config = ConfigDict(frozen=True)

    order_id: UUID
    raw_status: str
    status: OrderStatus

    @property
    def is_final(self) -> bool:
        return self.status.is_final


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


# -- the client -------------------------------------------------------------------------------------


class EcardsClient:
    """The e-cards platform: ``Authorization: Bearer <token>``, pages of 20, no filters."""

    platform = Platform.ECARDS
    max_page_size = PAGE_SIZE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        """``http_client``, when given, is used as it is: it must carry the base URL and the headers itself."""
        self.timezone = ZoneInfo(timezone)
        self._retry = retry
        self._sleep = sleep
        self._transport = HttpTransport(
            Platform.ECARDS,
            base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            http_client=http_client,
        )

    @property
    def requests_sent(self) -> int:
        return self._transport.requests_sent

    def list_orders(self, query: ListQuery) -> OrderPage:
        """One page, newest first. The platform has no filters and a fixed page size: the query's page is used and
        everything else in it ignored. Pages shift while orders arrive, so a poll must expect repeats."""
        if query.page < 1 or query.page > 2**31 - 1:
            raise ValidationFailedError(Platform.ECARDS, "page", "must be an int32 of at least 1")
        body = self._transport.request("GET", "/v1/orders", params={"page": query.page}, decode=decode_json)
        return parse_page(body, requested_page=query.page, timezone=self.timezone)

    def get_order_status(self, order_id: UUID | str) -> EcardsOrderStatus:
        """The order's current status; ``OrderNotFoundError`` when the platform does not know the order."""
        order_uuid = _as_uuid(order_id)
        path = f"/v1/orders/{order_uuid}/status"
        try:
            body = self._transport.request("GET", path, decode=decode_status_json)
        except PermanentError as error:
            if error.status_code == 404:
                raise OrderNotFoundError(
                    Platform.ECARDS, f"GET {path}: order not found", status_code=404, body=error.body
                ) from error
            raise
        try:
            payload = EcardsStatusPayload.model_validate(body)
        except ValidationError as error:
            raise MalformedResponseError(
                Platform.ECARDS, f"GET {path}: unexpected status body ({_reason(error)})", body=_clip(body)
            ) from error
        return EcardsOrderStatus(
            order_id=order_uuid, raw_status=payload.status.value, status=STATUS_MAP[payload.status]
        )

    def create_order(self, request: EcardsCreateOrderRequest) -> EcardsCreateResult:
        """Send the create once. A lost answer raises ``OutcomeUnknownError`` and a 429/5xx ``RetryableError``: the
        order may exist either way, so use ``create_order_safely`` to send again."""
        fixed, order_id = request.with_order_id()
        body = self._transport.request(
            "POST", "/v1/orders", json=fixed.to_body(), retry_safe=False, expect_json=False, decode=decode_json
        )
        return EcardsCreateResult(order_id=order_id, sends=1, body=body)

    def create_order_safely(
        self, request: EcardsCreateOrderRequest, *, attempts: int | None = None
    ) -> EcardsCreateResult:
        """Create the order exactly once. After a failure that may hide a success, the order's status is read; the
        create is sent again (same ``orderId``) only when the platform answers that it does not know the order.
        When the status cannot be read, ``OutcomeUnknownError`` is raised rather than risking a second order."""
        fixed, order_id = request.with_order_id()
        limit = attempts if attempts is not None else self._retry.attempts
        if limit < 1:
            raise ValueError("attempts must be at least 1")
        for send in range(1, limit + 1):
            try:
                result = self.create_order(fixed)
            except RetryableError as error:
                try:
                    status = self.get_order_status(order_id)
                except OrderNotFoundError:
                    if send >= limit or not self._retry.waits_out(error.retry_after):
                        raise error from None
                    self._sleep(self._retry.delay(send, error.retry_after))
                    continue
                except RetryableError as status_error:
                    raise OutcomeUnknownError(
                        Platform.ECARDS,
                        f"create of {order_id}: outcome unknown and its status unreadable ({status_error.message})",
                        status_code=error.status_code,
                        body=error.body,
                    ) from error
                return EcardsCreateResult(
                    order_id=order_id, sends=send, confirmed_by_status=True, raw_status=status.raw_status
                )
            return result.model_copy(update={"sends": send})
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _as_uuid(order_id: UUID | str) -> UUID:
    if isinstance(order_id, UUID):
        return order_id
    try:
        return UUID(order_id)
    except ValueError as error:
        raise ValidationFailedError(Platform.ECARDS, "order_id", f"not a uuid: {order_id!r}") from error
