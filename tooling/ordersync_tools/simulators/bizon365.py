"""A simulator of Bizon365's ``getorders``: seeded orders, every documented parameter, and payments that arrive
later (unpaid, then partially paid, then paid) as the clock moves or when a test calls ``pay``.

The list is served newest first (``created`` descending): the doc shows no ordering, and an order desk's
list of new orders most plausibly leads with the latest one. Free orders (amount 0) are left out unless
``free=1`` asks for them. The doc does not say whether ``free=1`` adds them to the rest or answers them alone: by
default (``live=True``) the simulator takes the harsher reading, free orders only, which a client reading with
``free=1`` alone would pay for with every paid order; ``live=False`` adds them to the rest. Either way the token
must come in ``auth_header`` (``X-Token``, as every public client sends it).
"""

# ruff: noqa: RUF001 - the seeded data is Russian on purpose, as the platform's is

from __future__ import annotations

import copy
import json
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ordersync.models import Platform
from ordersync_tools.simulators.base import HttpError, PlatformSimulator, Request, Response, SimClock

DEFAULT_TOKEN = "bizon365-simulator-token"  # noqa: S105 - the simulator's well-known test token
DEFAULT_PROJECT_ID = "12345"
LOCAL_ENVIRONMENT = {"BIZON365_PROJECT_ID": DEFAULT_PROJECT_ID}
"""What the local runtime sets when the template leaves it empty: the project this simulator serves."""
FIRST_ORDER_ID = 100407
MAX_LIMIT = 100
DEFAULT_DAYS = 14
PAID_CODES = frozenset({-1, 0, 1, 2, 3, 5})

_RATES_TO_RUR = {"RUR": Decimal(1), "UAH": Decimal("2.31"), "EUR": Decimal("98.45"), "USD": Decimal("91.20")}
_CURRENCIES = ("RUR", "UAH", "EUR", "USD")
_CURRENCY_WEIGHTS = (70, 10, 10, 10)
_CATALOGUE = (
    ("kvadro5", "Квадро 5: интенсив", 1000),
    ("webinar-basic", "Вебинар «Основы»", 490),
    ("course-pro", "Курс PRO", 14900),
    ("mentor-30", "Наставничество 30 дней", 29000),
    ("record-access", "Доступ к записи", 990),
    ("workbook", "Рабочая тетрадь", 350),
)
# Names per gender (female, male): (Cyrillic, the Latin form used in e-mail addresses)
_PEOPLE = (
    (("Анна", "anna"), ("Мария", "maria"), ("Елена", "elena")),
    (("Иван", "ivan"), ("Олег", "oleg"), ("Павел", "pavel")),
)
_LAST_NAMES = (
    (("Петрова", "petrova"), ("Кузнецова", "kuznetsova"), ("Орлова", "orlova")),
    (("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"), ("Орлов", "orlov")),
)
_MIDDLE_NAMES = (("", "Сергеевна", "Игоревна"), ("", "Андреевич", "Игоревич"))
_CITIES = (("Москва", "RU"), ("Санкт-Петербург", "RU"), ("Киев", "UA"), ("Berlin", "DE"), ("Алматы", "KZ"))
_GATES = ("yandexkassa", "cloudpayments", "robokassa", "paypal")
_MIN_DATE = datetime(2000, 1, 1, tzinfo=UTC)


class Lifecycle(StrEnum):
    """How a simulated order's payments unfold."""

    PAID = "paid"  # paid at once
    RECURRING = "recurring"  # paid, a recurring payment from the second one on
    FREE = "free"  # amount 0, paid
    STAGED = "staged"  # unpaid, then partially paid, then paid, as the clock moves
    UNPAID = "unpaid"  # never paid unless ``pay`` is called


_LIFECYCLES = (Lifecycle.PAID, Lifecycle.RECURRING, Lifecycle.FREE, Lifecycle.STAGED, Lifecycle.UNPAID)
_LIFECYCLE_WEIGHTS = (34, 6, 8, 37, 15)


@dataclass
class _SimOrder:
    payload: dict[str, Any]
    created: datetime
    lifecycle: Lifecycle
    plan: list[tuple[datetime, Decimal, str]] = field(default_factory=list)  # payments to come: (due, amount, gate)


