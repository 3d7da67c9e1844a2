"""Bizon365: wire models: what the platform sends and what ordersync sends it.

Bizon365 (webinars, online courses): the ``getorders`` client, its payload models and its mapping to ``Order``.

Bizon365 has no order status: whether an order is unpaid, partially paid or paid is read from ``paid``,
``partialPaid`` and ``payments``. ``goods`` and ``coowners_reward`` arrive as JSON packed into strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import Any, Self
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from ordersync.errors import ValidationFailedError
from ordersync.models import (
    Platform,
    QuarantinedRecord,
)
from ordersync.platforms.http import RetryPolicy

PLATFORM = Platform.BIZON365
DEFAULT_RETRY = RetryPolicy()
MAX_LIMIT = 100
DEFAULT_DAYS = 14
"""What the platform uses when neither ``days`` nor dates are sent."""

RAW_PAID = "paid"
RAW_PARTIALLY_PAID = "partially_paid"
RAW_UNPAID = "unpaid"

_CURRENCY_ALIASES = {"RUR": "RUB"}


class Bizon365PaidFilter(IntEnum):
    """The documented codes of the ``paid`` query parameter."""

    ALL = -1
    UNPAID = 0  # unpaid, partially paid ones excluded
    PAID = 1  # fully paid
    RECURRING = 2  # recurring, from the second payment on (paid)
    PAID_NOT_RECURRING = 3
    UNPAID_OR_PARTIAL = 5


def iso_currency(code: str) -> str:
    """Bizon365 still says ``RUR``; ordersync speaks ISO 4217."""
    upper = code.strip().upper()
    return _CURRENCY_ALIASES.get(upper, upper)


def _decode_json_string(value: Any) -> Any:
    """Decode JSON packed into a string; an empty string means nothing. Already-decoded values pass."""
    if isinstance(value, str):
        if not value.strip():
            return None
        return json.loads(value)
    return value


# -- payload models ----------------------------------------------------------------------------------
class Bizon365Good(BaseModel):
    """One entry of ``goods``: what was ordered, at what price, how many."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="_id", min_length=1)
    price: Decimal
    cnt: int = Field(ge=0)

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Bizon365Payment(BaseModel):
    """One (pre)payment of a partially paid order."""

    model_config = ConfigDict(extra="allow")

    date: datetime | None = None
    amount: Decimal
    cur: str | None = None
    gate: str | None = None


