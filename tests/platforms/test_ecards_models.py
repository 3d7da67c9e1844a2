"""E-cards payloads: the docs' examples parse and map; records that break the API are quarantined, never mapped;
the create request is what the platform documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from ecards_support import create_request, fixture_bytes, load_fixture
from pydantic import ValidationError

from ordersync.errors import MalformedResponseError
from ordersync.models import Customer, Money, OrderStatus, Platform
from ordersync.platforms.ecards import (
    STATUS_MAP,
    EcardsCreateOrderRequest,
    EcardsOrderPayload,
    EcardsStatus,
    EcardsStatusPayload,
    decode_json,
    decode_status_json,
    parse_page,
    to_order,
)

MOSCOW = ZoneInfo("Europe/Moscow")


def doc_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = dict(load_fixture("list_orders_example.json")["data"][0])
    record.update(changes)
    return record


def envelope(records: list[Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"orders": records, "totalPages": 1, "currentPage": 1, "pageSize": 20}
    body.update(changes)
    return body


# -- the docs' examples ----------------------------------------------------------------------------
def test_doc_list_example_maps_both_orders_newest_first() -> None:
    page = parse_page(load_fixture("list_orders_example.json"), requested_page=1, timezone=MOSCOW)

    assert [order.number for order in page.orders] == ["3048", "3047"]
    assert page.quarantined == ()
    assert (page.page, page.page_size, page.total_pages, page.total) == (1, 20, 1, None)
    first = page.orders[0]
    assert first.platform is Platform.ECARDS
    assert first.order_id == "ef4eb23e-1cf0-4cbe-82c6-c118e5605042"
    assert first.status is OrderStatus.PENDING
    assert first.raw_status == "Created"
    assert first.total == Money(amount=Decimal(2200), currency="RUB")
    assert first.created_at == datetime(2020, 1, 11, 13, 13, 56, 814239, tzinfo=UTC)
    assert first.raw == load_fixture("list_orders_example.json")["data"][0]


def test_doc_create_example_validates_and_serialises_with_the_platforms_names() -> None:
    example = load_fixture("create_order_example.json")

    request = EcardsCreateOrderRequest.model_validate(example)

    assert request.order_id == UUID("b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb")
    assert [(line.id, line.quantity, line.face_value) for line in request.ecards] == [(1, 1, "100 ₽"), (2, 4, "500 ₽")]
    body = request.to_body()
    assert body["orderId"] == "b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb"
    assert body["participant"] == example["participant"]
    assert body["ecards"] == [
        {"id": 1, "quantity": 1, "faceValue": "100 ₽"},
        {"id": 2, "quantity": 4, "faceValue": "500 ₽"},
    ]


def test_doc_status_example_with_its_trailing_comma_reads_as_created() -> None:
    payload = EcardsStatusPayload.model_validate(
        decode_status_json(fixture_bytes("order_status_example_as_documented.txt"))
    )

    assert payload.status is EcardsStatus.CREATED


def test_status_example_without_the_comma_reads_as_created() -> None:
    payload = EcardsStatusPayload.model_validate(decode_status_json(fixture_bytes("order_status_example.json")))

    assert payload.status is EcardsStatus.CREATED


# -- mapping ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw_status", "canonical"),
    [
        ("Created", OrderStatus.PENDING),
        ("Payed", OrderStatus.PAID),
        ("ReadyForDelivery", OrderStatus.PAID),
        ("PartiallyDelivered", OrderStatus.PAID),
        ("AwaitingCertificateAssignment", OrderStatus.PAID),
        ("Delivered", OrderStatus.FULFILLED),
        ("Cancelled", OrderStatus.CANCELLED),
    ],
)
def test_each_platform_status_maps_to_the_design_table(raw_status: str, canonical: OrderStatus) -> None:
    order = to_order(EcardsOrderPayload.model_validate(doc_record(status=raw_status)))

    assert (order.status, order.raw_status) == (canonical, raw_status)


def test_every_platform_status_has_a_canonical_status() -> None:
    assert set(STATUS_MAP) == set(EcardsStatus)


def test_only_delivered_and_cancelled_are_final() -> None:
    final = {status for status, canonical in STATUS_MAP.items() if canonical.is_final}

    assert final == {EcardsStatus.DELIVERED, EcardsStatus.CANCELLED}


def test_zone_less_time_is_read_in_the_configured_zone() -> None:
    payload = EcardsOrderPayload.model_validate(doc_record(createdDate="2020-07-01T12:00:00"))

    assert to_order(payload, timezone="Asia/Yekaterinburg").created_at == datetime(2020, 7, 1, 7, 0, tzinfo=UTC)
    assert to_order(payload, timezone="UTC").created_at == datetime(2020, 7, 1, 12, 0, tzinfo=UTC)


def test_time_with_a_zone_is_kept_and_converted_to_utc() -> None:
    payload = EcardsOrderPayload.model_validate(doc_record(createdDate="2020-07-01T12:00:00+05:00"))

    assert to_order(payload, timezone="Europe/Moscow").created_at == datetime(2020, 7, 1, 7, 0, tzinfo=UTC)


def test_decimal_total_is_exact_when_decoded_from_json_text() -> None:
    body = decode_json(json.dumps(envelope([doc_record(total=0.1)])).encode().replace(b"0.1", b"1234567.89"))

    page = parse_page(body, requested_page=1, timezone=MOSCOW)

    assert page.orders[0].total.amount == Decimal("1234567.89")


def test_plain_email_login_becomes_the_customers_email() -> None:
    order = to_order(EcardsOrderPayload.model_validate(doc_record(participantLogin="anna@example.ru")))

    assert order.customer == Customer(email="anna@example.ru")


def test_company_suffixed_login_is_not_taken_for_an_address() -> None:
    order = to_order(EcardsOrderPayload.model_validate(doc_record()))

    assert order.customer is None
    assert order.raw["participantLogin"] == "sss@ss.ss_company"


def test_fields_the_docs_do_not_list_are_tolerated_and_kept_in_raw() -> None:
    record = doc_record(giftMessage="Happy birthday!")

    page = parse_page(envelope([record]), requested_page=1, timezone=MOSCOW)

    assert page.orders[0].raw["giftMessage"] == "Happy birthday!"


def test_data_and_orders_are_both_read_as_the_array() -> None:
    record = doc_record()
    from_orders = parse_page(envelope([record]), requested_page=1, timezone=MOSCOW)
    body = envelope([])
    del body["orders"]
    body["data"] = [record]

    from_data = parse_page(body, requested_page=1, timezone=MOSCOW)

    assert from_orders.orders == from_data.orders
    assert len(from_data.orders) == 1


# -- quarantine ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"status": "Shipped"}, "status"),
        ({"total": "lots"}, "total"),
        ({"createdDate": "yesterday"}, "createdDate"),
        ({"number": None}, "number"),
    ],
)
def test_a_record_breaking_the_api_is_quarantined_naming_the_field(change: dict[str, Any], field: str) -> None:
    good, bad = doc_record(), doc_record(**change)

    page = parse_page(envelope([bad, good]), requested_page=1, timezone=MOSCOW)

    assert [order.order_id for order in page.orders] == [good["id"]]
    assert len(page.quarantined) == 1
    assert page.quarantined[0].reason.startswith(f"{field}:")
    assert page.quarantined[0].raw == bad


def test_a_record_missing_a_required_field_is_quarantined_with_its_id() -> None:
    bad = doc_record()
    del bad["createdDate"]

    page = parse_page(envelope([bad]), requested_page=1, timezone=MOSCOW)

    assert page.orders == ()
    assert page.quarantined[0].record_id == bad["id"]
    assert "createdDate" in page.quarantined[0].reason


def test_a_record_that_is_not_an_object_is_quarantined() -> None:
    page = parse_page(envelope(["3048", doc_record()]), requested_page=1, timezone=MOSCOW)

    assert len(page.orders) == 1
    assert page.quarantined[0].raw == "3048"
    assert "not an object" in page.quarantined[0].reason


@pytest.mark.parametrize(
    "body",
    [
        {"totalPages": 1, "currentPage": 1, "pageSize": 20},
        {"orders": None, "data": None, "totalPages": 1, "currentPage": 1, "pageSize": 20},
        {"orders": [], "currentPage": 1, "pageSize": 20},
        {"orders": "[]", "totalPages": 1, "currentPage": 1, "pageSize": 20},
        [],
        None,
    ],
)
def test_a_broken_envelope_raises_rather_than_reading_as_an_empty_page(body: Any) -> None:
    with pytest.raises(MalformedResponseError):
        parse_page(body, requested_page=1, timezone=MOSCOW)


# -- decoding --------------------------------------------------------------------------------------
def test_status_decoding_tolerates_only_the_trailing_comma_quirk() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_status_json(b'{"status": "Created",,}')
    with pytest.raises(json.JSONDecodeError):
        decode_status_json(b"{'status': 'Created'}")


def test_list_decoding_does_not_accept_the_trailing_comma() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_json(b'{"orders": [],}')


# -- the create request ----------------------------------------------------------------------------
def test_request_without_order_id_gets_a_fresh_uuid4_once() -> None:
    request = create_request()

    fixed, order_id = request.with_order_id()

    assert order_id.version == 4
    assert fixed.order_id == order_id
    assert fixed.with_order_id() == (fixed, order_id)
    assert request.order_id is None


def test_request_with_order_id_keeps_it() -> None:
    order_id = UUID("b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb")

    assert create_request(order_id).with_order_id()[1] == order_id


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"participant": {"email": "a@b.c", "name": "A"}}, ("participant", "phone")),
        ({"participant": {"email": "not-an-email", "name": "A", "phone": "1"}}, ("participant", "email")),
        ({"ecards": []}, ("ecards",)),
        ({"ecards": [{"id": 1, "quantity": 0, "faceValue": "100 ₽"}]}, ("ecards", 0, "quantity")),
        ({"ecards": [{"id": 1, "quantity": 1}]}, ("ecards", 0, "faceValue")),
        ({"ecards": [{"id": "one", "quantity": 1, "faceValue": "100 ₽"}]}, ("ecards", 0, "id")),
        ({"orderId": "B5AA69DF"}, ("orderId",)),
        ({"unexpected": True}, ("unexpected",)),
    ],
)
def test_invalid_create_request_is_rejected_naming_the_field(change: dict[str, Any], location: tuple[Any, ...]) -> None:
    body = load_fixture("create_order_example.json") | change

    with pytest.raises(ValidationError) as caught:
        EcardsCreateOrderRequest.model_validate(body)

    assert [error["loc"] for error in caught.value.errors()] == [location]


def test_create_request_accepts_python_field_names_too() -> None:
    request = EcardsCreateOrderRequest.model_validate(
        {
            "order_id": "b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb",
            "participant": {"email": "a@b.c", "name": "A", "phone": "1"},
            "ecards": [{"id": 1, "quantity": 1, "face_value": "100 ₽"}],
        }
    )

    assert request.to_body()["ecards"] == [{"id": 1, "quantity": 1, "faceValue": "100 ₽"}]
