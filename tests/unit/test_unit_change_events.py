"""Change events (``sync.events``): one event per content change of a stored order, none for bookkeeping."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from builders import NOW, load_event, order, stream_record, with_status
from fakes import FakeOrderStore

from ordersync import composition
from ordersync.models import Order, OrderStatus
from ordersync.sync.events import (
    EVENT_SOURCE,
    SCHEMA_DIR,
    SCHEMA_FILES,
    ChangeType,
    EventDetail,
    OrderStatusChangedDetail,
    changes_to_events,
    record_to_event,
)
from ordersync.sync.records import StoredOrder


def stored_versions(*versions: Order) -> list[StoredOrder]:
    """Each version of an order as the store holds it after writing it, one minute apart."""
    store = FakeOrderStore()
    history = []
    for minute, version in enumerate(versions):
        store.save_changed([version], seen_at=NOW + timedelta(minutes=minute))
        history.append(store.stored(version))
    return history


def test_an_insert_is_order_created_with_version_1_and_no_raw_payload() -> None:
    [new] = stored_versions(order("t1"))

    event = record_to_event(stream_record("INSERT", new=new))

    assert event is not None
    assert event.detail_type is ChangeType.CREATED
    assert (event.detail.order_key, event.detail.version) == ("ticketscloud#t1", 1)
    assert event.detail.changed_at == NOW
    assert "raw" not in event.detail.order.model_dump()


def test_a_status_change_is_order_status_changed_with_both_statuses() -> None:
    placed = order("t1")
    old, new = stored_versions(placed, with_status(placed, OrderStatus.PAID))

    event = record_to_event(stream_record("MODIFY", new=new, old=old))

    assert event is not None
    assert event.detail_type is ChangeType.STATUS_CHANGED
    detail = event.detail
    assert isinstance(detail, OrderStatusChangedDetail)
    assert (detail.old_status, detail.new_status) == (OrderStatus.PENDING, OrderStatus.PAID)
    assert (detail.old_raw_status, detail.new_raw_status) == ("executed", "paid")
    assert (detail.previous_version, detail.version) == (1, 2)
    assert detail.changed_fields == ["raw.status", "raw_status", "status"]


def test_a_change_other_than_status_is_order_changed_naming_the_fields() -> None:
    old, new = stored_versions(order("t1", email="a@example.com"), order("t1", email="b@example.com"))

    event = record_to_event(stream_record("MODIFY", new=new, old=old))

    assert event is not None
    assert event.detail_type is ChangeType.CHANGED
    assert event.detail.changed_fields == ["customer.email"]  # type: ignore[union-attr]


def test_a_bookkeeping_only_modify_publishes_nothing() -> None:
    [stored] = stored_versions(order("t1"))
    rescheduled = stored.model_copy(update={"next_check_at": NOW + timedelta(hours=4)})

    assert record_to_event(stream_record("MODIFY", new=rescheduled, old=stored)) is None


def test_a_removed_item_publishes_nothing() -> None:
    [stored] = stored_versions(order("t1"))

    assert record_to_event(stream_record("REMOVE", old=stored)) is None


def test_a_batch_keeps_stream_order_and_drops_records_without_a_change() -> None:
    placed = order("t1")
    first, second = stored_versions(placed, with_status(placed, OrderStatus.CANCELLED))
    records = [
        stream_record("INSERT", new=first),
        stream_record("MODIFY", new=first.model_copy(update={"next_check_at": NOW}), old=first),
        stream_record("MODIFY", new=second, old=first),
    ]

    events = changes_to_events(records)

    assert [event.detail_type for event in events] == [ChangeType.CREATED, ChangeType.STATUS_CHANGED]


def test_the_eventbridge_entry_carries_source_detail_type_and_the_time_of_the_change() -> None:
    [new] = stored_versions(order("t1"))
    event = record_to_event(stream_record("INSERT", new=new))
    assert event is not None

    entry = event.entry("ordersync-bus")

    assert entry["Source"] == EVENT_SOURCE
    assert entry["DetailType"] == "Order Created"
    assert entry["EventBusName"] == "ordersync-bus"
    assert entry["Time"] == NOW


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("dynamodb-stream-insert.json", ["Order Created"]),
        ("dynamodb-stream-status-change.json", ["Order Status Changed"]),
        ("dynamodb-stream-bookkeeping-only.json", []),
    ],
)
def test_the_sample_stream_events_map_to_their_change_events(sample: str, expected: list[str]) -> None:
    events = changes_to_events(DynamoDBStreamEvent(load_event(sample)).records)

    assert [event.detail_type.value for event in events] == expected


# -- personal data: redacted by default, full on request ------------------------------------------------------
SCHEMAS = {change: json.loads((SCHEMA_DIR / name).read_text()) for change, name in SCHEMA_FILES.items()}


def published_detail(event: Any) -> dict[str, Any]:
    """The event's detail as EventBridge receives it, after checking it against its JSON Schema."""
    detail: dict[str, Any] = json.loads(event.entry("bus")["Detail"])
    jsonschema.validate(detail, SCHEMAS[event.detail_type])
    return detail


def test_a_redacted_event_has_no_customer_and_no_raw_and_matches_its_schema() -> None:
    placed = order("t1", email="ivan@example.com")
    old, new = stored_versions(placed, with_status(placed, OrderStatus.PAID))

    created = record_to_event(stream_record("INSERT", new=old))
    changed = record_to_event(stream_record("MODIFY", new=new, old=old), EventDetail.REDACTED)

    for event in (created, changed):
        assert event is not None
        detail = published_detail(event)
        assert "customer" not in detail["order"]
        assert "raw" not in detail["order"]
        assert "ivan" not in event.entry("bus")["Detail"].lower()


def test_a_full_event_carries_the_customer_and_matches_its_schema() -> None:
    placed = order("t1", email="ivan@example.com")
    old, new = stored_versions(placed, with_status(placed, OrderStatus.PAID))

    for event in (
        record_to_event(stream_record("INSERT", new=old), EventDetail.FULL),
        record_to_event(stream_record("MODIFY", new=new, old=old), EventDetail.FULL),
    ):
        assert event is not None
        detail = published_detail(event)
        assert detail["order"]["customer"]["email"] == "ivan@example.com"
        assert "raw" not in detail["order"]


def test_the_schemas_say_the_customer_is_present_only_in_full_mode() -> None:
    for schema in SCHEMAS.values():
        snapshot = schema["$defs"]["OrderSnapshot"]
        assert "customer" not in snapshot.get("required", [])
        assert "full" in snapshot["properties"]["customer"]["description"]
        assert "redacted" in snapshot["properties"]["customer"]["description"]


@pytest.mark.parametrize(("configured", "has_customer"), [({}, False), ({"EVENT_DETAIL": "full"}, True)])
def test_the_stream_consumer_builds_events_at_the_configured_event_detail(
    monkeypatch: pytest.MonkeyPatch, configured: dict[str, str], has_customer: bool
) -> None:
    monkeypatch.delenv("EVENT_DETAIL", raising=False)
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    composition.reset()
    [new] = stored_versions(order("t1", email="ivan@example.com"))
    try:
        event = composition.change_events()(stream_record("INSERT", new=new))
    finally:
        monkeypatch.undo()
        composition.reset()

    assert event is not None
    assert ("customer" in published_detail(event)["order"]) is has_customer
