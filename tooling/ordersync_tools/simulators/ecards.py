"""A simulator of the e-gift-card platform, as its docs describe it.

Newest first, 20 a page, ``totalPages`` recomputed on every request; new orders can arrive before each list request
is answered, so page 2 repeats the end of page 1 as on the real platform. Every order follows a seeded status
schedule on the simulator's clock. Creates are idempotent on the client's ``orderId``.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from ordersync.models import Platform
from ordersync_tools.simulators.base import HttpError, PlatformSimulator, Request, Response, SimClock

DEFAULT_TOKEN = "ecards-sim-token"  # noqa: S105 - the simulator's public test token
PAGE_SIZE = 20
INT32_MAX = 2**31 - 1
FIRST_NUMBER = 3000
FINAL_STATUSES = frozenset({"Delivered", "Cancelled"})

_FACE_VALUES = (500, 1000, 1500, 2000, 3000, 5000, 10000)
_NAMES = ("ivan", "olga", "petr", "anna", "sergey", "maria", "dmitry", "elena", "alexey", "natalia")
_DOMAINS = ("example.ru", "mail.example", "corp.example")
_COMPANY = "company"
_DISCOUNTS = (Decimal("0.033"), Decimal("0.075"), Decimal("0.127"))


@dataclass(frozen=True)
class CardLine:
    id: int
    quantity: int
    face_value: str


@dataclass(frozen=True)
class EcardsSimOrder:
    """One order as the simulator holds it; its status is a function of time."""

    id: UUID
    number: int
    created_at: datetime
    participant_login: str
    total: Decimal
    schedule: tuple[tuple[timedelta, str], ...]  # (offset from created_at, status from then on), ascending
    ecards: tuple[CardLine, ...] = ()
    participant: dict[str, str] | None = None  # set for orders created through the API
    created_via_api: bool = False

    def status_at(self, now: datetime) -> str:
        status = self.schedule[0][1]
        for offset, next_status in self.schedule:
            if now >= self.created_at + offset:
                status = next_status
        return status

    def final_at(self) -> datetime:
        """When the order reaches its final status."""
        return self.created_at + self.schedule[-1][0]


@dataclass
class _ErrorList:
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.errors.append({"code": "validation_error", "field": field_name, "msg": message})


class EcardsSimulator(PlatformSimulator):
    """``GET /v1/orders?page=N``, ``POST /v1/orders``, ``GET /v1/orders/{id}/status`` behind a Bearer token."""

    platform = Platform.ECARDS

    def __init__(
        self,
        *,
        orders: int = 100,
        seed: int = 1,
        token: str = DEFAULT_TOKEN,
        clock: SimClock | None = None,
        array_key: str = "orders",
        arrivals_per_request: float = 0.0,
        status_trailing_comma: bool = False,
        timezone: str = "Europe/Moscow",
        live: bool = True,
    ) -> None:
        """``live`` is accepted like the other simulators': no live behaviour beyond the e-cards doc is known."""
        if array_key not in ("orders", "data"):
            raise ValueError("array_key must be 'orders' or 'data'")
        if orders < 0 or arrivals_per_request < 0:
            raise ValueError("orders and arrivals_per_request must not be negative")
        super().__init__(seed=seed, clock=clock, live=live)
        self.token = token
        self.array_key = array_key
        self.arrivals_per_request = arrivals_per_request
        self.status_trailing_comma = status_trailing_comma
        self.zone = ZoneInfo(timezone)
        self._orders: dict[UUID, EcardsSimOrder] = {}
        self._arrival_credit = 0.0
        self._next_number = FIRST_NUMBER
        self._newest: datetime | None = None
        self._lost_create_answers = 0
        self._lost_answer_hold = 0.0
        self._failing_creates: list[int] = []
        self._failing_retry_after: float | None = None
        self._seed_orders(orders)
        self.route("GET", "/v1/orders", self._list)
        self.route("GET", "/order", self._list)  # the docs' example URL
        self.route("POST", "/v1/orders", self._create)
        self.route("GET", "/v1/orders/{order_id}/status", self._status)

    # -- what tests and the local runtime use ----------------------------------------------------------
    @property
    def orders(self) -> list[EcardsSimOrder]:
        """Every order, newest first."""
        with self.lock:
            return sorted(self._orders.values(), key=lambda order: order.number, reverse=True)

    @property
    def created_orders(self) -> list[EcardsSimOrder]:
        """The orders created through ``POST /v1/orders`` (one per ``orderId``), oldest first."""
        with self.lock:
            return sorted(
                (order for order in self._orders.values() if order.created_via_api), key=lambda order: order.number
            )

    def order(self, order_id: UUID | str) -> EcardsSimOrder:
        with self.lock:
            return self._orders[UUID(str(order_id))]

    def status_of(self, order_id: UUID | str) -> str:
        """The order's status now, on the simulator's clock."""
        return self.order(order_id).status_at(self.clock.now())

    def add_orders(self, count: int) -> list[EcardsSimOrder]:
        """``count`` new orders arrive now; they go to the top of page 1."""
        with self.lock:
            return [self._new_order(self.clock.now()) for _ in range(count)]

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward so that statuses progress along their schedules."""
        self.clock.advance(delta)

    def lose_create_answers(self, count: int = 1, *, hold: float = 1.0) -> None:
        """The next ``count`` creates are applied, then their answers are held ``hold`` seconds (longer than the
        client waits): the client sees a lost answer for an order that exists."""
        with self.lock:
            self._lost_create_answers = count
            self._lost_answer_hold = hold

    def fail_creates(self, *statuses: int, retry_after: float | None = None) -> None:
        """The next creates answer these statuses, in turn, without creating anything (a 503 before processing),
        with ``Retry-After`` when one is given."""
        with self.lock:
            self._failing_creates.extend(statuses)
            self._failing_retry_after = retry_after

    def payload(self, order: EcardsSimOrder) -> dict[str, Any]:
        """The order as the list shows it: zone-less wall-clock time, total as a JSON number."""
        wall_clock = order.created_at.astimezone(self.zone).replace(tzinfo=None)
        return {
            "id": str(order.id),
            "number": order.number,
            "createdDate": wall_clock.isoformat(timespec="microseconds"),
            "status": order.status_at(self.clock.now()),
            "participantLogin": order.participant_login,
            "total": _json_number(order.total),
        }

    # -- HTTP ---------------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or credentials.strip() != self.token:
            raise HttpError(
                401,
                {"errors": [{"code": "unauthorized", "msg": "a valid Bearer access token is required"}]},
                {"WWW-Authenticate": 'Bearer realm="ecards"'},
            )

    def _list(self, request: Request) -> Response:
        page = _page_of(request.arg("page"))
        with self.lock:
            self._arrive()
            ordered = sorted(self._orders.values(), key=lambda order: order.number, reverse=True)
            start = (page - 1) * PAGE_SIZE
            records = [self.payload(order) for order in ordered[start : start + PAGE_SIZE]]
            total_pages = math.ceil(len(ordered) / PAGE_SIZE)
        return Response(
            200, {self.array_key: records, "totalPages": total_pages, "currentPage": page, "pageSize": PAGE_SIZE}
        )

    def _status(self, request: Request) -> Response:
        try:
            order_id = UUID(request.path_params["order_id"])
        except ValueError:
            raise HttpError(
                400, {"errors": [{"code": "validation_error", "field": "order_id", "msg": "must be a uuid"}]}
            ) from None
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise HttpError(404, {"errors": [{"code": "not_found", "msg": f"order {order_id} not found"}]})
            status = order.status_at(self.clock.now())
        if self.status_trailing_comma:
            return Response(200, raw=f'{{\n"status": "{status}",\n}}'.encode())
        return Response(200, {"status": status})

    def _create(self, request: Request) -> Response:
        order_id, participant, lines = _validate_create(request.body)
        with self.lock:
            if self._failing_creates:
                status = self._failing_creates.pop(0)
                headers = {} if self._failing_retry_after is None else {"Retry-After": f"{self._failing_retry_after:g}"}
                raise HttpError(
                    status, {"errors": [{"code": "injected", "msg": f"injected {status} on create"}]}, headers
                )
            existing = self._orders.get(order_id)
            if existing is None:
                existing = self._new_order(self.clock.now(), order_id=order_id, participant=participant, lines=lines)
            body = self.payload(existing)
            hold = 0.0
            if self._lost_create_answers > 0:
                self._lost_create_answers -= 1
                hold = self._lost_answer_hold
        if hold:
            time.sleep(hold)
        return Response(200, body)

    # -- data ------------------------------------------------------------------------------------------
    def _seed_orders(self, count: int) -> None:
        """``count`` orders spread over the past days, oldest first: the old ones are final, the newest still move."""
        now = self.clock.now()
        offsets: list[timedelta] = []
        back = timedelta(0)
        for _ in range(count):
            back += timedelta(minutes=self.random.randint(5, 120), seconds=self.random.randint(0, 59))
            offsets.append(back)
        for offset in reversed(offsets):
            self._new_order(now - offset, microseconds=True)

    def _arrive(self) -> None:
        self._arrival_credit += self.arrivals_per_request
        arrivals = int(self._arrival_credit)
        self._arrival_credit -= arrivals
        now = self.clock.now()
        for _ in range(arrivals):
            self._new_order(now)

    def _new_order(
        self,
        created_at: datetime,
        *,
        order_id: UUID | None = None,
        participant: dict[str, str] | None = None,
        lines: tuple[CardLine, ...] | None = None,
        microseconds: bool = False,
    ) -> EcardsSimOrder:
        rng = self.random
        if microseconds:
            created_at = created_at.replace(microsecond=rng.randint(0, 999_999))
        if self._newest is not None and created_at <= self._newest:
            created_at = self._newest + timedelta(microseconds=1)  # numbers and times grow together
        self._newest = created_at
        if lines is None:
            lines = tuple(
                CardLine(id=rng.randint(1, 40), quantity=rng.randint(1, 4), face_value=f"{rng.choice(_FACE_VALUES)} ₽")
                for _ in range(rng.randint(1, 3))
            )
        total = sum(((_amount_of(line.face_value) or Decimal(0)) * line.quantity for line in lines), Decimal(0))
        if participant is None and rng.random() < 0.15:
            discount = rng.choice(_DISCOUNTS)  # a promotion: totals with kopecks, as decimals must carry
            total = (total * (1 - discount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if participant is None:
            login = f"{rng.choice(_NAMES)}.{rng.randint(1, 999)}@{rng.choice(_DOMAINS)}_{_COMPANY}"
        else:
            login = f"{participant['email']}_{_COMPANY}"
        order = EcardsSimOrder(
            id=order_id or UUID(int=rng.getrandbits(128), version=4),
            number=self._next_number,
            created_at=created_at,
            participant_login=login,
            total=total,
            schedule=self._schedule(),
            ecards=lines,
            participant=participant,
            created_via_api=participant is not None,
        )
        self._next_number += 1
        self._orders[order.id] = order
        return order

    def _schedule(self) -> tuple[tuple[timedelta, str], ...]:
        """Created -> Payed -> ReadyForDelivery -> (PartiallyDelivered | AwaitingCertificateAssignment) ->
        Delivered, or Created [-> Payed] -> Cancelled for a few."""
        rng = self.random
        steps: list[tuple[timedelta, str]] = [(timedelta(0), "Created")]
        at = timedelta(0)

        def step(status: str, low: int, high: int) -> None:
            nonlocal at
            at += timedelta(minutes=rng.randint(low, high))
            steps.append((at, status))

        draw = rng.random()
        if draw < 0.08:
            if rng.random() < 0.5:
                step("Payed", 1, 30)
            step("Cancelled", 10, 60)
            return tuple(steps)
        step("Payed", 1, 30)
        step("ReadyForDelivery", 1, 10)
        middle = rng.random()
        if middle < 0.15:
            step("PartiallyDelivered", 5, 60)
        elif middle < 0.3:
            step("AwaitingCertificateAssignment", 5, 60)
        step("Delivered", 1, 60)
        return tuple(steps)


def _page_of(value: str | None) -> int:
    """``page`` defaults to 1; anything but an int32 of at least 1 is a ``400``."""
    if value is None:
        return 1
    if not re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
        raise HttpError(
            400, {"errors": [{"code": "invalid_parameter", "field": "page", "msg": "page must be an integer"}]}
        )
    page = int(value)
    if page < 1 or page > INT32_MAX:
        raise HttpError(
            400,
            {"errors": [{"code": "out_of_range", "field": "page", "msg": f"page must be in 1..{INT32_MAX}"}]},
        )
    return page


def _validate_create(body: Any) -> tuple[UUID, dict[str, str], tuple[CardLine, ...]]:
    """The documented create body, every field required; a ``400`` names each field that fails."""
    problems = _ErrorList()
    if not isinstance(body, dict):
        raise HttpError(400, {"errors": [{"code": "validation_error", "field": "", "msg": "body must be an object"}]})
    order_id: UUID | None = None
    raw_id = body.get("orderId")
    if raw_id is None:
        problems.add("orderId", "required")
    else:
        try:
            order_id = UUID(str(raw_id))
        except ValueError:
            problems.add("orderId", "must be a uuid")
    participant = _participant(body.get("participant"), problems)
    lines: list[CardLine] = []
    raw_cards = body.get("ecards")
    if not isinstance(raw_cards, list) or not raw_cards:
        problems.add("ecards", "required non-empty array")
    else:
        for index, card in enumerate(raw_cards):
            line = _card_line(card, f"ecards[{index}]", problems)
            if line is not None:
                lines.append(line)
    if problems.errors or order_id is None:
        raise HttpError(400, {"errors": problems.errors})
    return order_id, participant, tuple(lines)


def _participant(raw: Any, problems: _ErrorList) -> dict[str, str]:
    participant: dict[str, str] = {}
    if not isinstance(raw, dict):
        problems.add("participant", "required object")
        return participant
    for name in ("email", "name", "phone"):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.add(f"participant.{name}", "required non-empty string")
        else:
            participant[name] = value
    return participant


def _card_line(card: Any, where: str, problems: _ErrorList) -> CardLine | None:
    if not isinstance(card, dict):
        problems.add(where, "must be an object")
        return None
    before = len(problems.errors)
    card_id = _int32(card.get("id"))  # an int32 in the docs' table, a numeric string in their example
    if card_id is None or card_id < 0:
        problems.add(f"{where}.id", "required int32")
    quantity = card.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= INT32_MAX:
        problems.add(f"{where}.quantity", "required int32 of at least 1")
    face_value = card.get("faceValue")
    if not isinstance(face_value, str) or _amount_of(face_value) is None:
        problems.add(f"{where}.faceValue", "required string with an amount, such as '100 ₽'")
    if len(problems.errors) > before or card_id is None or not isinstance(quantity, int):
        return None
    return CardLine(id=card_id, quantity=quantity, face_value=str(face_value))


def _int32(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,10}", value.strip()):
        number = int(value)
    else:
        return None
    return number if number <= INT32_MAX else None


def _amount_of(face_value: str) -> Decimal | None:
    """The amount in a face value such as ``"100 ₽"`` or ``"1 000,50 ₽"``."""
    match = re.search(r"\d[\d\s]*(?:[.,]\d{1,2})?", face_value)
    if match is None:
        return None
    amount = Decimal(re.sub(r"\s", "", match.group(0)).replace(",", "."))
    return amount if amount > 0 else None


def _json_number(amount: Decimal) -> int | float:
    """A JSON number, as the platform sends its totals. Two-decimal amounts survive the float exactly in JSON text."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


SIMULATOR = EcardsSimulator
"""This platform's simulator, as ``simulator_module`` finds it."""
