"""Ticketscloud simulator: the orders list with its filters, export to e-mail, and PATCH actions with their
limits, promocodes and the one-change-at-a-time rule (``409 Conflict``), over real HTTP.

Order statuses move lazily: each read looks at the clock, so an ``executed`` order past its ``expired_after``
reads ``expired`` without any background thread. Tests move the clock with ``advance``.

By default it behaves as the platform was seen to live (``live=True``): list pages shorter than asked that are
not the last, ``pagination`` missing or counting only its page, refusals as lists of strings
(``{"errors": ["..."]}``) and a wrong key answered ``403 {"reason": "forbidden"}``. ``live=False`` switches back
to the docs' tidy behaviour: full pages, an exact ``pagination``, ``{"code", "msg"}`` errors and ``401``.
"""

from __future__ import annotations

import copy
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from ordersync.models import Platform
from ordersync_tools.simulators.base import HttpError, PlatformSimulator, Request, Response, SimClock

DEFAULT_TOKEN = "9bd8359943b545500278875r49c5b96d"  # noqa: S105 - the docs' public example key
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
ORDER_LIFETIME = timedelta(minutes=15)  # the v2 examples: expired_after = created_at + 15 minutes
SERVICE_FEE = Decimal("0.04")  # ``extra`` as a share of ``nominal``, as in the docs' first example
CENT = Decimal("0.01")
STATUSES = frozenset({"executed", "in_progress", "done", "cancelled", "expired", "refunded"})
STATUS_ALIASES = {"canceled": "cancelled"}  # the older docs' spelling, accepted in filters
UNCHANGEABLE = frozenset({"done", "refunded"})  # any PATCH gets 400
OPEN = frozenset({"executed", "in_progress"})

RAW_MAX_KEYS = 20
RAW_MAX_KEY_LENGTH = 40
RAW_MAX_VALUE_LENGTH = 128
VENDOR_ORDER_ID_MAX_LENGTH = 64


