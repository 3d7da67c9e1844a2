"""From the orders table's Stream to events: one event per content change, valid against its JSON Schema."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema
import pytest
from readpath_support import consume, load_handler, status_poll

from ordersync.aws.event_publisher import EventPublisher, PublishError
from ordersync.models import Platform
from ordersync.sync.events import SCHEMA_DIR, SCHEMA_FILES, ChangeType, detail_schemas

SCHEMAS = {change.value: json.loads((SCHEMA_DIR / name).read_text()) for change, name in SCHEMA_FILES.items()}


def assert_valid(event: dict[str, Any]) -> None:
    assert event["source"] == "ordersync"
    jsonschema.validate(event["detail"], SCHEMAS[event["detail-type"]])
    for name in ("platform", "order_id", "version"):
        assert name in event["detail"]


@pytest.fixture
def consumer(handler_env: None) -> Any:
    return load_handler("stream_consumer")


def test_a_first_sync_publishes_one_order_created_event_per_order(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=40)
    harness.poll()
    records = stream.new_records()

    response = consume(consumer, records)

    events = captured_events.drain()
    assert response == {"batchItemFailures": []}
    assert len(records) == 40
    assert sorted(event["detail"]["order_id"] for event in events) == sorted(harness.truth())
    assert {event["detail-type"] for event in events} == {"Order Created"}
    for event in events:
        assert_valid(event)
        assert event["detail"]["version"] == 1


def test_each_status_change_yields_exactly_one_stream_record_and_one_event(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=60)
    harness.poll("run-1")
    stream.new_records()
    open_ids = sorted(order_id for order_id, raw in harness.truth().items() if raw == "in_progress")
    harness.simulator.pay(open_ids[0])
    harness.simulator.cancel(open_ids[1])
    harness.clock.advance(timedelta(seconds=5))

    harness.poll("run-2", lookback=timedelta(days=30))
    records = stream.new_records()
    consume(consumer, records)

    events = captured_events.drain()
    assert [record["eventName"] for record in records] == ["MODIFY", "MODIFY"]
    assert len(events) == 2
    by_order = {event["detail"]["order_id"]: event for event in events}
    assert by_order[open_ids[0]]["detail-type"] == "Order Status Changed"
    assert by_order[open_ids[0]]["detail"]["old_status"] == "pending"
    assert by_order[open_ids[0]]["detail"]["new_status"] == "fulfilled"
    assert by_order[open_ids[1]]["detail"]["new_status"] == "cancelled"
    assert by_order[open_ids[0]]["detail"]["version"] == 2
    assert by_order[open_ids[0]]["detail"]["previous_version"] == 1
    assert "status" in by_order[open_ids[0]]["detail"]["changed_fields"]
    for event in events:
        assert_valid(event)


def test_a_repeat_poll_leaves_the_stream_untouched(harness_factory, stream) -> None:
    harness = harness_factory(Platform.ECARDS, orders=60)
    harness.poll("run-1")
    stream.new_records()

    harness.poll("run-2", lookback=timedelta(days=30))

    assert stream.new_records() == []


def test_a_change_other_than_status_is_published_as_order_changed_with_its_fields(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.BIZON365, orders=30)
    harness.poll("run-1")
    stream.new_records()
    victim = harness.simulator.orders[0]
    harness.simulator.patch_order(victim["_id"], {"comment": "call back after 18:00"})

    harness.poll("run-2", lookback=timedelta(days=400))
    consume(consumer, stream.new_records())

    events = captured_events.drain()
    assert len(events) == 1
    assert events[0]["detail-type"] == "Order Changed"
    assert events[0]["detail"]["changed_fields"] == ["raw.comment"]
    assert_valid(events[0])


def test_bookkeeping_writes_of_the_status_poller_publish_nothing(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=80)
    harness.poll()
    stream.new_records()
    harness.clock.advance(timedelta(days=2))  # every open order is due; young unpaid ones have expired meanwhile

    report = status_poll(harness)
    records = stream.new_records()
    consume(consumer, records)

    events = captured_events.drain()
    changed = [stored for stored in harness.stored().values() if stored.version == 2]
    assert report.rescheduled > 0
    assert len(records) == report.rescheduled + len(changed)  # bookkeeping writes are stream records too
    assert sorted(event["detail"]["order_id"] for event in events) == sorted(s.order.order_id for s in changed)
    assert {event["detail-type"] for event in events} <= {"Order Status Changed"}


def test_a_broken_record_is_reported_alone_and_the_rest_are_published(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.TICKETSCLOUD, orders=5)
    harness.poll()
    records = stream.new_records()
    broken = json.loads(json.dumps(records[2]))
    del broken["dynamodb"]["NewImage"]["order_z"]
    records[2] = broken

    response = consume(consumer, records)

    assert response == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    assert len(captured_events.drain()) == 4


def test_the_consumer_emits_the_change_to_event_lag_per_platform(
    harness_factory, stream, captured_events, consumer, capsys
) -> None:
    harness = harness_factory(Platform.ECARDS, orders=3)
    harness.poll()
    capsys.readouterr()

    consume(consumer, stream.new_records())

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    lag = [blob for blob in blobs if "ChangeToEventLagSeconds" in blob]
    assert len(lag) == 1
    assert lag[0]["platform"] == "ecards"
    assert len(lag[0]["ChangeToEventLagSeconds"]) == 3
    assert lag[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ordersync"


def test_the_schema_files_match_the_event_models() -> None:
    for change, schema in detail_schemas().items():
        assert SCHEMAS[change.value] == json.loads(json.dumps(schema))


class StubEvents:
    """A ``put_events`` that rejects the entries whose index is in ``reject`` (per call, for ``times`` calls)."""

    def __init__(self, reject: set[int], times: int) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.reject = reject
        self.times = times

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(Entries)
        failing = self.reject if len(self.calls) <= self.times else set()
        results = [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if index in failing else {"EventId": "x"}
            for index in range(len(Entries))
        ]
        return {"FailedEntryCount": sum(1 for result in results if "ErrorCode" in result), "Entries": results}


def sample_events(count: int) -> list[Any]:
    from ordersync.models import Money, Order, OrderStatus
    from ordersync.sync.events import ChangeEvent, OrderCreatedDetail, OrderSnapshot
    from ordersync.sync.records import content_hash

    events = []
    for number in range(count):
        order = Order(
            platform=Platform.ECARDS,
            order_id=f"order-{number}",
            status=OrderStatus.PENDING,
            raw_status="Created",
            created_at="2026-11-22T10:00:00Z",
            total=Money(amount="100.00", currency="RUB"),
        )
        detail = OrderCreatedDetail(
            platform=order.platform,
            order_id=order.order_id,
            order_key=order.key,
            version=1,
            content_hash=content_hash(order),
            changed_at=order.created_at,
            order=OrderSnapshot.of(order),
        )
        events.append(ChangeEvent(detail_type=ChangeType.CREATED, detail=detail))
    return events


def test_the_publisher_sends_events_in_batches_of_ten() -> None:
    stub = StubEvents(reject=set(), times=0)

    published = EventPublisher("bus", events_client=stub).publish(sample_events(25))  # type: ignore[arg-type]

    assert published == 25
    assert [len(call) for call in stub.calls] == [10, 10, 5]


def test_the_publisher_sends_rejected_entries_again_until_they_are_accepted() -> None:
    stub = StubEvents(reject={1, 3}, times=1)
    publisher = EventPublisher("bus", events_client=stub, sleep=lambda _: None)  # type: ignore[arg-type]

    publisher.publish(sample_events(5))

    assert [len(call) for call in stub.calls] == [5, 2]
    assert stub.calls[1] == [stub.calls[0][1], stub.calls[0][3]]


def test_the_publisher_raises_rather_than_drop_events_that_keep_failing() -> None:
    stub = StubEvents(reject={0}, times=100)
    publisher = EventPublisher("bus", events_client=stub, max_attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]

    with pytest.raises(PublishError, match="1 event"):
        publisher.publish(sample_events(3))
    assert len(stub.calls) == 3


def test_the_publisher_waits_a_jittered_bounded_backoff_between_attempts_and_not_after_the_last() -> None:
    stub = StubEvents(reject={0}, times=100)
    waits: list[float] = []
    publisher = EventPublisher(
        "bus",
        events_client=stub,  # type: ignore[arg-type]
        max_attempts=4,
        base_delay=0.1,
        max_delay=0.15,
        sleep=waits.append,
    )

    with pytest.raises(PublishError):
        publisher.publish(sample_events(1))
    assert len(stub.calls) == 4
    assert len(waits) == 3
    assert 0 <= waits[0] <= 0.1
    assert all(0 <= wait <= 0.15 for wait in waits[1:])


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("dynamodb-stream-insert.json", ["Order Created"]),
        ("dynamodb-stream-status-change.json", ["Order Status Changed"]),
        ("dynamodb-stream-bookkeeping-only.json", []),
    ],
)
def test_the_sample_stream_events_map_to_their_change_events(sample: str, expected: list[str]) -> None:
    from pathlib import Path

    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    from ordersync.sync.events import changes_to_events

    body = json.loads((Path(__file__).resolve().parents[2] / "events" / sample).read_text())

    events = changes_to_events(DynamoDBStreamEvent(body).records)

    assert [event.detail_type.value for event in events] == expected
    for event in events:
        jsonschema.validate(json.loads(event.detail_json()), SCHEMAS[event.detail_type.value])


def test_a_change_found_by_the_status_poller_is_not_published_again_by_the_next_list_poll(
    harness_factory, stream, captured_events, consumer
) -> None:
    harness = harness_factory(Platform.ECARDS, orders=20)
    harness.simulator.add_orders(8)  # just created: open, and inside the list poll's look-back
    harness.poll("run-1")
    stream.new_records()
    harness.clock.advance(timedelta(hours=1))  # every open order is due, and young ones have moved on

    status = status_poll(harness)
    after_status = stream.new_records()
    listed = harness.poll("run-2", lookback=timedelta(days=400))
    after_list = stream.new_records()
    consume(consumer, after_status + after_list)

    events = captured_events.drain()
    changed = sorted(order_id for order_id, stored in harness.stored().items() if stored.version == 2)
    assert status.written == len(changed) > 0
    assert listed.written == 0
    assert after_list == []
    assert sorted(event["detail"]["order_id"] for event in events) == changed
    assert {event["detail-type"] for event in events} == {"Order Status Changed"}
