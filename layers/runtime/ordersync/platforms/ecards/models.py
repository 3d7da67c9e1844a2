"""E-cards: wire models: what the platform sends and what ordersync sends it.

The e-gift-card platform ("ecards"): list pages, create an order with a client-made ``orderId``, read a status.

The platform has no filters and a constant page size of 20, its list is newest first and shifts while new orders
arrive, its times carry no zone, and its totals are JSON numbers that must not pass through binary floats. A create
is never repeated blindly: ``create_order_safely`` asks for the order's status before it sends again, and the
platform's idempotency on ``orderId`` covers a create still in flight.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, WithJsonSchema

from ordersync import errors
from ordersync.models import ContactText, OrderStatus
from ordersync.platforms.http import RetryPolicy

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


class OrderNotFoundError(errors.OrderNotFoundError):
    """The platform does not know the order (``404`` on its status): ``ordersync.errors.OrderNotFoundError``."""


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

    email: ContactText = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: ContactText = Field(min_length=1, max_length=200)
    phone: ContactText = Field(min_length=1, max_length=32)


def _not_a_boolean(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true/false would pass as 1/0
        raise ValueError("must be a number, not true or false")  # noqa: TRY004 (pydantic reports ValueError)
    return value


CardId = Annotated[
    int,
    BeforeValidator(_not_a_boolean),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                {"type": "string", "pattern": "^[0-9]{1,10}$", "description": "a numeric string, sent as a number"},
            ],
            "title": "Id",
        }
    ),
]
"""An e-card id: an int32, or its digits as a string (the platform's own example sends one)."""


class EcardsCardLine(BaseModel):
    """One kind of card in a create. ``id`` is an int32 in the docs' table and a string in their example:
    numeric strings are accepted and sent as numbers."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, allow_inf_nan=False
    )

    id: CardId = Field(ge=0, le=2**31 - 1)
    quantity: StrictInt = Field(ge=1, le=2**31 - 1)
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