class Bizon365Order(BaseModel):
    """One record of ``list``. Documented fields are typed; undocumented ones are kept (``extra="allow"``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="_id", min_length=1)
    firstname: str | None = None
    lastname: str | None = None
    middlename: str | None = None
    email: str | None = None
    phone: str | None = None
    goods: list[Bizon365Good] = Field(default_factory=list)
    title: str | None = None
    amount: Decimal
    currency: str = Field(pattern=r"^[A-Za-z]{3}$")
    amount_rur: Decimal | None = Field(default=None, alias="amount_RUR")
    gate: str | None = None
    ip: str | None = None
    channel: str | None = None
    partner: str | None = None
    partner2: str | None = None
    comment: str | None = None
    coupon: str | None = None
    pixel: str | None = None
    address: str | None = None
    city: str | None = None
    country_code: str | None = None
    hash: str | None = None
    created: datetime
    paid: bool
    partner_already_rewarded: int | bool | None = None
    appear: str | None = None
    referer: str | None = None
    utm: dict[str, Any] | None = None
    sup: str | None = None
    partner_reward: Decimal | None = None
    partner_reward_canceled: Decimal | bool | None = None
    partner2_reward: Decimal | None = None
    manager_reward: Decimal | None = None
    coowners_reward: dict[str, Any] | None = None
    profit_amount: Decimal | None = None
    tax: Decimal | None = None
    partial_paid: Decimal | None = Field(default=None, alias="partialPaid")
    partial_paid_rur: Decimal | None = Field(default=None, alias="partialPaid_RUR")
    payments: list[Bizon365Payment] = Field(default_factory=list)

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Self:
        """Keep the record exactly as received (``goods`` still a string) for ``Order.raw``."""
        model: Self = handler(data)
        if isinstance(data, Mapping):
            model._raw = dict(data)
        return model

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        """The doc shows ``_id`` as a number (100407); ordersync keys are strings."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("goods", mode="before")
    @classmethod
    def _decode_goods(cls, value: Any) -> Any:
        decoded = _decode_json_string(value)
        return [] if decoded is None else decoded

    @field_validator("coowners_reward", mode="before")
    @classmethod
    def _decode_coowners_reward(cls, value: Any) -> Any:
        decoded = _decode_json_string(value)
        # An empty array is how a JSON serialiser of an empty PHP-ish map often looks.
        return None if decoded in (None, []) else decoded

    @field_validator("payments", mode="before")
    @classmethod
    def _null_payments(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def raw(self) -> dict[str, Any]:
        return dict(self._raw)

    @property
    def paid_so_far(self) -> Decimal:
        """What the platform says has been paid, in the order's currency."""
        if self.paid:
            return self.amount
        if self.partial_paid is not None:
            return self.partial_paid
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def raw_status(self) -> str:
        """Bizon365 has no status field: ``paid``, ``partially_paid`` or ``unpaid``, derived as the design says."""
        if self.paid:
            return RAW_PAID
        if (self.partial_paid is not None and self.partial_paid > 0) or self.payments:
            return RAW_PARTIALLY_PAID
        return RAW_UNPAID


def _parse_loose_date(value: Any) -> Any:
    """The response echoes dates as ``DD.MM.YYYY``; accept ISO too, and nothing at all."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return datetime.strptime(text, "%d.%m.%Y").date()  # noqa: DTZ007 - a calendar date, no time
        except ValueError:
            return date.fromisoformat(text[:10])
    return value


class Bizon365OrdersResponse(BaseModel):
    """The ``getorders`` envelope. Records stay raw here so that one bad record cannot sink the page."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    skip: int = Field(ge=0)
    limit: int = Field(ge=0)
    total: int = Field(ge=0)
    records: list[Any] = Field(alias="list")
    date_begin: date | None = Field(default=None, alias="dateBegin")
    date_end: date | None = Field(default=None, alias="dateEnd")
    search: str | None = None

    @field_validator("date_begin", "date_end", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return _parse_loose_date(value)

    def parse_orders(self) -> tuple[list[Bizon365Order], list[QuarantinedRecord]]:
        """Validate each record on its own: the good ones, and the bad ones with the fields that failed."""
        orders: list[Bizon365Order] = []
        quarantined: list[QuarantinedRecord] = []
        for record in self.records:
            try:
                orders.append(Bizon365Order.model_validate(record))
            except ValidationError as error:
                quarantined.append(
                    QuarantinedRecord(
                        platform=PLATFORM, record_id=_record_id(record), reason=_describe(error), raw=record
                    )
                )
        return orders, quarantined


def _record_id(record: Any) -> str | None:
    if isinstance(record, Mapping) and record.get("_id") not in (None, ""):
        return str(record["_id"])
    return None


def _describe(error: ValidationError) -> str:
    """Name every failing field, e.g. ``amount: Input should be a valid decimal``."""
    parts = []
    for detail in error.errors(include_url=False):
        location = ".".join(str(part) for part in detail["loc"]) or "(record)"
        parts.append(f"{location}: {detail['msg']}")
    return "; ".join(parts)


# -- query -------------------------------------------------------------------------------------------
class Bizon365OrdersQuery(BaseModel):
    """Every documented ``getorders`` parameter, checked against the documented limits before sending.

    ``days`` takes priority over the dates on the platform; with neither, the platform uses 14 days.
    Zone-less dates are read in the client's configured zone.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    skip: int = Field(default=0, ge=0)
    limit: int = Field(default=MAX_LIMIT, ge=1, le=MAX_LIMIT)
    days: int | None = Field(default=None, ge=0)
    date_begin: datetime | None = None
    date_end: datetime | None = None
    paid: Bizon365PaidFilter | None = None
    free: bool = False
    search: str | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.date_begin is not None and self.date_end is not None:
            begin, end = self.date_begin, self.date_end
            if (begin.tzinfo is None) == (end.tzinfo is None) and begin > end:
                raise ValueError("date_begin must not be after date_end")
        return self

    def params(self, zone: ZoneInfo) -> dict[str, str]:
        """The query string: dates as loose ISO wall-clock times in ``zone``, defaults left out."""
        params: dict[str, str] = {"skip": str(self.skip), "limit": str(self.limit)}
        if self.days is not None:
            params["days"] = str(self.days)
        if self.date_begin is not None:
            params["dateBegin"] = _loose_iso(self.date_begin, zone)
        if self.date_end is not None:
            params["dateEnd"] = _loose_iso(self.date_end, zone, round_up=True)
        if self.paid is not None:
            params["paid"] = str(int(self.paid))
        if self.free:
            params["free"] = "1"
        if self.search:
            params["search"] = self.search
        return params


def _loose_iso(value: datetime, zone: ZoneInfo, *, round_up: bool = False) -> str:
    """Whole seconds of wall-clock time; an end is rounded up so that the range never loses an order."""
    local = value.astimezone(zone) if value.tzinfo is not None else value
    if round_up and local.microsecond:
        local += timedelta(seconds=1)
    return local.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds")


def build_query(**values: Any) -> Bizon365OrdersQuery:
    """A validated query; a broken documented limit raises ``ValidationFailedError`` naming the field."""
    try:
        return Bizon365OrdersQuery.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "query"
        message = first["msg"] if error.error_count() == 1 else _describe(error)
        raise ValidationFailedError(PLATFORM, field, message) from error
