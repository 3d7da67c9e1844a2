"""Ticketscloud payload models, request models and the mapping onto the canonical order, from the docs' examples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from ticketscloud_support import load_fixture

from ordersync.errors import MalformedResponseError
from ordersync.models import OrderStatus, Platform
from ordersync.platforms.ticketscloud import (
    TicketscloudExportRequest,
    TicketscloudOrder,
    TicketscloudOrderActions,
    TicketscloudOrderEnvelope,
    parse_event_time,
    parse_order_page,
    to_order,
)

PATCH_ORDER_ID = "5bacf64ea0eb2f000c45160a"


def list_order() -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(load_fixture("orders_list_response.json")["data"][0])
    return order


def field_of(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.errors()[0]["loc"])


# -- the docs' examples ------------------------------------------------------------------------------------


def test_list_example_parses_into_one_mapped_order_and_its_pagination() -> None:
    page = parse_order_page(load_fixture("orders_list_response.json"))

    assert page.quarantined == ()
    assert (page.page, page.page_size, page.total, page.total_pages) == (1, 50, 1, 1)
    [order] = page.orders
    assert order.platform is Platform.TICKETSCLOUD
    assert order.order_id == "5d39c3108cd381a4891e07e0"
    assert order.number == "54881"
    assert (order.status, order.raw_status) == (OrderStatus.FULFILLED, "done")
    assert order.created_at == datetime(2019, 7, 25, 11, 56, 16, tzinfo=UTC)  # 14:56:16 Moscow
    assert (order.total.amount, order.total.currency) == (Decimal("156.00"), "RUB")
    assert order.paid == order.total
    assert order.customer is None
    [item] = order.items
    assert (item.sku, item.quantity) == ("5d31fbfa27649b0dff07611b", 1)
    assert item.unit_price is not None
    assert item.unit_price.amount == Decimal("156.00")
    assert order.raw == load_fixture("orders_list_response.json")["data"][0]


def test_customer_example_response_maps_the_customer_and_a_pending_status() -> None:
    envelope = TicketscloudOrderEnvelope.model_validate(load_fixture("patch_customer_response.json"))
    order = to_order(envelope.data)

    assert (order.order_id, order.status, order.raw_status) == (PATCH_ORDER_ID, OrderStatus.PENDING, "executed")
    assert order.customer is not None
    assert order.customer.model_dump() == {
        "name": "Ivan Ivanov",
        "email": "hello@world.ru",
        "phone": "+79991234576",
        "lang": "ru",
    }
    assert order.created_at == datetime(2018, 9, 27, 12, 25, 2, tzinfo=UTC)
    assert order.paid is None


def test_vendor_data_example_response_keeps_non_string_raw_values() -> None:
    envelope = TicketscloudOrderEnvelope.model_validate(load_fixture("patch_vendor_data_response.json"))

    assert envelope.data.vendor_data.order_id == PATCH_ORDER_ID
    assert envelope.data.vendor_data.raw == {"enable_call_to_customer": True, "call_counter": 3}
    assert to_order(envelope.data).raw["vendor_data"]["raw"]["call_counter"] == 3


def test_send_tickets_example_response_reads_the_setting() -> None:
    envelope = TicketscloudOrderEnvelope.model_validate(load_fixture("patch_send_tickets_response.json"))

    assert envelope.data.settings.send_tickets is True
    assert to_order(envelope.data).customer is None


def test_promocode_example_response_maps_the_discounted_total_and_the_set_name() -> None:
    body = load_fixture("patch_promocodes_response.json")
    envelope = TicketscloudOrderEnvelope.model_validate(body)
    order = to_order(envelope.data, refs=envelope.refs)

    assert envelope.data.promocodes == ["5d664d392a4191909a568b40"]
    assert envelope.refs["promocodes"]["5d664d392a4191909a568b40"]["discount"] == {"fix": "100.00"}
    assert order.total.amount == Decimal("946.12")
    [item] = order.items
    assert (item.name, item.quantity) == ("Партер", 1)


def test_percentage_promocode_ref_example_reads_its_discount() -> None:
    ref = load_fixture("promocode_percentage_ref.json")["promocodes"]["5d66b9f9a80b147cadf87583"]

    assert (ref["code"], ref["discount"]) == ("promo5%", {"percentage": "5%"})


def test_promocode_error_example_keeps_the_error_beside_the_data() -> None:
    envelope = TicketscloudOrderEnvelope.model_validate(load_fixture("promocode_error_response.json"))

    assert [(error.code, error.msg) for error in envelope.errors] == [("promocode_not_found", "Promocode not found")]
    assert envelope.data.id == PATCH_ORDER_ID


@pytest.mark.parametrize(
    "name",
    ["patch_customer_request.json", "patch_send_tickets_request.json", "patch_promocodes_request.json"],
)
def test_action_request_examples_round_trip_through_the_actions_model(name: str) -> None:
    body = load_fixture(name)
    flat = {**body.get("settings", {}), **{key: value for key, value in body.items() if key != "settings"}}

    assert TicketscloudOrderActions.model_validate(flat).patch_body() == body


def test_vendor_data_request_example_is_accepted_and_sent_as_strings() -> None:
    body = load_fixture("patch_vendor_data_request.json")

    actions = TicketscloudOrderActions.model_validate(body)

    assert actions.patch_body() == {
        "vendor_data": {"order_id": PATCH_ORDER_ID, "raw": {"enable_call_to_customer": "true", "call_counter": "3"}}
    }


# -- mapping -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_status", "canonical"),
    [
        ("executed", OrderStatus.PENDING),
        ("in_progress", OrderStatus.PENDING),
        ("done", OrderStatus.FULFILLED),
        ("cancelled", OrderStatus.CANCELLED),
        ("canceled", OrderStatus.CANCELLED),
        ("expired", OrderStatus.EXPIRED),
        ("refunded", OrderStatus.REFUNDED),
    ],
)
def test_every_documented_status_maps_as_the_design_table_says(raw_status: str, canonical: OrderStatus) -> None:
    order = to_order(TicketscloudOrder.model_validate(list_order() | {"status": raw_status}))

    assert (order.status, order.raw_status) == (canonical, raw_status)


def test_zone_less_times_are_read_in_the_configured_zone() -> None:
    payload = TicketscloudOrder.model_validate(list_order())

    assert to_order(payload, timezone="Asia/Yekaterinburg").created_at == datetime(2019, 7, 25, 9, 56, 16, tzinfo=UTC)


def test_an_explicit_offset_wins_over_the_configured_zone() -> None:
    payload = TicketscloudOrder.model_validate(list_order() | {"created_at": "2019-07-25T14:56:16+00:00"})

    assert to_order(payload).created_at == datetime(2019, 7, 25, 14, 56, 16, tzinfo=UTC)


def test_rur_currency_setting_is_stored_as_rub() -> None:
    order = to_order(TicketscloudOrder.model_validate(list_order()), currency="RUR")

    assert order.total.currency == "RUB"


def test_tickets_of_one_set_and_price_become_one_item() -> None:
    payload = list_order()
    payload["tickets"] = [payload["tickets"][0] | {"id": f"t{n}"} for n in range(3)]

    [item] = to_order(TicketscloudOrder.model_validate(payload)).items

    assert item.quantity == 3


def test_fields_the_docs_do_not_list_are_tolerated_and_kept_in_raw() -> None:
    record = list_order() | {"brand_new_field": {"x": 1}}

    page = parse_order_page({"data": [record], "pagination": {"page": 1, "page_size": 50, "total": 1}})

    assert page.orders[0].raw["brand_new_field"] == {"x": 1}


# -- quarantine ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"number": "not-a-number"}, "number"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"values": {"full": "lots"}}, "values.full"),
        ({"status": "teleported"}, "status"),
    ],
)
def test_a_bad_record_is_quarantined_with_its_field_and_the_rest_of_the_page_kept(
    change: dict[str, Any], field: str
) -> None:
    good = list_order()
    bad = list_order() | {"id": "5d39c3108cd381a4891e0bad"} | change
    body = {"data": [bad, good], "pagination": {"page": 1, "page_size": 50, "total": 2}}

    page = parse_order_page(body)

    assert [order.order_id for order in page.orders] == [good["id"]]
    [record] = page.quarantined
    assert record.record_id == "5d39c3108cd381a4891e0bad"
    assert record.reason.startswith(field)
    assert record.raw == bad


def test_a_record_missing_a_required_field_is_quarantined() -> None:
    record = list_order()
    del record["values"]

    page = parse_order_page({"data": [record], "pagination": {"page": 1, "page_size": 50, "total": 1}})

    assert page.orders == ()
    assert "values" in page.quarantined[0].reason


def test_an_envelope_without_pagination_parses_as_the_page_asked_for_with_no_total() -> None:
    page = parse_order_page({"data": [list_order()]}, page=3, page_size=200)

    assert (len(page.orders), page.page, page.page_size, page.total, page.total_pages) == (1, 3, 200, None, None)


def test_an_envelope_without_data_is_a_malformed_response_not_an_empty_page() -> None:
    with pytest.raises(MalformedResponseError, match="data"):
        parse_order_page({"pagination": {"page": 1, "page_size": 50, "total": 0}})


def test_event_times_are_read_as_utc_whatever_the_order_zone() -> None:
    assert parse_event_time("2019-08-10 19:00:00") == datetime(2019, 8, 10, 19, 0, tzinfo=UTC)


# -- the actions model -----------------------------------------------------------------------------------------


def test_actions_need_at_least_one_action() -> None:
    with pytest.raises(ValidationError, match="at least one action"):
        TicketscloudOrderActions()


def test_all_four_actions_combine_into_one_body() -> None:
    actions = TicketscloudOrderActions.model_validate(
        {
            "customer": {"name": "Ivan", "lang": "en"},
            "vendor_data": {"order_id": "A-1"},
            "send_tickets": False,
            "promocodes": ["promo100"],
        }
    )

    assert actions.patch_body() == {
        "settings": {"customer": {"name": "Ivan", "lang": "en"}, "send_tickets": False},
        "vendor_data": {"order_id": "A-1"},
        "promocodes": ["promo100"],
    }


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ({"customer": {"lang": "de"}}, "customer.lang"),
        ({"customer": {"email": "not-an-address"}}, "customer.email"),
        ({"customer": {}}, "customer"),
        ({"vendor_data": {"order_id": "x" * 65}}, "vendor_data.order_id"),
        ({"vendor_data": {"raw": {f"k{n}": "v" for n in range(21)}}}, "vendor_data.raw"),
        ({"vendor_data": {"raw": {"k" * 41: "v"}}}, "vendor_data.raw"),
        ({"vendor_data": {"raw": {"k": "v" * 129}}}, "vendor_data.raw"),
        ({"vendor_data": {"raw": {"k": {"nested": "v"}}}}, "vendor_data.raw"),
        ({"vendor_data": {}}, "vendor_data"),
        ({"promocodes": []}, "promocodes"),
        ({"promocodes": [" "]}, "promocodes"),
        ({"send_tickets": "maybe"}, "send_tickets"),
        ({"settings": {"send_tickets": True}}, "settings"),
    ],
)
def test_a_broken_limit_is_a_validation_error_naming_the_field(actions: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TicketscloudOrderActions.model_validate(actions)

    assert field_of(caught.value) == field


def test_limits_at_their_edges_are_accepted() -> None:
    actions = TicketscloudOrderActions.model_validate(
        {"vendor_data": {"order_id": "x" * 64, "raw": {f"{n:040d}": "v" * 128 for n in range(20)}}}
    )

    assert actions.vendor_data is not None
    assert actions.vendor_data.raw is not None
    assert len(actions.vendor_data.raw) == 20


def test_export_request_requires_an_email() -> None:
    with pytest.raises(ValidationError) as caught:
        TicketscloudExportRequest.model_validate({"statuses": ["done"]})

    assert field_of(caught.value) == "email"


def test_export_request_rejects_naive_bounds() -> None:
    with pytest.raises(ValidationError) as caught:
        TicketscloudExportRequest(email="a@b.c", created_from=datetime(2020, 1, 1))  # noqa: DTZ001

    assert field_of(caught.value) == "created_from"
