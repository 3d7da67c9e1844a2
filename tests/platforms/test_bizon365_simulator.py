"""The Bizon365 simulator behaves as the ``getorders`` doc says, and payments arrive later."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from bizon365_support import raw_get
from ordersync_tools.simulators.base import SimClock
from ordersync_tools.simulators.bizon365 import DEFAULT_TOKEN, Bizon365Simulator, Lifecycle

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


@pytest.fixture
def sim() -> Iterator[Bizon365Simulator]:
    """The milder reading of ``free=1`` (free orders added to the rest); the live default has its own tests."""
    with Bizon365Simulator(orders=60, seed=7, clock=SimClock(NOW), live=False).running() as running:
        yield running


@pytest.fixture
def live() -> Iterator[Bizon365Simulator]:
    with Bizon365Simulator(orders=60, seed=7, clock=SimClock(NOW)).running() as running:
        yield running


def created(payload: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(payload["created"]))


# -- the response and its defaults ---------------------------------------------------------------------
def test_defaults_are_skip_0_limit_100_and_the_last_14_days(sim: Bizon365Simulator) -> None:
    body = raw_get(sim, {}).json()

    window_start = datetime(2026, 11, 6, tzinfo=MOSCOW)
    expected = [order["_id"] for order in sim.orders if created(order) >= window_start and order["amount"]]
    assert (body["skip"], body["limit"], body["search"]) == (0, 100, "")
    assert (body["dateBegin"], body["dateEnd"]) == ("06.11.2026", "20.11.2026")
    assert [order["_id"] for order in body["list"]] == expected
    assert body["total"] == len(expected)
    assert 0 < len(expected) < 60


def test_the_list_is_newest_first(sim: Bizon365Simulator) -> None:
    listed = raw_get(sim, {"days": "30"}).json()["list"]

    times = [created(order) for order in listed]
    assert times == sorted(times, reverse=True)


def test_orders_have_the_documented_shape(sim: Bizon365Simulator) -> None:
    order = raw_get(sim, {"days": "30", "limit": "1"}).json()["list"][0]

    assert {
        "_id",
        "firstname",
        "email",
        "phone",
        "goods",
        "amount",
        "currency",
        "amount_RUR",
        "created",
        "paid",
    } <= set(order)
    assert isinstance(order["_id"], int)
    assert isinstance(order["goods"], str)
    assert isinstance(json.loads(order["goods"]), list)
    assert isinstance(order["utm"], dict)
    assert order["created"].endswith("Z")


def test_data_is_deterministic_for_a_seed() -> None:
    def orders(seed: int) -> list[dict[str, object]]:
        """The orders without their times: those follow the clock, which runs between two simulators."""
        served = Bizon365Simulator(orders=20, seed=seed, clock=SimClock(NOW)).orders
        return [{key: value for key, value in order.items() if key not in ("created", "payments")} for order in served]

    assert orders(3) == orders(3)
    assert orders(3) != orders(4)


def test_seeded_data_covers_every_currency_and_payment_state() -> None:
    orders = Bizon365Simulator(orders=200, seed=1, clock=SimClock(NOW)).orders

    assert {order["currency"] for order in orders} == {"RUR", "UAH", "EUR", "USD"}
    assert any(order["paid"] for order in orders)
    assert any(not order["paid"] and "payments" in order for order in orders)
    assert any(not order["paid"] and "payments" not in order for order in orders)
    assert any(order["amount"] == 0 for order in orders)


# -- paging and filters ----------------------------------------------------------------------------------
def test_skip_and_limit_page_through_the_same_list(sim: Bizon365Simulator) -> None:
    whole = [order["_id"] for order in raw_get(sim, {"days": "30"}).json()["list"]]

    pages = [raw_get(sim, {"days": "30", "skip": str(skip), "limit": "7"}).json() for skip in range(0, 70, 7)]

    assert [order["_id"] for page in pages for order in page["list"]] == whole
    assert {page["total"] for page in pages} == {len(whole)}
    assert pages[1]["skip"] == 7
    assert pages[1]["limit"] == 7


def test_days_counts_today_and_that_many_days_before(sim: Bizon365Simulator) -> None:
    body = raw_get(sim, {"days": "6"}).json()

    window_start = datetime(2026, 11, 14, tzinfo=MOSCOW)
    assert body["dateBegin"] == "14.11.2026"
    assert all(created(order) >= window_start for order in body["list"])
    assert body["total"] == sum(1 for order in sim.orders if created(order) >= window_start and order["amount"])


def test_days_wins_over_dates(sim: Bizon365Simulator) -> None:
    with_dates = raw_get(sim, {"days": "6", "dateBegin": "2020-01-01T00:00:00", "dateEnd": "2020-01-02"}).json()

    assert with_dates == raw_get(sim, {"days": "6"}).json()


def test_days_zero_without_dates_means_14_days(sim: Bizon365Simulator) -> None:
    assert raw_get(sim, {"days": "0"}).json() == raw_get(sim, {}).json()


def test_dates_bound_the_created_time_in_moscow_wall_clock(sim: Bizon365Simulator) -> None:
    body = raw_get(sim, {"dateBegin": "2026-11-10T00:00:00", "dateEnd": "2026-11-12"}).json()

    begin, end = datetime(2026, 11, 10, tzinfo=MOSCOW), datetime(2026, 11, 13, tzinfo=MOSCOW)
    expected = [o["_id"] for o in sim.orders if begin <= created(o) < end and o["amount"]]
    assert [order["_id"] for order in body["list"]] == expected
    assert (body["dateBegin"], body["dateEnd"]) == ("10.11.2026", "12.11.2026")


def test_only_date_begin_runs_until_now(sim: Bizon365Simulator) -> None:
    body = raw_get(sim, {"dateBegin": "2026-11-19"}).json()

    assert body["dateEnd"] == "20.11.2026"
    assert all(created(order) >= datetime(2026, 11, 19, tzinfo=MOSCOW) for order in body["list"])


@pytest.mark.parametrize(
    ("code", "wanted"),
    [
        ("0", lambda o: not o["paid"] and "payments" not in o),
        ("1", lambda o: o["paid"]),
        ("5", lambda o: not o["paid"]),
        ("-1", lambda o: True),
    ],
)
def test_paid_codes_filter_as_documented(sim: Bizon365Simulator, code: str, wanted: object) -> None:
    listed = raw_get(sim, {"days": "30", "paid": code}).json()["list"]

    assert listed
    assert all(wanted(order) for order in listed)  # type: ignore[operator]


def test_paid_2_and_3_split_the_paid_orders_into_recurring_and_the_rest(sim: Bizon365Simulator) -> None:
    def ids(code: str) -> set[int]:
        return {order["_id"] for order in raw_get(sim, {"days": "30", "paid": code}).json()["list"]}

    assert ids("2")
    assert ids("2") | ids("3") == ids("1")
    assert not ids("2") & ids("3")


def test_free_orders_are_listed_only_with_free_1(sim: Bizon365Simulator) -> None:
    without = raw_get(sim, {"days": "30"}).json()["list"]
    with_free = raw_get(sim, {"days": "30", "free": "1"}).json()["list"]

    assert all(order["amount"] > 0 for order in without)
    assert any(order["amount"] == 0 for order in with_free)
    assert {order["_id"] for order in without} < {order["_id"] for order in with_free}


def test_live_free_1_answers_free_orders_only(live: Bizon365Simulator) -> None:
    without = raw_get(live, {"days": "30"}).json()["list"]
    with_free = raw_get(live, {"days": "30", "free": "1"}).json()["list"]

    assert with_free
    assert all(order["amount"] == 0 for order in with_free)
    assert all(order["amount"] > 0 for order in without)
    assert len(without) + len(with_free) == len(live.orders)


def test_a_token_in_another_header_than_x_token_is_refused(live: Bizon365Simulator) -> None:
    response = httpx.get(
        f"{live.base_url}/api/v2/{live.project_id}/orders/getorders", headers={"Authorization": live.token}
    )

    assert response.status_code == 401


def test_search_matches_name_phone_and_email(sim: Bizon365Simulator) -> None:
    target = sim.orders[0]
    for needle in (target["lastname"], target["phone"][-7:], target["email"].upper()):
        listed = raw_get(sim, {"days": "30", "free": "1", "search": needle}).json()

        assert target["_id"] in [order["_id"] for order in listed["list"]]
        assert listed["search"] == needle


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"skip": "-1"}, "skip"),
        ({"days": "-3"}, "days"),
        ({"paid": "4"}, "paid"),
        ({"free": "yes"}, "free"),
        ({"dateBegin": "01.02.2015"}, "dateBegin"),
        ({"dateEnd": "tomorrow"}, "dateEnd"),
        ({"dateBegin": "2017-05-02", "dateEnd": "2017-05-01T00:00:00"}, "dateBegin"),
    ],
)
def test_a_value_out_of_range_gets_400_naming_it(sim: Bizon365Simulator, params: dict[str, str], field: str) -> None:
    response = raw_get(sim, params)

    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_token_gets_401(sim: Bizon365Simulator, token: str | None) -> None:
    assert raw_get(sim, {}, token=token).status_code == 401


def test_the_auth_header_is_configurable() -> None:
    with Bizon365Simulator(orders=1, auth_header="Authorization", token="Bearer t").running() as sim:
        url = f"{sim.base_url}/api/v2/{sim.project_id}/orders/getorders"

        assert httpx.get(url, headers={"Authorization": "Bearer t"}, timeout=5).status_code == 200
        assert httpx.get(url, headers={"X-Token": "Bearer t"}, timeout=5).status_code == 401


def test_another_project_gets_404(sim: Bizon365Simulator) -> None:
    response = httpx.get(f"{sim.base_url}/api/v2/999/orders/getorders", headers={"X-Token": DEFAULT_TOKEN}, timeout=5)

    assert response.status_code == 404


def test_requests_are_recorded_in_order(sim: Bizon365Simulator) -> None:
    raw_get(sim, {"limit": "5"})
    raw_get(sim, {"limit": "500"})

    assert [(r.query.get("limit"), r.status) for r in sim.requests] == [(["5"], 200), (["500"], 400)]


# -- payments that arrive later ------------------------------------------------------------------------
def test_a_staged_order_becomes_partially_paid_then_paid_as_the_clock_moves(sim: Bizon365Simulator) -> None:
    (new,) = sim.add_orders(1, lifecycle=Lifecycle.STAGED)
    (first_due, first_amount), (second_due, _) = sim.pending_payments(new["_id"])
    now = sim.clock.now()

    assert (new["paid"], "payments" in new) == (False, False)
    sim.advance(first_due - now)
    partial = sim.order(new["_id"])
    assert partial["paid"] is False
    assert partial["partialPaid"] == int(first_amount)
    assert [payment["amount"] for payment in partial["payments"]] == [int(first_amount)]
    sim.advance(second_due - first_due)
    paid = sim.order(new["_id"])
    assert paid["paid"] is True
    assert sum(payment["amount"] for payment in paid["payments"]) == paid["amount"]
    assert sim.pending_payments(new["_id"]) == []


def test_a_later_payment_is_visible_over_http(sim: Bizon365Simulator) -> None:
    (new,) = sim.add_orders(1, lifecycle=Lifecycle.STAGED)
    sim.advance(timedelta(days=10))

    listed = raw_get(sim, {"days": "14", "paid": "1"}).json()["list"]

    assert new["_id"] in [order["_id"] for order in listed]


def test_pay_with_a_part_makes_an_order_partially_paid_and_the_rest_paid(sim: Bizon365Simulator) -> None:
    (new,) = sim.add_orders(1, lifecycle=Lifecycle.UNPAID)

    partial = sim.pay(new["_id"], 1)
    paid = sim.pay(new["_id"])

    assert (partial["paid"], partial["partialPaid"], len(partial["payments"])) == (False, 1, 1)
    assert paid["paid"] is True
    assert Decimal(str(paid["partialPaid"])) == Decimal(str(paid["amount"]))
    assert len(paid["payments"]) == 2


def test_pay_refuses_a_paid_order_and_an_overpayment(sim: Bizon365Simulator) -> None:
    (paid,) = sim.add_orders(1, lifecycle=Lifecycle.PAID)
    (unpaid,) = sim.add_orders(1, lifecycle=Lifecycle.UNPAID)

    with pytest.raises(ValueError, match="already paid"):
        sim.pay(paid["_id"])
    with pytest.raises(ValueError, match="payment must be"):
        sim.pay(unpaid["_id"], unpaid["amount"] + 1)
    with pytest.raises(KeyError):
        sim.pay(1, 1)


def test_new_orders_arrive_at_the_top_and_shift_the_pages(sim: Bizon365Simulator) -> None:
    before = raw_get(sim, {"limit": "3"}).json()

    added = sim.add_orders(2, lifecycle=Lifecycle.PAID)
    after = raw_get(sim, {"limit": "3"}).json()

    assert [order["_id"] for order in after["list"]] == [
        added[1]["_id"],
        added[0]["_id"],
        before["list"][0]["_id"],
    ]
    assert after["total"] == before["total"] + 2


def test_patch_order_changes_and_removes_served_fields(sim: Bizon365Simulator) -> None:
    target = sim.orders[0]["_id"]

    sim.patch_order(target, {"amount": "lots", "phone": None})

    assert sim.order(target)["amount"] == "lots"
    assert "phone" not in sim.order(target)