def _error(status: int, code: str, msg: str) -> HttpError:
    return HttpError(status, {"errors": [{"code": code, "msg": msg}]})


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class SimPromocode:
    """A catalogue promocode: a fixed or a percentage discount per ticket."""

    id: str
    code: str
    fix: Decimal | None = None
    percentage: Decimal | None = None
    min_tickets: int = 1
    max_uses: int | None = None
    active: bool = True

    def discount(self, price: Decimal) -> Decimal:
        if self.fix is not None:
            return min(self.fix, price)
        assert self.percentage is not None  # noqa: S101 - a catalogue entry has one of the two
        return (price * self.percentage / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def ref(self) -> dict[str, Any]:
        discount = {"fix": _money(self.fix)} if self.fix is not None else {"percentage": f"{self.percentage}%"}
        return {"id": self.id, "code": self.code, "discount": discount, "viral": False}


PROMOCODES: tuple[SimPromocode, ...] = (
    SimPromocode("5d664d392a4191909a568b40", "promo100", fix=Decimal("100.00")),
    SimPromocode("5d66b9f9a80b147cadf87583", "promo5%", percentage=Decimal(5)),
    SimPromocode("5d66ba0fa80b147cadf87584", "group10", percentage=Decimal(10), min_tickets=3),
    SimPromocode("5d66ba1aa80b147cadf87585", "once50", fix=Decimal("50.00"), max_uses=1),
    SimPromocode("5d66ba25a80b147cadf87586", "summer2019", fix=Decimal("200.00"), active=False),
)


@dataclass(frozen=True)
class SimSet:
    id: str
    name: str
    price: Decimal


@dataclass(frozen=True)
class SimEvent:
    id: str
    title: str
    org: str
    start: datetime
    sets: tuple[SimSet, ...]


@dataclass
class SimTicket:
    id: str
    number: int
    serial: str
    set: SimSet
    barcode: str
    tariff: str | None = None


@dataclass
class SimOrder:
    id: str
    number: int
    code: str
    event: SimEvent
    created_at: datetime
    status: str
    tickets: list[SimTicket]
    customer: dict[str, str] | None = None
    done_at: datetime | None = None
    send_tickets: bool = False
    promocode: SimPromocode | None = None
    vendor_data: dict[str, Any] = field(default_factory=dict)

    @property
    def expired_after(self) -> datetime:
        return self.created_at + ORDER_LIFETIME


@dataclass(frozen=True)
class ConflictRecord:
    """A PATCH answered ``409`` because an earlier one on the same order was still being processed."""

    order_id: str
    at: datetime


@dataclass(frozen=True)
class PatchRecord:
    """One PATCH that held the order's processing mark, from ``started_at`` to ``finished_at``."""

    order_id: str
    body: Any
    started_at: datetime
    finished_at: datetime
    status: int


@dataclass(frozen=True)
class ExportRecord:
    """What an export request asked the platform to e-mail."""

    method: str
    email: str
    created_at: str | None
    statuses: tuple[str, ...]
    events: tuple[str, ...]
    only_with_customer: bool | None
    order_ids: tuple[str, ...]
    requested_at: datetime


@dataclass(frozen=True)
class _Filters:
    created_from: datetime | None = None
    created_to: datetime | None = None
    statuses: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    only_with_customer: bool | None = None


_FIRST_NAMES = ("Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена")
_LAST_NAMES = ("Иванов", "Петрова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев", "Новикова")
_TITLES = ("KoЯn", "Щелкунчик", "Стендап вечер", "Джазовый квартет", "Лебединое озеро", "Рок-фестиваль")
_SET_NAMES = (("Партер", "1000.00"), ("Балкон", "500.00"), ("VIP", "3500.00"), ("Танцпол", "1500.00"))


class TicketscloudSimulator(PlatformSimulator):
    """Ticketscloud as its docs describe it. Read state with ``order``/``orders_snapshot``, ``conflicts``,
    ``patch_history`` and ``exports``; make things happen with ``add_orders``, ``pay``, ``cancel``, ``advance``."""

    platform: ClassVar[Platform] = Platform.TICKETSCLOUD
    _webhooks: WebhookSender | None = None

    def __init__(
        self,
        *,
        orders: int = 100,
        seed: int = 1,
        token: str = DEFAULT_TOKEN,
        clock: SimClock | None = None,
        processing_delay: float = 0.05,
        timezone: str = "Europe/Moscow",
        events: int = 5,
        refunds: bool = True,
        live: bool = True,
    ) -> None:
        super().__init__(seed=seed, clock=clock, live=live)
        self.token = token
        self.processing_delay = processing_delay
        self.zone = ZoneInfo(timezone)
        self.promocodes = PROMOCODES
        self.org = self._hex_id()
        self.vendor = self._hex_id()
        self._orders: dict[str, SimOrder] = {}
        self._next_number = 41000
        self._next_ticket_number = 142000
        self._processing: set[str] = set()
        self._promocode_uses: dict[str, int] = {}
        self._conflicts: list[ConflictRecord] = []
        self._patch_history: list[PatchRecord] = []
        self._exports: list[ExportRecord] = []
        now = self.clock.now().replace(microsecond=0)
        self._events = [self._make_event(now) for _ in range(max(1, events))]
        for created in sorted(now - timedelta(seconds=self.random.randint(0, 3 * 86400)) for _ in range(orders)):
            self._create_order(created, self._initial_status(now - created))
        self.route("GET", "/v2/resources/orders", self._list)
        self.route("GET", "/v2/resources/orders/export", self._export)
        self.route("POST", "/v2/resources/orders/export", self._export)
        self.route("GET", "/v2/resources/orders/{order_id}", self._get_order)
        self.route("PATCH", "/v2/resources/orders/{order_id}", self._patch)
        self.route("POST", "/v2/resources/orders/{order_id}", self._patch)  # the docs' headings say POST
        self._init_refunds(seed, seed_refunds=refunds)
        self._init_lifecycle(seed)

    # -- authentication ------------------------------------------------------------------------------------
    def authenticate(self, request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "key" or key.strip() != self.token:
            if self.live:
                raise HttpError(403, {"reason": "forbidden"})
            raise _error(401, "unauthorized", "Authorization: key <API key> is missing or wrong")

    def _respond(self, request: Request) -> Response:
        """Live, a refusal's ``{"code", "msg"}`` objects become the strings the platform sends; objects stay only
        inside a ``200`` (promocode failures)."""
        response = super()._respond(request)
        if self.live and response.status >= 400:
            response.body = _live_error_body(response.body)
        return response

    # -- what tests and the local runtime read ---------------------------------------------------------------
    @property
    def event_ids(self) -> list[str]:
        return [event.id for event in self._events]

    @property
    def conflicts(self) -> list[ConflictRecord]:
        with self.lock:
            return list(self._conflicts)

    @property
    def patch_history(self) -> list[PatchRecord]:
        with self.lock:
            return list(self._patch_history)

    def applied_patches(self, order_id: str) -> list[PatchRecord]:
        """The PATCHes applied to one order (answered ``200``), in the order they ran."""
        with self.lock:
            return [record for record in self._patch_history if record.order_id == order_id and record.status == 200]

    @property
    def exports(self) -> list[ExportRecord]:
        with self.lock:
            return list(self._exports)

    def order_ids(self) -> list[str]:
        with self.lock:
            return list(self._orders)

    def order(self, order_id: str) -> dict[str, Any]:
        """The order as the platform would send it now."""
        with self.lock:
            return self._payload(self._order(order_id), self.clock.now())

    def orders_snapshot(self) -> list[dict[str, Any]]:
        """Every order as the platform would send it now, oldest first."""
        with self.lock:
            now = self.clock.now()
            return [self._payload(order, now) for order in self._orders.values()]

    # -- what tests and the local runtime do -----------------------------------------------------------------
    def advance(self, delta: timedelta) -> None:
        """Move the clock: unpaid orders past their deadline then read ``expired``."""
        self.clock.advance(delta)

    def add_orders(self, count: int, *, with_customer: bool = True, event_id: str | None = None) -> list[str]:
        """New ``executed`` orders created now; returns their ids."""
        with self.lock:
            now = self.clock.now().replace(microsecond=0)
            event = next((e for e in self._events if e.id == event_id), None) if event_id else None
            created = [
                self._create_order(now, "executed", event=event, with_customer=with_customer) for _ in range(count)
            ]
            for order in created:
                self._webhook(order)
            return [order.id for order in created]

    def start_payment(self, order_id: str) -> None:
        """``executed`` -> ``in_progress``: the buyer went to pay."""
        self._move(order_id, {"executed"}, "in_progress")

    def pay(self, order_id: str) -> None:
        """``executed``/``in_progress`` -> ``done``."""
        self._move(order_id, OPEN, "done")

    def cancel(self, order_id: str) -> None:
        self._move(order_id, OPEN, "cancelled")

    def refund(self, order_id: str) -> None:
        """Refund every ticket of a done order. Live (v2 as observed): an approved refund request, the order stays
        ``done``; tidy (the older docs): the order becomes ``refunded``."""
        if self.live:
            self.approve_refund(self.request_refund(order_id))
            return
        self._move(order_id, {"done"}, "refunded")

    def _move(self, order_id: str, allowed: set[str] | frozenset[str], target: str) -> None:
        with self.lock:
            order = self._order(order_id)
            status = self._status(order, self.clock.now())
            if status not in allowed:
                raise ValueError(f"order {order_id} is {status}: cannot become {target}")
            order.status = target
            if target == "done":
                order.done_at = self.clock.now().replace(microsecond=0)
            self._webhook(order)

    # -- webhooks (``WebhookSender`` below) ------------------------------------------------------------------
    def send_webhooks(self, url: str, faults: WebhookFaults | None = None) -> WebhookSender:
        """From now on, ``POST {"type": "order_<status>", "data": order}`` to ``url`` on every order change (an
        order added, paid, cancelled...), with the given faults. Returns the sender (its ``deliveries``)."""
        self.stop_webhooks()
        sender = WebhookSender(url, faults or WebhookFaults(), seed=self.seed)
        sender.start()
        self._webhooks = sender
        return sender

    def stop_webhooks(self) -> None:
        sender = self._webhooks
        if sender is not None:
            sender.stop()
            self._webhooks = None

    def _webhook(self, order: SimOrder) -> None:
        sender = self._webhooks
        if sender is not None:
            now = self.clock.now()
            status = self._status(order, now)
            sender.notify(order.id, WEBHOOK_TYPES.get(status, f"order_{status}"), self._payload(order, now))

    # -- data ------------------------------------------------------------------------------------------------
    def _hex_id(self) -> str:
        return f"{self.random.getrandbits(96):024x}"

    def _make_event(self, now: datetime) -> SimEvent:
        names = self.random.sample(_SET_NAMES, k=self.random.randint(2, 3))
        sets = tuple(SimSet(self._hex_id(), name, Decimal(price)) for name, price in names)
        start = (now + timedelta(days=self.random.randint(5, 60))).replace(minute=0, second=0)
        return SimEvent(self._hex_id(), self.random.choice(_TITLES), self.org, start, sets)

    def _initial_status(self, age: timedelta) -> str:
        if age < ORDER_LIFETIME:
            return "executed"
        status = self.random.choices(
            ("done", "cancelled", "executed", "in_progress", "refunded"), weights=(60, 10, 20, 5, 5)
        )[0]
        # v2 has no refunded status (a refund is a refund request and the order stays done): only the older docs'
        # tidy behaviour seeds it.
        return "done" if status == "refunded" and self.live else status

    def _create_order(
        self,
        created_at: datetime,
        status: str,
        *,
        event: SimEvent | None = None,
        with_customer: bool | None = None,
    ) -> SimOrder:
        rnd = self.random
        event = event or rnd.choice(self._events)
        chosen_set = rnd.choice(event.sets)
        tickets = []
        for _ in range(rnd.choices((1, 2, 3, 4), weights=(50, 30, 12, 8))[0]):
            self._next_ticket_number += 1
            serial = "".join(rnd.choices("ABCEHKMOPTX", k=3))
            barcode = "".join(rnd.choices("0123456789", k=17))
            tickets.append(SimTicket(self._hex_id(), self._next_ticket_number, serial, chosen_set, barcode))
        if with_customer is None:
            with_customer = rnd.random() < 0.7
        customer = None
        if with_customer:
            customer = {
                "email": f"buyer{self._next_number + 1}@example.com",
                "lang": rnd.choice(("ru", "ru", "en")),
                "name": f"{rnd.choice(_FIRST_NAMES)} {rnd.choice(_LAST_NAMES)}",
                "phone": f"+7999{rnd.randint(1000000, 9999999)}",
            }
        self._next_number += 1
        order = SimOrder(
            id=self._hex_id(),
            number=self._next_number,
            code="".join(rnd.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=8)),
            event=event,
            created_at=created_at,
            status=status,
            tickets=tickets,
            customer=customer,
        )
        if status in ("done", "refunded"):
            order.done_at = created_at + timedelta(seconds=rnd.randint(30, int(ORDER_LIFETIME.total_seconds()) - 1))
        self._orders[order.id] = order
        return order

    def _order(self, order_id: str) -> SimOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(order_id)
        return order

    def _status(self, order: SimOrder, now: datetime) -> str:
        """The lazy lifecycle: an ``executed`` order past its deadline has expired."""
        if order.status == "executed" and now >= order.expired_after:
            order.status = "expired"
        return order.status

    def _wall(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def _ticket_values(self, order: SimOrder, price: Decimal) -> dict[str, str]:
        discount = order.promocode.discount(price) if order.promocode else Decimal(0)
        nominal = price - discount
        extra = (nominal * SERVICE_FEE).quantize(CENT, rounding=ROUND_HALF_UP)
        return {
            "discount": _money(discount),
            "extra": _money(extra),
            "full": _money(nominal + extra),
            "nominal": _money(nominal),
            "price": _money(price),
        }

    def _payload(self, order: SimOrder, now: datetime) -> dict[str, Any]:
        status = self._status(order, now)
        ticket_status = {"done": "sold", "refunded": "refunded", "cancelled": "cancelled", "expired": "cancelled"}
        tickets = []
        totals = {name: Decimal(0) for name in ("discount", "extra", "full", "nominal", "price")}
        for ticket in order.tickets:
            values = self._ticket_values(order, ticket.set.price)
            for name in totals:
                totals[name] += Decimal(values[name])
            tickets.append(
                {
                    "barcode": ticket.barcode if status in ("done", "refunded") else None,
                    **values,
                    "id": ticket.id,
                    "number": ticket.number,
                    "serial": ticket.serial,
                    "set": ticket.set.id,
                    "status": ticket_status.get(status, "reserved"),
                }
                | ({"tariff": ticket.tariff} if ticket.tariff is not None else {})
            )
        promocode_id = order.promocode.id if order.promocode else None
        sets_values: dict[str, dict[str, Any]] = {}
        for item in order.event.sets:
            unit = self._ticket_values(order, item.price)
            sets_values[item.id] = {key: unit[key] for key in ("discount", "nominal", "price")}
            sets_values[item.id] |= {"id": item.id, "promocode": promocode_id}
        settings: dict[str, Any] = {"invitation": False, "send_tickets": order.send_tickets, "subscribe_agree": False}
        if order.customer is not None:
            settings["customer"] = dict(order.customer)
        payload: dict[str, Any] = {
            "code": order.code,
            "created_at": self._wall(order.created_at),
            "event": order.event.id,
            "expired_after": self._wall(order.expired_after),
            "id": order.id,
            "number": order.number,
            "org": order.event.org,
            "origin": "api",
            "promocodes": [promocode_id] if promocode_id else [],
            "settings": settings,
            "status": status,
            "tickets": tickets,
            "values": {name: _money(value) for name, value in totals.items()}
            | {"sets_values": sets_values, "viral_promocodes": []},
            "vendor": self.vendor,
            "vendor_data": copy.deepcopy(order.vendor_data),
        }
        if order.done_at is not None:
            payload["done_at"] = self._wall(order.done_at)
        return payload

    def _refs(self, orders: Sequence[SimOrder]) -> dict[str, Any]:
        events = {order.event.id: order.event for order in orders}
        refs: dict[str, Any] = {
            "events": {
                event.id: {
                    "id": event.id,
                    "lifetime": {
                        "start": self._wall(event.start),
                        "finish": self._wall(event.start + timedelta(hours=2)),
                    },
                    "org": event.org,
                    "status": "public",
                    "timezone": self.zone.key,
                    "title": {"desc": "", "text": event.title},
                }
                for event in events.values()
            },
            "partners": {
                self.org: {"id": self.org, "name": "My best org"},
                self.vendor: {"id": self.vendor, "name": "ordersync"},
            },
            "sets": {
                item.id: {"id": item.id, "name": item.name, "price": _money(item.price), "with_seats": False}
                for event in events.values()
                for item in event.sets
            },
        }
        promocodes = {order.promocode.id: order.promocode.ref() for order in orders if order.promocode}
        if promocodes:
            refs["promocodes"] = promocodes
        return refs

    # -- filters ---------------------------------------------------------------------------------------------
    def _time_bound(self, text: str) -> datetime | None:
        if not text.strip():
            return None
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise _error(400, "invalid_created_at", f"created_at: {text!r} is not an ISO datetime") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(UTC)

    def _filters(self, values: Callable[[str], list[str]], single: Callable[[str], str | None]) -> _Filters:
        created_from = created_to = None
        created_at = single("created_at")
        if created_at is not None:
            parts = created_at.split(",")
            if len(parts) != 2:
                raise _error(400, "invalid_created_at", "created_at: expected two ISO datetimes joined by a comma")
            created_from, created_to = self._time_bound(parts[0]), self._time_bound(parts[1])
            if created_from and created_to and created_from > created_to:
                raise _error(400, "invalid_created_at", "created_at: the start is after the end")
        statuses = frozenset(STATUS_ALIASES.get(status, status) for status in values("status"))
        unknown = sorted(statuses - STATUSES)
        if unknown:
            raise _error(400, "invalid_status", f"status: unknown status {', '.join(unknown)}")
        only = single("only_with_customer")
        only_with_customer = None
        if only is not None:
            if only.lower() not in ("true", "false", "1", "0"):
                raise _error(400, "invalid_only_with_customer", f"only_with_customer: {only!r} is not a boolean")
            only_with_customer = only.lower() in ("true", "1")
        return _Filters(created_from, created_to, statuses, frozenset(values("events")), only_with_customer)

    def _matching(self, filters: _Filters, now: datetime) -> list[SimOrder]:
        found = []
        for order in self._orders.values():
            if filters.created_from and order.created_at < filters.created_from:
                continue
            if filters.created_to and order.created_at > filters.created_to:
                continue
            if filters.statuses and self._status(order, now) not in filters.statuses:
                continue
            if filters.events and order.event.id not in filters.events:
                continue
            if filters.only_with_customer and order.customer is None:
                continue
            found.append(order)
        return found

    # -- routes ----------------------------------------------------------------------------------------------
    def _list(self, request: Request) -> Response:
        filters = self._filters(lambda name: _split(request.query.get(name, [])), request.arg)
        page = _int_arg(request.arg("page"), "page", default=1, low=1, high=None)
        page_size = _int_arg(
            request.arg("page_size"), "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE
        )
        with self.lock:
            now = self.clock.now()
            matched = self._matching(filters, now)
            if self.live:
                chosen, pagination = _live_page(matched, page, page_size)
            else:
                chosen = matched[(page - 1) * page_size : page * page_size]
                pagination = {"page": page, "page_size": page_size, "total": len(matched)}
            with_refunded = (request.arg("with_refunded_tickets") or "").lower() in ("true", "1")
            body: dict[str, Any] = {
                "data": [self._refunded_view(self._payload(order, now), with_refunded) for order in chosen]
            }
            if pagination is not None:
                body["pagination"] = pagination
            body["refs"] = self._refs(chosen)
        return Response(200, body)

    def _get_order(self, request: Request) -> Response:
        """One order by id: ``{"data": order, "refs": ...}``; an unknown id is ``404`` with a list of strings."""
        order_id = request.path_params["order_id"]
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise HttpError(404, {"errors": [f"Order {order_id} not found"]})
            return Response(200, {"data": self._payload(order, self.clock.now()), "refs": self._refs([order])})

    def _export(self, request: Request) -> Response:
        """GET with query parameters (the heading) and POST with JSON (the example) are both accepted."""
        if request.method == "POST":
            source = request.body if isinstance(request.body, Mapping) else {}
            values: Callable[[str], list[str]] = lambda name: _body_list(source.get(name), name)  # noqa: E731
            single: Callable[[str], str | None] = lambda name: _body_scalar(source.get(name), name)  # noqa: E731
        else:
            values = lambda name: _split(request.query.get(name, []))  # noqa: E731
            single = request.arg
        filters = self._filters(values, single)
        email = single("email")
        if not email or "@" not in email:
            raise _error(400, "email_required", "email: an address to send the export to is required")
        with self.lock:
            matched = self._matching(filters, self.clock.now())
            self._exports.append(
                ExportRecord(
                    method=request.method,
                    email=email,
                    created_at=single("created_at"),
                    statuses=tuple(sorted(filters.statuses)),
                    events=tuple(sorted(filters.events)),
                    only_with_customer=filters.only_with_customer,
                    order_ids=tuple(order.id for order in matched),
                    requested_at=self.clock.now(),
                )
            )
        return Response(200, raw=b"")

    def _patch(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        with self.lock:
            if order_id not in self._orders:
                raise _error(404, "not_found", f"Order {order_id} not found")
            if order_id in self._processing:
                self._conflicts.append(ConflictRecord(order_id, self.clock.now()))
                raise _error(409, "conflict", "An earlier request on this order is still being processed")
            self._processing.add(order_id)
            started_at = self.clock.now()
        status = 500
        try:
            if self.processing_delay > 0:
                time.sleep(self.processing_delay)
            with self.lock:
                response = self._apply_patch(self._orders[order_id], request.body)
        except HttpError as error:
            status = error.status
            raise
        else:
            status = response.status
            return response
        finally:
            with self.lock:
                self._processing.discard(order_id)
                self._patch_history.append(
                    PatchRecord(order_id, copy.deepcopy(request.body), started_at, self.clock.now(), status)
                )

    def _apply_patch(self, order: SimOrder, body: Any) -> Response:
        now = self.clock.now()
        if self._status(order, now) in UNCHANGEABLE:
            raise _error(400, "order_done", f"Order is {order.status}: it cannot be changed")
        body, lifecycle = _split_lifecycle(body)
        changes = _validate_patch(body) if body or not lifecycle else {}
        if lifecycle:
            self._apply_lifecycle(order, lifecycle, now)
        settings = changes.get("settings", {})
        if "customer" in settings:
            order.customer = (order.customer or {}) | settings["customer"]
        if "send_tickets" in settings:
            order.send_tickets = settings["send_tickets"]
        if "vendor_data" in changes:
            order.vendor_data = order.vendor_data | copy.deepcopy(changes["vendor_data"])
        errors = [self._apply_promocode(order, code, now) for code in changes.get("promocodes", [])]
        answer: dict[str, Any] = {"data": self._payload(order, now), "refs": self._refs([order])}
        found = [error for error in errors if error is not None]
        if found:
            answer["errors"] = found
        return Response(200, answer)

    def _apply_promocode(self, order: SimOrder, code: str, now: datetime) -> dict[str, str] | None:
        promocode = next((item for item in self.promocodes if item.code == code.strip().lower()), None)
        if promocode is None:
            return {"code": "promocode_not_found", "msg": "Promocode not found"}
        uses = self._promocode_uses.get(promocode.id, 0)
        if order.promocode is not None and order.promocode.id == promocode.id:
            return {"code": "promocode_already_used", "msg": "Promocode already used"}
        if promocode.max_uses is not None and uses >= promocode.max_uses:
            return {"code": "promocode_already_used", "msg": "Promocode already used"}
        if len(order.tickets) < promocode.min_tickets:
            return {
                "code": "promocode_limit_min_tickets",
                "msg": f"Mimimum count of tickets in order for promocode activation is {promocode.min_tickets}",
            }
        if not promocode.active or order.promocode is not None or self._status(order, now) not in OPEN:
            return {"code": "promocode_apply_info", "msg": "Cant apply promocode by some reason"}
        order.promocode = promocode
        self._promocode_uses[promocode.id] = uses + 1
        return None

    # -- refund requests (their own resource; live-behaviour.md) -----------------------------------------------
    # A refund never changes the order's status: it stays ``done``. Approved refunds take their tickets out of
    # the order as the list shows it, unless the list is asked ``with_refunded_tickets=true``.

    def _init_refunds(self, seed: int, *, seed_refunds: bool) -> None:
        self._refunds: dict[str, SimRefund] = {}
        self._refund_random = random.Random(seed * 7919 + 13)
        """Refund ids and seed refunds draw from their own generator: the orders' draws stay as they were."""
        self.refund_live_paging = True
        """Pages of the refund list hold one row fewer than asked and a page-local ``total`` (as observed live):
        only an empty page ends the list."""
        self.route("GET", "/v2/resources/refund_requests", self._list_refunds)
        self.route("POST", "/v2/resources/refund_requests", self._create_refund)
        self.route("PATCH", "/v2/resources/refund_requests/{refund_id}", self._patch_refund)
        if seed_refunds:
            self._seed_refunds(self._refund_random)

    def _seed_refunds(self, rnd: random.Random) -> None:
        """Some refunds among the seeded done orders of two tickets or more: one approved for one ticket
        (partial), one approved for every ticket (full), one approved for one ticket then the rest, one still
        new, one rejected."""
        now = self.clock.now().replace(microsecond=0)
        candidates = [
            order
            for order in self._orders.values()
            if order.status == "done" and len(order.tickets) >= 2 and order.done_at is not None
        ]
        plan = ("partial", "full", "both", "new", "rejected")
        for order, kind in zip(rnd.sample(candidates, k=min(len(candidates), len(plan))), plan, strict=False):
            assert order.done_at is not None  # noqa: S101 - filtered above
            created = min(order.done_at + timedelta(minutes=rnd.randint(30, 600)), now - timedelta(minutes=90))
            first = [order.tickets[0].id] if kind in ("partial", "both") else [t.id for t in order.tickets]
            refund = self._new_refund(order, first, culprit=rnd.choice(("user", "org")), at=created)
            if kind in ("partial", "full", "both"):
                self._decide(refund, "approved", created + timedelta(minutes=20))
            elif kind == "rejected":
                self._decide(refund, "rejected", created + timedelta(minutes=20))
            if kind == "both":
                rest = [ticket.id for ticket in order.tickets[1:]]
                second = self._new_refund(order, rest, culprit="user", at=created + timedelta(minutes=40))
                self._decide(second, "approved", created + timedelta(minutes=60))

    # what tests and the local runtime read and do
    def refund_requests(self) -> list[dict[str, Any]]:
        """Every refund request as the platform would send it, oldest first."""
        with self.lock:
            return [self._refund_payload(refund) for refund in self._sorted_refunds()]

    def request_refund(self, order_id: str, tickets: Sequence[str] | None = None, *, culprit: str = "user") -> str:
        """A new refund request of ``tickets`` (default: every ticket not refunded yet) of a done order; the
        platform's refusals raise ``ValueError`` with its text. Returns the request's id."""
        with self.lock:
            order = self._order(order_id)
            chosen = (
                list(tickets)
                if tickets is not None
                else [t.id for t in order.tickets if t.id not in self._claimed(order)]
            )
            refusal = self._refund_refusal(order, chosen, culprit)
            if refusal is not None:
                raise ValueError(refusal)
            return self._new_refund(order, chosen, culprit=culprit, at=self.clock.now().replace(microsecond=0)).id

    def approve_refund(self, refund_id: str) -> None:
        self._move_refund(refund_id, "approved")

    def reject_refund(self, refund_id: str) -> None:
        self._move_refund(refund_id, "rejected")

    def start_refund(self, refund_id: str) -> None:
        """``new`` -> ``in_progress``."""
        self._move_refund(refund_id, "in_progress")

    def _move_refund(self, refund_id: str, target: str) -> None:
        with self.lock:
            refund = self._refunds.get(refund_id)
            if refund is None:
                raise KeyError(refund_id)
            refusal = _refund_move_refusal(refund, target)
            if refusal is not None:
                raise ValueError(refusal)
            self._decide(refund, target, self.clock.now().replace(microsecond=0))

    # rules
    def _claimed(self, order: SimOrder) -> set[str]:
        """Tickets of ``order`` refunded or in an open refund request."""
        return {
            ticket
            for refund in self._refunds.values()
            if refund.order_id == order.id and refund.status != "rejected"
            for ticket in refund.tickets
        }

    def _refunded_tickets(self, order_id: str) -> set[str]:
        return {
            ticket
            for refund in self._refunds.values()
            if refund.order_id == order_id and refund.status == "approved"
            for ticket in refund.tickets
        }

    def _refund_refusal(self, order: SimOrder, tickets: Sequence[str], culprit: Any) -> str | None:  # noqa: PLR0911 - one refusal each
        now = self.clock.now()
        status = self._status(order, now)
        if status != "done":
            return f"Order {order.id} is {status}: only a done order can be refunded"
        if culprit not in ("user", "org"):
            return "culprit: must be user or org"
        if not tickets or not all(isinstance(ticket, str) for ticket in tickets):
            return "tickets: a non-empty list of ticket ids is required"
        foreign = sorted(set(tickets) - {ticket.id for ticket in order.tickets})
        if foreign:
            return f"Tickets {', '.join(foreign)} are not of order {order.id}"
        taken = sorted(set(tickets) & self._claimed(order))
        if taken:
            return f"Tickets {', '.join(taken)} are already refunded or in a refund request"
        if now >= order.event.start:
            return f"Event {order.event.id} has already started"
        if order.event.start - now < timedelta(days=3):
            return "A refund is not possible less than 3 days before the event"
        return None

    def _new_refund(self, order: SimOrder, tickets: Sequence[str], *, culprit: str, at: datetime) -> SimRefund:
        prices = {
            ticket.id: Decimal(self._ticket_values(order, ticket.set.price)["nominal"]) for ticket in order.tickets
        }
        refund = SimRefund(
            id=f"{self._refund_random.getrandbits(96):024x}",
            order_id=order.id,
            event_id=order.event.id,
            status="new",
            culprit=culprit,
            created_at=at,
            requested_at=at,
            tickets=tuple(tickets),
            nominal=sum((prices[ticket] for ticket in tickets), Decimal(0)),
        )
        self._refunds[refund.id] = refund
        return refund

    @staticmethod
    def _decide(refund: SimRefund, target: str, at: datetime) -> None:
        refund.status = target
        if target in ("approved", "rejected"):
            refund.finished_at = at

    def _sorted_refunds(self) -> list[SimRefund]:
        return sorted(self._refunds.values(), key=lambda refund: (refund.created_at, refund.id))

    def _refund_payload(self, refund: SimRefund) -> dict[str, Any]:
        return {
            "created_at": self._wall(refund.created_at),
            "culprit": refund.culprit,
            "delta": _money(refund.nominal),
            "event": refund.event_id,
            "finished_at": self._wall(refund.finished_at) if refund.finished_at is not None else None,
            "id": refund.id,
            "order": refund.order_id,
            "org": self.org,
            "policy": refund.policy,
            "refund_nominal": _money(refund.nominal),
            "requested_at": self._wall(refund.requested_at),
            "status": refund.status,
            "tickets": list(refund.tickets),
            "vendor": self.vendor,
        }

    def _refunded_view(self, payload: dict[str, Any], with_refunded: bool) -> dict[str, Any]:
        """An order as the list shows it: without its refunded tickets (its values shrunk), unless asked
        ``with_refunded_tickets``."""
        refunded = self._refunded_tickets(payload["id"])
        if with_refunded or not refunded:
            return payload
        kept = [ticket for ticket in payload["tickets"] if ticket["id"] not in refunded]
        values = dict(payload["values"])
        for name in ("discount", "extra", "full", "nominal", "price"):
            values[name] = _money(sum((Decimal(ticket[name]) for ticket in kept), Decimal(0)))
        return payload | {"tickets": kept, "values": values}

    # routes
    def _list_refunds(self, request: Request) -> Response:
        statuses = set(_split(request.query.get("status", [])))
        unknown = sorted(statuses - REFUND_STATUSES)
        if unknown:
            raise HttpError(400, {"errors": [f"status: unknown refund status {', '.join(unknown)}"]})
        created = self._refund_range(request.arg("created_at"), "created_at")
        finished = self._refund_range(request.arg("finished_at"), "finished_at")
        try:
            page = _int_arg(request.arg("page"), "page", default=1, low=1, high=None)
            page_size = _int_arg(
                request.arg("page_size"), "page_size", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE
            )
        except HttpError as error:
            raise HttpError(400, {"errors": [item["msg"] for item in error.body["errors"]]}) from None
        served = max(1, page_size - 1) if self.refund_live_paging else page_size
        with self.lock:
            matched = [
                refund
                for refund in self._sorted_refunds()
                if (not statuses or refund.status in statuses)
                and _within(refund.created_at, created)
                and (finished is None or (refund.finished_at is not None and _within(refund.finished_at, finished)))
            ]
            chosen = matched[(page - 1) * served : page * served]
            now = self.clock.now()
            orders = {refund.order_id: self._orders[refund.order_id] for refund in chosen}
            body = {
                "data": [self._refund_payload(refund) for refund in chosen],
                "pagination": {
                    "page": page,
                    "page_size": page_size,
                    "total": len(chosen) if self.refund_live_paging else len(matched),
                },
                "refs": {"orders": {order.id: self._payload(order, now) for order in orders.values()}},
            }
        return Response(200, body)

    def _refund_range(self, text: str | None, name: str) -> tuple[datetime | None, datetime | None] | None:
        if text is None:
            return None
        parts = text.split(",")
        if len(parts) != 2:
            raise HttpError(400, {"errors": [f"{name}: expected two ISO datetimes joined by a comma"]})
        try:
            low, high = self._time_bound(parts[0]), self._time_bound(parts[1])
        except HttpError:
            raise HttpError(400, {"errors": [f"{name}: {text!r} is not a range of ISO datetimes"]}) from None
        return low, high

    def _create_refund(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, Mapping) else {}
        order_id = body.get("order")
        if not isinstance(order_id, str) or not order_id:
            raise HttpError(400, {"errors": ["order: an order id is required"]})
        with self.lock:
            order = self._orders.get(order_id)
            if order is None:
                raise HttpError(400, {"errors": [f"Order {order_id} not found"]})
            tickets = body.get("tickets")
            chosen = list(tickets) if isinstance(tickets, list) else []
            refusal = self._refund_refusal(order, chosen, body.get("culprit"))
            if refusal is not None:
                raise HttpError(400, {"errors": [refusal]})
            at = self.clock.now().replace(microsecond=0)
            refund = self._new_refund(order, chosen, culprit=str(body["culprit"]), at=at)
            requested = body.get("requested_at")
            if isinstance(requested, str) and requested.strip():
                bound = self._time_bound(requested)
                if bound is not None:
                    refund.requested_at = bound
            return Response(201, {"data": self._refund_payload(refund)})

    def _patch_refund(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        body = request.body if isinstance(request.body, Mapping) else {}
        target = body.get("status")
        with self.lock:
            refund = self._refunds.get(refund_id)
            if refund is None:
                raise HttpError(404, {"errors": [f"Refund request {refund_id} not found"]})
            refusal = _refund_move_refusal(refund, target)
            if refusal is not None:
                raise HttpError(400, {"errors": [refusal]})
            self._decide(refund, str(target), self.clock.now().replace(microsecond=0))
            return Response(200, {"data": self._refund_payload(refund)})

    # -- the reseller's order lifecycle (live-behaviour.md): create, reservation, tariffs, finish, cancel ---------
    # Each event has tickets on sale per set (its stock); a ticket is free while no executed, in-progress or done
    # order holds it. Refusals are ``400 {"errors": ["...", ...]}``, and a refused request changes nothing.

    def _init_lifecycle(self, seed: int) -> None:
        rnd = random.Random(seed * 104_729 + 7)
        """Stock and tariff ids draw from their own generator: the seeded orders stay as they were."""
        self._stock: dict[str, list[SimTicket]] = {}
        self._tariffs: dict[str, tuple[str, ...]] = {}
        self._creates: list[dict[str, Any]] = []
        for event in self._events:
            tickets = []
            for item in event.sets:
                self._tariffs[item.id] = tuple(f"{rnd.getrandbits(96):024x}" for _ in range(2))
                for _ in range(STOCK_PER_SET):
                    self._next_ticket_number += 1
                    serial = "".join(rnd.choices("ABCEHKMOPTX", k=3))
                    barcode = "".join(rnd.choices("0123456789", k=17))
                    tickets.append(
                        SimTicket(f"{rnd.getrandbits(96):024x}", self._next_ticket_number, serial, item, barcode)
                    )
            self._stock[event.id] = tickets
        self.route("POST", "/v2/resources/orders", self._create)

    # what tests and the local runtime read
    @property
    def creates(self) -> list[dict[str, Any]]:
        """The body of every create the platform accepted, in order."""
        with self.lock:
            return copy.deepcopy(self._creates)

    def free_tickets(self, event_id: str, set_id: str | None = None) -> list[str]:
        """Ids of the event's tickets on sale that no live order holds (of one set, if given)."""
        with self.lock:
            held = self._held(event_id, self.clock.now())
            return [
                ticket.id
                for ticket in self._stock.get(event_id, [])
                if ticket.id not in held and (set_id is None or ticket.set.id == set_id)
            ]

    def set_ids(self, event_id: str) -> list[str]:
        return [item.id for event in self._events if event.id == event_id for item in event.sets]

    def tariff_ids(self, set_id: str) -> list[str]:
        return list(self._tariffs.get(set_id, ()))

    # rules
    def _held(self, event_id: str, now: datetime, *, besides: SimOrder | None = None) -> set[str]:
        return {
            ticket.id
            for order in self._orders.values()
            if order.event.id == event_id and order is not besides and self._status(order, now) in HOLDING
            for ticket in order.tickets
        }

    def _pick(
        self, event: SimEvent, body: Mapping[str, Any], now: datetime, *, order: SimOrder | None, partial_ok: bool
    ) -> list[SimTicket]:
        """The tickets ``body`` asks for (``tickets`` or ``random``), kept from ``order`` where it holds them."""
        if "tickets" in body and "random" in body:
            raise HttpError(400, {"errors": ["tickets and random cannot be used together"]})
        held = self._held(event.id, now, besides=order)
        mine = list(order.tickets) if order is not None else []
        if "tickets" in body:
            chosen, missing = self._pick_listed(event, body["tickets"], held, mine)
        elif "random" in body:
            chosen, missing = self._pick_random(event, body["random"], held, mine)
        else:
            raise HttpError(400, {"errors": ["tickets or random is required"]})
        if missing and (not partial_ok or not chosen):
            raise HttpError(400, {"errors": [f"Not enough free tickets: {', '.join(sorted(set(missing)))}"]})
        if not chosen:
            raise HttpError(400, {"errors": ["No free tickets to reserve"]})
        return chosen

    def _pick_listed(
        self, event: SimEvent, wanted: Any, held: set[str], mine: list[SimTicket]
    ) -> tuple[list[SimTicket], list[str]]:
        if not isinstance(wanted, list) or not all(isinstance(item, str) for item in wanted):
            raise HttpError(400, {"errors": ["tickets: expected a list of ticket ids"]})
        stock = {ticket.id: ticket for ticket in self._stock.get(event.id, [])} | {t.id: t for t in mine}
        chosen: list[SimTicket] = []
        missing: list[str] = []
        for ticket_id in dict.fromkeys(wanted):
            ticket = stock.get(ticket_id)
            if ticket is None:
                raise HttpError(400, {"errors": [f"Ticket {ticket_id} not found in event {event.id}"]})
            if ticket_id in held:
                missing.append(ticket_id)
            else:
                chosen.append(ticket)
        return chosen, missing

    def _pick_random(
        self, event: SimEvent, wanted: Any, held: set[str], mine: list[SimTicket]
    ) -> tuple[list[SimTicket], list[str]]:
        if not isinstance(wanted, dict) or not all(
            isinstance(count, int) and not isinstance(count, bool) and count >= 0 for count in wanted.values()
        ):
            raise HttpError(400, {"errors": ["random: expected {set id: count}"]})
        sets = {item.id for item in event.sets}
        chosen: list[SimTicket] = []
        missing: list[str] = []
        for set_id, count in wanted.items():
            if set_id not in sets:
                raise HttpError(400, {"errors": [f"Set {set_id} not found in event {event.id}"]})
            kept = [ticket for ticket in mine if ticket.set.id == set_id][:count]
            free = [
                ticket
                for ticket in self._stock.get(event.id, [])
                if ticket.set.id == set_id and ticket.id not in held and ticket not in kept
            ]
            more = free[: count - len(kept)]
            chosen.extend(kept + more)
            missing.extend([set_id] * (count - len(kept) - len(more)))
        return chosen, missing

    def _apply_lifecycle(self, order: SimOrder, changes: Mapping[str, Any], now: datetime) -> None:
        """Reservation, tariffs and status of one PATCH, all checked before any is applied."""
        status = self._status(order, now)
        if status not in OPEN:
            raise HttpError(400, {"errors": [f"Order {order.id} is {status}: it cannot be changed"]})
        target = changes.get("status")
        if target is not None and target not in ("done", "cancelled"):
            raise HttpError(400, {"errors": [f"status: cannot set {target!r} (done or cancelled)"]})
        tickets = order.tickets
        if "tickets" in changes or "random" in changes:
            tickets = self._pick(order.event, changes, now, order=order, partial_ok=False)
        chosen_tariffs = self._checked_tariffs(order, tickets, changes.get("tariffs"))
        for ticket in order.tickets:
            if ticket not in tickets:
                ticket.tariff = None  # back on sale without its tariff
        order.tickets = list(tickets)
        for ticket in order.tickets:
            if ticket.id in chosen_tariffs:
                ticket.tariff = chosen_tariffs[ticket.id]
        if target is not None:
            order.status = str(target)
            if target == "done":
                order.done_at = now.replace(microsecond=0)

    def _checked_tariffs(self, order: SimOrder, tickets: Sequence[SimTicket], tariffs: Any) -> dict[str, str]:
        if tariffs is None:
            return {}
        if not isinstance(tariffs, dict) or not tariffs:
            raise HttpError(400, {"errors": ["tariffs: expected {ticket id: tariff id}"]})
        by_id = {ticket.id: ticket for ticket in tickets}
        chosen: dict[str, str] = {}
        for ticket_id, tariff in tariffs.items():
            ticket = by_id.get(ticket_id)
            if ticket is None:
                raise HttpError(400, {"errors": [f"Ticket {ticket_id} is not in order {order.id}"]})
            if tariff not in self._tariffs.get(ticket.set.id, ()):
                raise HttpError(400, {"errors": [f"Tariff {tariff} not found for set {ticket.set.id}"]})
            chosen[ticket_id] = str(tariff)
        return chosen

    # routes
    def _create(self, request: Request) -> Response:
        """``POST /v2/resources/orders``: ``{"event", "tickets" | "random", "all_or_nothing", "vendor_data"}``;
        the answer is the new ``executed`` order with its ``expired_after``."""
        body = request.body if isinstance(request.body, Mapping) else {}
        unknown = sorted(set(body) - {"event", "tickets", "random", "all_or_nothing", "vendor_data"})
        if unknown:
            raise HttpError(400, {"errors": [f"{', '.join(unknown)}: not a field of an order"]})
        event_id = body.get("event")
        all_or_nothing = body.get("all_or_nothing", False)
        if not isinstance(all_or_nothing, bool):
            raise HttpError(400, {"errors": ["all_or_nothing: expected a boolean"]})
        vendor_data: dict[str, Any] = {}
        if body.get("vendor_data") is not None:
            try:
                vendor_data = _validate_vendor_data(body["vendor_data"])
            except HttpError as error:
                raise HttpError(400, {"errors": [item["msg"] for item in error.body["errors"]]}) from None
        with self.lock:
            event = next((item for item in self._events if item.id == event_id), None)
            if event is None:
                raise HttpError(400, {"errors": [f"Event {event_id} not found"]})
            now = self.clock.now().replace(microsecond=0)
            tickets = self._pick(event, body, now, order=None, partial_ok=not all_or_nothing)
            self._next_number += 1
            order = SimOrder(
                id=self._hex_id(),
                number=self._next_number,
                code="".join(self.random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=8)),
                event=event,
                created_at=now,
                status="executed",
                tickets=tickets,
                vendor_data=copy.deepcopy(vendor_data),
            )
            self._orders[order.id] = order
            self._creates.append(copy.deepcopy(dict(body)))
            return Response(200, {"data": self._payload(order, now), "refs": self._refs([order])})


STOCK_PER_SET = 30
HOLDING = frozenset({"executed", "in_progress", "done", "refunded"})
"""The statuses in which an order holds its tickets: a cancelled or expired order's tickets are on sale again."""
LIFECYCLE_KEYS = frozenset({"tickets", "random", "tariffs", "status"})


def _split_lifecycle(body: Any) -> tuple[Any, dict[str, Any]]:
    """A PATCH body's lifecycle changes (reservation, tariffs, status) apart from the documented actions."""
    if not isinstance(body, dict):
        return body, {}
    return {k: v for k, v in body.items() if k not in LIFECYCLE_KEYS}, {
        k: v for k, v in body.items() if k in LIFECYCLE_KEYS
    }


REFUND_STATUSES = frozenset({"new", "in_progress", "approved", "rejected"})


@dataclass
class SimRefund:
    id: str
    order_id: str
    event_id: str
    status: str
    culprit: str
    created_at: datetime
    requested_at: datetime
    tickets: tuple[str, ...]
    nominal: Decimal
    policy: str = "general"
    finished_at: datetime | None = None


def _refund_move_refusal(refund: SimRefund, target: Any) -> str | None:
    if target not in ("in_progress", "approved", "rejected"):
        return "status: must be in_progress, approved or rejected"
    if refund.status in ("approved", "rejected"):
        return f"Refund request {refund.id} is {refund.status}: it cannot change"
    if target == "in_progress" and refund.status != "new":
        return f"Refund request {refund.id} is {refund.status}: it cannot go back to in_progress"
    return None


def _within(moment: datetime, bounds: tuple[datetime | None, datetime | None] | None) -> bool:
    if bounds is None:
        return True
    low, high = bounds
    return not ((low is not None and moment < low) or (high is not None and moment > high))


# -- live behaviour ----------------------------------------------------------------------------------------


def live_page_sizes(page_size: int) -> Callable[[int], int]:
    """Live page lengths: every third page (the 2nd, 5th, ...) holds two thirds of ``page_size``."""
    short = max(1, (page_size * 2) // 3)
    return lambda index: short if index % 3 == 1 else page_size


def _live_page(
    matched: Sequence[SimOrder], page: int, page_size: int
) -> tuple[Sequence[SimOrder], dict[str, int] | None]:
    """One page as the live list serves it: some pages short though not the last, and ``pagination`` exact
    (pages 1, 4, ...), missing (2, 5, ...) or counting only its page (3, 6, ...). Every order is on exactly one page
    and a page past the end is empty, so reading until an empty page sees each order once."""
    size_of = live_page_sizes(page_size)
    start = sum(size_of(index) for index in range(page - 1))
    chosen = matched[start : start + size_of(page - 1)]
    kind = (page - 1) % 3
    if kind == 1:
        return chosen, None
    if kind == 2:
        return chosen, {"page": page, "page_size": page_size, "total": len(chosen)}
    return chosen, {"page": page, "page_size": page_size, "total": len(matched)}


def _live_error_body(body: Any) -> Any:
    """``{"errors": [{"code", "msg"}]}`` as the platform sends it live: ``{"errors": ["msg", ...]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return body
    texts = [item.get("msg") or item.get("code", "") if isinstance(item, dict) else item for item in body["errors"]]
    return body | {"errors": texts}


# -- request parsing ---------------------------------------------------------------------------------------


def _split(values: list[str]) -> list[str]:
    """A list parameter, comma-joined (the docs' example) or repeated, or both."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _body_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return _split([value])
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise _error(400, f"invalid_{name}", f"{name}: expected a list of strings")


def _body_scalar(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise _error(400, f"invalid_{name}", f"{name}: expected a string")


def _int_arg(text: str | None, name: str, *, default: int, low: int, high: int | None) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise _error(400, f"invalid_{name}", f"{name}: {text!r} is not an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise _error(400, f"invalid_{name}", f"{name}: {value} is out of range ({bounds})")
    return value


def _validate_patch(body: Any) -> dict[str, Any]:
    """Check a PATCH body against the documented actions and limits; ``400`` naming the field otherwise."""
    if not isinstance(body, dict) or not body:
        raise _error(400, "no_actions", "body: expected an object with at least one action")
    unknown = sorted(set(body) - {"settings", "vendor_data", "promocodes"})
    if unknown:
        raise _error(400, "unknown_field", f"{', '.join(unknown)}: not an order action")
    changes: dict[str, Any] = {}
    if "settings" in body:
        changes["settings"] = _validate_settings(body["settings"])
    if "vendor_data" in body:
        changes["vendor_data"] = _validate_vendor_data(body["vendor_data"])
    if "promocodes" in body:
        codes = body["promocodes"]
        if not isinstance(codes, list) or not codes or not all(isinstance(code, str) and code for code in codes):
            raise _error(400, "invalid_promocodes", "promocodes: expected a non-empty list of strings")
        changes["promocodes"] = codes
    return changes


def _validate_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict) or not settings:
        raise _error(400, "invalid_settings", "settings: expected an object")
    unknown = sorted(set(settings) - {"customer", "send_tickets"})
    if unknown:
        raise _error(400, "unknown_field", f"settings.{', settings.'.join(unknown)}: not an order action")
    checked: dict[str, Any] = {}
    if "send_tickets" in settings:
        if not isinstance(settings["send_tickets"], bool):
            raise _error(400, "invalid_send_tickets", "settings.send_tickets: expected a boolean")
        checked["send_tickets"] = settings["send_tickets"]
    if "customer" in settings:
        customer = settings["customer"]
        if not isinstance(customer, dict) or not customer:
            raise _error(400, "invalid_customer", "settings.customer: expected an object")
        for key, value in customer.items():
            if key not in ("name", "email", "phone", "lang"):
                raise _error(400, "unknown_field", f"settings.customer.{key}: not a customer field")
            if not isinstance(value, str):
                raise _error(400, "invalid_customer", f"settings.customer.{key}: expected a string")
        if "lang" in customer and customer["lang"] not in ("en", "ru"):
            raise _error(400, "invalid_lang", "settings.customer.lang: must be en or ru")
        checked["customer"] = dict(customer)
    return checked


def _validate_vendor_data(vendor_data: Any) -> dict[str, Any]:
    if not isinstance(vendor_data, dict) or not vendor_data:
        raise _error(400, "invalid_vendor_data", "vendor_data: expected an object")
    unknown = sorted(set(vendor_data) - {"order_id", "raw"})
    if unknown:
        raise _error(400, "unknown_field", f"vendor_data.{unknown[0]}: not a vendor_data field")
    order_id = vendor_data.get("order_id")
    if order_id is not None and (not isinstance(order_id, str) or len(order_id) > VENDOR_ORDER_ID_MAX_LENGTH):
        raise _error(
            400, "invalid_vendor_order_id", f"vendor_data.order_id: a string of at most {VENDOR_ORDER_ID_MAX_LENGTH}"
        )
    raw = vendor_data.get("raw")
    if raw is not None:
        if not isinstance(raw, dict):
            raise _error(400, "invalid_raw", "vendor_data.raw: expected an object")
        if len(raw) > RAW_MAX_KEYS:
            raise _error(400, "raw_too_many_keys", f"vendor_data.raw: at most {RAW_MAX_KEYS} keys")
        for key, value in raw.items():
            if len(key) > RAW_MAX_KEY_LENGTH:
                raise _error(400, "raw_key_too_long", f"vendor_data.raw: key {key!r} is over {RAW_MAX_KEY_LENGTH}")
            # strings by the rule; the docs' own example sends true and 3, so scalars pass too
            if isinstance(value, dict | list) or value is None:
                raise _error(400, "raw_value_invalid", f"vendor_data.raw.{key}: values must be strings")
            if isinstance(value, str) and len(value) > RAW_MAX_VALUE_LENGTH:
                raise _error(
                    400, "raw_value_too_long", f"vendor_data.raw.{key}: at most {RAW_MAX_VALUE_LENGTH} characters"
                )
    return dict(vendor_data)


SIMULATOR = TicketscloudSimulator
"""This platform's simulator, as ``simulator_module`` finds it."""


# -- webhooks: the platform calling an integration's URL on every order change ---------------------------------
WEBHOOK_TYPES = {
    "executed": "order_created",
    "in_progress": "order_in_progress",
    "done": "order_done",
    "cancelled": "order_cancelled",
    "expired": "order_expired",
}


@dataclass(frozen=True)
class WebhookFaults:
    """What can go wrong with the platform's calls: each a probability per call (``repeated`` sends the call
    ``repeat_times`` more times; ``out_of_order`` holds it back ``delay_seconds`` so later ones overtake it;
    ``bad_secret`` sends it to the URL with its last path segment replaced)."""

    lost: float = 0.0
    repeated: float = 0.0
    repeat_times: float = 2
    out_of_order: float = 0.0
    delay_seconds: float = 0.5
    bad_secret: float = 0.0


@dataclass(frozen=True)
class WebhookDelivery:
    order_id: str
    type: str
    status: int | None
    """The answer's status; None when the call was lost (never sent) or failed to connect."""
    sent_at: float
    """``time.monotonic()`` when it was sent."""
    changed_at: float
    """``time.monotonic()`` when the order changed."""


class WebhookSender:
    """Sends the simulator's webhook calls from one background thread, in order of the changes unless faults say
    otherwise; ``deliveries`` records every call."""

    def __init__(self, url: str, faults: WebhookFaults, *, seed: int = 1) -> None:
        self.url = url.rstrip("/")
        self.faults = faults
        self.random = random.Random(seed + 7)
        self._queue: queue.Queue[tuple[float, str, str, dict[str, Any], str] | None] = queue.Queue()
        self._deliveries: list[WebhookDelivery] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._deliveries)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ticketscloud-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def notify(self, order_id: str, event_type: str, order: dict[str, Any]) -> None:
        changed_at = time.monotonic()
        faults = self.faults
        if self.random.random() < faults.lost:
            with self._lock:
                self._deliveries.append(WebhookDelivery(order_id, event_type, None, changed_at, changed_at))
            return
        url = self.url
        if self.random.random() < faults.bad_secret:
            url = url.rsplit("/", 1)[0] + "/not-the-secret"
        copies = 1 + (int(faults.repeat_times) if self.random.random() < faults.repeated else 0)
        item = (changed_at, order_id, event_type, copy.deepcopy(order), url)
        for _ in range(copies):
            if self.random.random() < faults.out_of_order:
                timer = threading.Timer(faults.delay_seconds, self._queue.put, args=(item,))
                timer.daemon = True
                self._timers.append(timer)
                timer.start()
            else:
                self._queue.put(item)

    def _run(self) -> None:
        import httpx

        with httpx.Client(timeout=5.0) as client:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                changed_at, order_id, event_type, order, url = item
                status: int | None
                try:
                    status = client.post(url, json={"type": event_type, "data": order}).status_code
                except httpx.HTTPError:
                    status = None
                with self._lock:
                    self._deliveries.append(WebhookDelivery(order_id, event_type, status, time.monotonic(), changed_at))
