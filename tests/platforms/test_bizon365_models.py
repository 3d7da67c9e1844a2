"""Bizon365 payloads: the doc's examples parse and map; the models are strict where it matters and tolerant
elsewhere; queries break no documented limit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bizon365_support import doc_order, load_fixture

from ordersync.errors import ValidationFailedError
from ordersync.models import Customer, Money, OrderItem, OrderStatus, Platform
from ordersync.platforms.bizon365 import (
    Bizon365Order,
    Bizon365OrdersQuery,
    Bizon365OrdersResponse,
    Bizon365PaidFilter,
    build_query,
    iso_currency,
    to_order,
)

MOSCOW = ZoneInfo("Europe/Moscow")


def naive(text: str) -> datetime:
    """A zone-less time, as a caller may pass one: the client reads it in its configured zone."""
    return datetime.fromisoformat(text)


# -- the doc's examples ------------------------------------------------------------------------------
def test_doc_order_example_maps_to_an_unpaid_pending_order() -> None:
    payload = doc_order()

    order = to_order(Bizon365Order.model_validate(payload))

    assert order.platform is Platform.BIZON365
    assert order.order_id == "100407"
    assert order.number == "100407"
    assert order.status is OrderStatus.PENDING
    assert order.raw_status == "unpaid"
    assert order.created_at == datetime(2017, 5, 10, 22, 33, 21, 290000, tzinfo=UTC)
    assert order.total == Money(amount=Decimal(1000), currency="RUB")
    assert order.paid == Money(amount=Decimal(0), currency="RUB")
    assert order.items == (
        OrderItem(sku="kvadro5", quantity=1, unit_price=Money(amount=Decimal(1000), currency="RUB")),
    )
    assert order.customer == Customer(
        name="Имя покупателя Отчество (опционально) Фамилия (опционально)",
        email="'e-mail покупателя",
        phone="+79998887766",
    )
    assert order.raw == payload


def test_doc_order_example_decodes_goods_and_coowners_reward_from_their_strings() -> None:
    parsed = Bizon365Order.model_validate(doc_order())

    assert [(good.id, good.price, good.cnt) for good in parsed.goods] == [("kvadro5", Decimal(1000), 1)]
    assert parsed.coowners_reward == {"id_товара": {"id_совладельца": 420}}
    assert parsed.utm == {}
    assert parsed.tax == Decimal(60)


def test_doc_partially_paid_example_keeps_its_payments_and_maps_to_partially_paid() -> None:
    parsed = Bizon365Order.model_validate(doc_order("order_partially_paid.json"))

    order = to_order(parsed)

    assert parsed.partial_paid == Decimal(300)
    assert parsed.partial_paid_rur == Decimal(300)
    assert [(p.amount, p.cur, p.gate) for p in parsed.payments] == [(Decimal(300), "RUR", "cloudpayments")]
    assert order.status is OrderStatus.PARTIALLY_PAID
    assert order.raw_status == "partially_paid"
    assert order.paid == Money(amount=Decimal(300), currency="RUB")
    assert order.total == Money(amount=Decimal(1000), currency="RUB")


def test_doc_response_example_parses_its_envelope_and_its_order() -> None:
    response = Bizon365OrdersResponse.model_validate(load_fixture("getorders_response.json"))

    orders, quarantined = response.parse_orders()

    assert (response.skip, response.limit, response.total, response.search) == (0, 100, 1, "")
    assert (response.date_begin, response.date_end) == (date(2015, 2, 1), date(2017, 5, 1))
    assert [order.id for order in orders] == ["100407"]
    assert quarantined == []


@pytest.mark.parametrize(
    "example", load_fixture("query_examples.json")["examples"], ids=lambda example: example["name"]
)
def test_doc_query_example_is_sent_as_the_doc_writes_it(example: dict[str, Any]) -> None:
    params = build_query(**example["query"]).params(MOSCOW)

    assert params == {"skip": "0", "limit": "100", **example["sent"]}


# -- status and money --------------------------------------------------------------------------------
def test_paid_true_maps_to_fulfilled_with_the_whole_amount_paid() -> None:
    order = to_order(Bizon365Order.model_validate(doc_order() | {"paid": True}))

    assert (order.status, order.raw_status) == (OrderStatus.FULFILLED, "paid")
    assert order.paid == order.total


def test_payments_without_partial_paid_still_mean_partially_paid_and_are_summed() -> None:
    payments = [{"date": "2017-05-11", "amount": 100, "cur": "RUR"}, {"date": "2017-05-12", "amount": 150.5}]
    payload = doc_order() | {"payments": payments}

    order = to_order(Bizon365Order.model_validate(payload))

    assert order.status is OrderStatus.PARTIALLY_PAID
    assert order.paid == Money(amount=Decimal("250.5"), currency="RUB")


def test_zero_partial_paid_and_no_payments_is_still_unpaid() -> None:
    order = to_order(Bizon365Order.model_validate(doc_order() | {"partialPaid": 0, "payments": None}))

    assert order.status is OrderStatus.PENDING


@pytest.mark.parametrize(("code", "iso"), [("RUR", "RUB"), ("rur", "RUB"), ("UAH", "UAH"), ("EUR", "EUR")])
def test_currency_codes_become_iso_4217(code: str, iso: str) -> None:
    assert iso_currency(code) == iso


def test_fractional_amounts_stay_exact_decimals() -> None:
    order = to_order(Bizon365Order.model_validate(doc_order() | {"amount": 19.99, "currency": "USD"}))

    assert order.total == Money(amount=Decimal("19.99"), currency="USD")


# -- times -------------------------------------------------------------------------------------------
def test_zone_less_created_is_read_in_the_configured_zone() -> None:
    payload = doc_order() | {"created": "2017-05-10T22:33:21"}

    order = to_order(Bizon365Order.model_validate(payload), timezone="Europe/Moscow")

    assert order.created_at == datetime(2017, 5, 10, 19, 33, 21, tzinfo=UTC)


def test_created_with_an_offset_is_converted_to_utc() -> None:
    payload = doc_order() | {"created": "2017-05-11T01:33:21+03:00"}

    order = to_order(Bizon365Order.model_validate(payload), timezone="Asia/Tokyo")

    assert order.created_at == datetime(2017, 5, 10, 22, 33, 21, tzinfo=UTC)


# -- tolerance: both readings of what the doc leaves open ----------------------------------------------
def test_goods_already_an_array_is_accepted() -> None:
    payload = doc_order() | {"goods": [{"_id": "kvadro5", "price": 1000, "cnt": 1}]}

    assert [good.id for good in Bizon365Order.model_validate(payload).goods] == ["kvadro5"]


@pytest.mark.parametrize("empty", ["", "[]", None])
def test_empty_goods_mean_no_items(empty: str | None) -> None:
    order = to_order(Bizon365Order.model_validate(doc_order() | {"goods": empty}))

    assert order.items == ()


@pytest.mark.parametrize("empty", ["", "{}", "[]", None])
def test_empty_coowners_reward_means_none(empty: str | None) -> None:
    parsed = Bizon365Order.model_validate(doc_order() | {"coowners_reward": empty})

    assert not parsed.coowners_reward


def test_coowners_reward_already_an_object_is_accepted() -> None:
    parsed = Bizon365Order.model_validate(doc_order() | {"coowners_reward": {"kvadro5": {"u1": 420}}})

    assert parsed.coowners_reward == {"kvadro5": {"u1": 420}}


def test_string_order_id_and_numeric_good_id_are_accepted() -> None:
    payload = doc_order() | {"_id": "100407", "goods": json.dumps([{"_id": 42, "price": "1000", "cnt": 1}])}

    order = to_order(Bizon365Order.model_validate(payload))

    assert (order.order_id, order.items[0].sku) == ("100407", "42")


def test_fields_the_doc_does_not_list_are_kept() -> None:
    payload = doc_order() | {"new_field": "x"}

    parsed = Bizon365Order.model_validate(payload)

    assert parsed.model_extra == {"new_field": "x"}
    assert to_order(parsed).raw["new_field"] == "x"


def test_a_good_may_carry_its_name() -> None:
    payload = doc_order() | {"goods": '[{"_id":"kvadro5","title":"Квадро 5","price":1000,"cnt":2}]'}

    item = to_order(Bizon365Order.model_validate(payload)).items[0]

    assert (item.name, item.quantity) == ("Квадро 5", 2)


def test_a_customer_without_any_contact_is_none() -> None:
    payload = doc_order() | {"firstname": "", "lastname": None, "middlename": " ", "email": "", "phone": ""}

    assert to_order(Bizon365Order.model_validate(payload)).customer is None


# -- strictness: a changed API is caught, and the bad record is quarantined by field ------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": None}, "amount"),
        ({"amount": "a lot"}, "amount"),
        ({"paid": "maybe"}, "paid"),
        ({"created": "yesterday"}, "created"),
        ({"currency": "RUBLES"}, "currency"),
        ({"goods": "[{broken"}, "goods"),
        ({"goods": '[{"_id":"x","price":1}]'}, "goods.0.cnt"),
        ({"_id": None}, "_id"),
    ],
)
def test_a_record_breaking_a_documented_type_is_quarantined_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    bad = doc_order() | {"_id": 7} | change
    envelope = load_fixture("getorders_response.json") | {"list": [bad, doc_order()], "total": 2}

    orders, quarantined = Bizon365OrdersResponse.model_validate(envelope).parse_orders()

    assert [order.id for order in orders] == ["100407"]
    assert len(quarantined) == 1
    assert quarantined[0].platform is Platform.BIZON365
    assert quarantined[0].reason.startswith(f"{field}:")
    assert quarantined[0].raw == bad


def test_a_missing_required_field_is_quarantined_with_the_record_id() -> None:
    bad = {key: value for key, value in doc_order().items() if key != "paid"}
    envelope = load_fixture("getorders_response.json") | {"list": [bad]}

    _, quarantined = Bizon365OrdersResponse.model_validate(envelope).parse_orders()

    assert (quarantined[0].record_id, quarantined[0].reason) == ("100407", "paid: Field required")


def test_a_record_that_is_not_an_object_is_quarantined() -> None:
    envelope = load_fixture("getorders_response.json") | {"list": ["100407"]}

    orders, quarantined = Bizon365OrdersResponse.model_validate(envelope).parse_orders()

    assert orders == []
    assert quarantined[0].record_id is None


# -- queries -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"skip": -1}, "skip"),
        ({"days": -1}, "days"),
        ({"paid": 4}, "paid"),
        ({"colour": "red"}, "colour"),
        ({"date_begin": naive("2017-05-02T00:00:00"), "date_end": naive("2017-05-01T00:00:00")}, "query"),
    ],
)
def test_a_query_out_of_documented_range_is_refused_naming_the_field(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        build_query(**values)

    assert caught.value.field == field
    assert caught.value.platform is Platform.BIZON365


def test_query_defaults_send_only_skip_and_limit() -> None:
    assert Bizon365OrdersQuery().params(MOSCOW) == {"skip": "0", "limit": "100"}


def test_every_documented_parameter_is_sent() -> None:
    query = build_query(
        skip=200,
        limit=50,
        days=6,
        date_begin=naive("2015-02-01T00:00:00"),
        date_end=naive("2017-05-01T00:00:00"),
        paid=Bizon365PaidFilter.UNPAID_OR_PARTIAL,
        free=True,
        search="ivan@example.com",
    )

    assert query.params(MOSCOW) == {
        "skip": "200",
        "limit": "50",
        "days": "6",
        "dateBegin": "2015-02-01T00:00:00",
        "dateEnd": "2017-05-01T00:00:00",
        "paid": "5",
        "free": "1",
        "search": "ivan@example.com",
    }


def test_aware_dates_are_sent_as_wall_clock_time_of_the_configured_zone() -> None:
    query = build_query(date_begin=datetime(2017, 5, 10, 21, 0, 30, 123, tzinfo=UTC))

    assert query.params(MOSCOW)["dateBegin"] == "2017-05-11T00:00:30"


@pytest.mark.parametrize("code", [-1, 0, 1, 2, 3, 5])
def test_every_documented_paid_code_is_accepted(code: int) -> None:
    assert build_query(paid=code).params(MOSCOW)["paid"] == str(code)


@pytest.mark.parametrize(
    ("echoed", "expected"),
    [("01.02.2015", date(2015, 2, 1)), ("2015-02-01", date(2015, 2, 1)), ("", None), (None, None)],
)
def test_the_echoed_dates_are_read_as_dd_mm_yyyy_or_iso(echoed: str | None, expected: date | None) -> None:
    envelope = load_fixture("getorders_response.json") | {"dateBegin": echoed}

    assert Bizon365OrdersResponse.model_validate(envelope).date_begin == expected


def test_an_unreadable_echoed_date_fails_the_envelope() -> None:
    envelope = load_fixture("getorders_response.json") | {"dateEnd": "someday"}

    with pytest.raises(ValueError, match="dateEnd"):
        Bizon365OrdersResponse.model_validate(envelope)


def test_a_range_is_sent_in_whole_seconds_that_still_cover_it() -> None:
    query = build_query(
        date_begin=datetime(2017, 5, 10, 9, 0, 0, 900000, tzinfo=UTC),
        date_end=datetime(2017, 5, 10, 9, 30, 0, 100000, tzinfo=UTC),
    )

    params = query.params(MOSCOW)

    assert (params["dateBegin"], params["dateEnd"]) == ("2017-05-10T12:00:00", "2017-05-10T12:30:01")