def format_created(value: datetime) -> str:
    """Bizon365's timestamp shape: ``2017-05-10T22:33:21.290Z``."""
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _number(value: Decimal) -> int | float:
    """Money as the doc encodes it: a JSON number (whole amounts as integers)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _bad_request(field_name: str, message: str) -> HttpError:
    return HttpError(400, {"error": "bad_request", "field": field_name, "message": message})


class Bizon365Simulator(PlatformSimulator):
    """Serves ``GET /api/v2/{project}/orders/getorders`` with the token in ``auth_header`` (default ``X-Token``)."""

    platform = Platform.BIZON365

    def __init__(
        self,
        *,
        orders: int = 100,
        seed: int = 1,
        token: str = DEFAULT_TOKEN,
        clock: SimClock | None = None,
        project_id: str = DEFAULT_PROJECT_ID,
        timezone: str = "Europe/Moscow",
        auth_header: str = "X-Token",
        history_days: int = 21,
        live: bool = True,
    ) -> None:
        super().__init__(seed=seed, clock=clock, live=live)
        self.token = token
        self.project_id = project_id
        self.zone = ZoneInfo(timezone)
        self.auth_header = auth_header.lower()
        self._orders: dict[int, _SimOrder] = {}
        self._next_id = FIRST_ORDER_ID
        now = self.clock.now()
        ages = sorted((self.random.uniform(0, history_days * 86400) for _ in range(orders)), reverse=True)
        with self.lock:
            for age in ages:
                self._create(now - timedelta(seconds=age), self._draw_lifecycle())
            self._apply_due(now)
        self.route("GET", "/api/v2/{project}/orders/getorders", self._get_orders)

    # -- what tests and the local runtime use ------------------------------------------------------
    @property
    def orders(self) -> list[dict[str, Any]]:
        """Every order as the platform would serve it now, newest first (copies)."""
        with self.lock:
            self._apply_due(self.clock.now())
            return [copy.deepcopy(order.payload) for order in self._sorted()]

    def order(self, order_id: int | str) -> dict[str, Any]:
        with self.lock:
            self._apply_due(self.clock.now())
            return copy.deepcopy(self._get(order_id).payload)

    def pending_payments(self, order_id: int | str) -> list[tuple[datetime, Decimal]]:
        """Payments still to come in the order's lifecycle: (when due, amount in the order's currency)."""
        with self.lock:
            return [(due, amount) for due, amount, _ in self._get(order_id).plan]

    def add_orders(self, count: int, *, lifecycle: Lifecycle | None = None) -> list[dict[str, Any]]:
        """New orders arrive now (a random lifecycle each unless one is given); returns them."""
        with self.lock:
            now = self.clock.now()
            created = [self._create(now, lifecycle or self._draw_lifecycle(), plan_from=now) for _ in range(count)]
            return [copy.deepcopy(order.payload) for order in created]

    def pay(
        self, order_id: int | str, amount: Decimal | int | None = None, *, gate: str = "cloudpayments"
    ) -> dict[str, Any]:
        """A payment arrives now: the remainder by default, or part of it (the order becomes partially paid)."""
        with self.lock:
            order = self._get(order_id)
            if order.payload["paid"]:
                raise ValueError(f"order {order_id} is already paid")
            due = Decimal(str(order.payload["amount"])) - self._paid_sum(order)
            payment = due if amount is None else Decimal(amount)
            if payment <= 0 or payment > due:
                raise ValueError(f"payment must be in (0, {due}]")
            self._apply_payment(order, payment, self.clock.now(), gate)
            if order.payload["paid"]:
                order.plan.clear()
            return copy.deepcopy(order.payload)

    def patch_order(self, order_id: int | str, fields: dict[str, Any]) -> None:
        """Overwrite fields of a served order (``None`` removes one): how tests make the API drift."""
        with self.lock:
            payload = self._get(order_id).payload
            for name, value in fields.items():
                if value is None:
                    payload.pop(name, None)
                else:
                    payload[name] = value

    def advance(self, delta: timedelta) -> None:
        """Move the clock; payments whose time has come arrive."""
        self.clock.advance(delta)
        with self.lock:
            self._apply_due(self.clock.now())

    def authenticate(self, request: Request) -> None:
        if request.headers.get(self.auth_header) != self.token:
            raise HttpError(401, {"error": "unauthorized", "message": f"missing or wrong {self.auth_header} token"})

    # -- the route ---------------------------------------------------------------------------------
    def _get_orders(self, request: Request) -> Response:
        if request.path_params["project"] != self.project_id:
            raise HttpError(404, {"error": "not_found", "message": f"project {request.path_params['project']}"})
        skip = _int_arg(request, "skip", default=0, minimum=0)
        limit = _int_arg(request, "limit", default=MAX_LIMIT, minimum=1, maximum=MAX_LIMIT)
        days = _int_arg(request, "days", default=0, minimum=0)
        paid = _int_arg(request, "paid", default=-1)
        if paid not in PAID_CODES:
            raise _bad_request("paid", f"must be one of {sorted(PAID_CODES)}")
        free = request.arg("free") or "0"
        if free not in ("0", "1"):
            raise _bad_request("free", "must be 0 or 1")
        search = (request.arg("search") or "").strip()
        date_begin = self._date_arg(request, "dateBegin", end_of_day=False)
        date_end = self._date_arg(request, "dateEnd", end_of_day=True)
        with self.lock:
            now = self.clock.now()
            self._apply_due(now)
            if days or (date_begin is None and date_end is None):
                today = datetime.combine(now.astimezone(self.zone).date(), time(), tzinfo=self.zone)
                begin, end = today - timedelta(days=days or DEFAULT_DAYS), now
            else:
                begin, end = date_begin or _MIN_DATE, date_end or now
                if begin > end:
                    raise _bad_request("dateBegin", "must not be after dateEnd")
            matches = [
                order
                for order in self._sorted()
                if begin <= order.created <= end
                and _paid_matches(order, paid)
                and self._free_matches(order, free == "1")
                and _search_matches(order.payload, search)
            ]
            page = [copy.deepcopy(order.payload) for order in matches[skip : skip + limit]]
        return Response(
            200,
            {
                "skip": skip,
                "limit": limit,
                "total": len(matches),
                "list": page,
                "dateBegin": f"{begin.astimezone(self.zone):%d.%m.%Y}",
                "dateEnd": f"{end.astimezone(self.zone):%d.%m.%Y}",
                "search": search,
            },
        )

    def _free_matches(self, order: _SimOrder, free: bool) -> bool:
        """Without ``free`` free orders are left out; with ``free=1`` they are all that comes back (live) or
        come back with the rest (``live=False``)."""
        is_free = order.lifecycle is Lifecycle.FREE
        if not free:
            return not is_free
        return is_free or not self.live

    def _date_arg(self, request: Request, name: str, *, end_of_day: bool) -> datetime | None:
        """Loose ISO (``2015-02-01T00:00:00``, ``2015-02-01``); zone-less values are wall-clock in the zone."""
        text = (request.arg(name) or "").strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            raise _bad_request(name, f"not a date: {text!r}") from None
        if end_of_day and len(text) <= 10:
            parsed = parsed + timedelta(days=1) - timedelta(microseconds=1)
        return parsed.replace(tzinfo=self.zone) if parsed.tzinfo is None else parsed

    # -- state -------------------------------------------------------------------------------------
    def _sorted(self) -> list[_SimOrder]:
        return sorted(self._orders.values(), key=lambda order: (order.created, order.payload["_id"]), reverse=True)

    def _get(self, order_id: int | str) -> _SimOrder:
        try:
            return self._orders[int(order_id)]
        except (KeyError, ValueError):
            raise KeyError(f"no order {order_id}") from None

    def _draw_lifecycle(self) -> Lifecycle:
        return self.random.choices(_LIFECYCLES, _LIFECYCLE_WEIGHTS)[0]

    def _create(self, created: datetime, lifecycle: Lifecycle, *, plan_from: datetime | None = None) -> _SimOrder:
        rng = self.random
        order_id = self._next_id
        self._next_id += 1
        currency = "RUR" if lifecycle is Lifecycle.FREE else rng.choices(_CURRENCIES, _CURRENCY_WEIGHTS)[0]
        rate = _RATES_TO_RUR[currency]
        goods: list[dict[str, Any]] = []
        for sku, name, rub_price in rng.sample(_CATALOGUE, rng.choice((1, 1, 1, 2))):
            price = 0 if lifecycle is Lifecycle.FREE else max(1, round(rub_price / rate))
            goods.append({"_id": sku, "title": name, "price": price, "cnt": rng.choice((1, 1, 1, 2))})
        amount = Decimal(sum(good["price"] * good["cnt"] for good in goods))
        gender = rng.randrange(2)
        first, first_latin = rng.choice(_PEOPLE[gender])
        last, last_latin = rng.choice(_LAST_NAMES[gender])
        city, country = rng.choice(_CITIES)
        tax = (amount * Decimal("0.06")).quantize(Decimal(1), ROUND_HALF_UP)
        paid_now = lifecycle in (Lifecycle.PAID, Lifecycle.RECURRING, Lifecycle.FREE)
        coowners = (
            {goods[0]["_id"]: {f"u{rng.randint(1000, 9999)}": int(tax * 7)}} if tax and rng.random() < 0.2 else None
        )
        payload: dict[str, Any] = {
            "_id": order_id,
            "firstname": first,
            "lastname": last,
            "middlename": rng.choice(_MIDDLE_NAMES[gender]),
            "email": f"{first_latin}.{last_latin}{rng.randint(1, 999)}@example.com",
            "phone": f"+7999{rng.randint(0, 9_999_999):07d}",
            "goods": json.dumps(goods, ensure_ascii=False, separators=(",", ":")),
            "title": ", ".join(good["title"] for good in goods),
            "amount": _number(amount),
            "currency": currency,
            "amount_RUR": _number((amount * rate).quantize(Decimal("0.01"))),
            "gate": rng.choice(_GATES) if paid_now and amount else "",
            "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "channel": rng.choice(("", "ch-vk", "ch-mail")),
            "partner": rng.choice(("", "", "ref42")),
            "partner2": "",
            "comment": rng.choice(("", "", "Прошу счёт на юрлицо")),
            "coupon": rng.choice(("", "", "SPRING10")),
            "pixel": "",
            "address": "",
            "city": city,
            "country_code": country,
            "hash": "".join(rng.choices(string.ascii_letters + string.digits, k=9)),
            "created": format_created(created),
            "paid": paid_now,
            "partner_already_rewarded": 0,
            "appear": "",
            "referer": rng.choice(("", "https://vk.com/", "https://example.com/landing")),
            "utm": rng.choice(({}, {"utm_source": "vk", "utm_medium": "cpc", "utm_campaign": "spring"})),
            "sup": "",
            "partner_reward": 0,
            "partner_reward_canceled": 0,
            "partner2_reward": 0,
            "manager_reward": 0,
            "coowners_reward": json.dumps(coowners, separators=(",", ":")) if coowners else "",
            "profit_amount": _number(amount - tax),
            "tax": _number(tax),
        }
        order = _SimOrder(payload, created, lifecycle)
        if lifecycle is Lifecycle.STAGED and amount > 1:
            start = plan_from or created
            first_due = start + timedelta(seconds=rng.uniform(3600, 2 * 86400))
            second_due = first_due + timedelta(seconds=rng.uniform(3600, 3 * 86400))
            part = (amount * Decimal(str(rng.uniform(0.2, 0.6)))).quantize(Decimal(1))
            order.plan = [(first_due, part, rng.choice(_GATES)), (second_due, amount - part, rng.choice(_GATES))]
        self._orders[order_id] = order
        return order

    def _apply_due(self, now: datetime) -> None:
        for order in self._orders.values():
            while order.plan and order.plan[0][0] <= now and not order.payload["paid"]:
                due, amount, gate = order.plan.pop(0)
                self._apply_payment(order, amount, due, gate)

    @staticmethod
    def _paid_sum(order: _SimOrder) -> Decimal:
        return sum((Decimal(str(payment["amount"])) for payment in order.payload.get("payments", ())), Decimal(0))

    def _apply_payment(self, order: _SimOrder, amount: Decimal, at: datetime, gate: str) -> None:
        payload = order.payload
        payload.setdefault("payments", []).append(
            {"date": format_created(at), "amount": _number(amount), "cur": payload["currency"], "gate": gate}
        )
        paid_sum = self._paid_sum(order)
        rate = _RATES_TO_RUR[payload["currency"]]
        payload["partialPaid"] = _number(paid_sum)
        payload["partialPaid_RUR"] = _number((paid_sum * rate).quantize(Decimal("0.01")))
        if paid_sum >= Decimal(str(payload["amount"])):
            payload["paid"] = True
            payload["gate"] = gate


def _int_arg(
    request: Request, name: str, *, default: int, minimum: int | None = None, maximum: int | None = None
) -> int:
    text = request.arg(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise _bad_request(name, f"not an integer: {text!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise _bad_request(name, f"must be {bounds}, got {value}")
    return value


def _paid_matches(order: _SimOrder, code: int) -> bool:
    payload = order.payload
    partial = bool(payload.get("payments"))
    match code:
        case 0:
            return not payload["paid"] and not partial
        case 1:
            return bool(payload["paid"])
        case 2:
            return bool(payload["paid"]) and order.lifecycle is Lifecycle.RECURRING
        case 3:
            return bool(payload["paid"]) and order.lifecycle is not Lifecycle.RECURRING
        case 5:
            return not payload["paid"]
        case _:
            return True


def _search_matches(payload: dict[str, Any], search: str) -> bool:
    if not search:
        return True
    needle = search.casefold()
    fields = (payload["firstname"], payload["lastname"], payload["middlename"], payload["email"], payload["phone"])
    full_name = " ".join(part for part in fields[:3] if part)
    return any(needle in text.casefold() for text in (full_name, *fields))


__all__ = ["DEFAULT_PROJECT_ID", "DEFAULT_TOKEN", "LOCAL_ENVIRONMENT", "Bizon365Simulator", "Lifecycle"]


SIMULATOR = Bizon365Simulator
"""This platform's simulator, as ``simulator_module`` finds it."""
