"""Refunds as first-class data, end to end: the Ticketscloud simulator's refund requests, the refund poller, the
orders table in moto and the stream consumer publishing to the bus.

A Ticketscloud refund is a refund request and the order stays ``done``: the refund poller folds the requests into
the stored order (a refund summary; ``partially_refunded``, then ``refunded``), and the stream turns them into
``Order Refund Requested``, ``Order Refunded`` and the usual ``Order Status Changed``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from readpath_support import NO_DEADLINE, Harness, consume, load_handler, open_order_ids

from ordersync.models import OrderStatus, Platform
from ordersync.sync.engine import PollReport
from ordersync.sync.events import REFUND_SCHEMA_FILES, SCHEMA_DIR, SCHEMA_FILES
from ordersync.sync.records import to_iso
from ordersync.sync.refund_poll import run_refund_poller

SCHEMAS = {
    change.value: json.loads((SCHEMA_DIR / name).read_text())
    for change, name in (SCHEMA_FILES | REFUND_SCHEMA_FILES).items()
}


@pytest.fixture
def consumer(handler_env: None) -> Any:
    return load_handler("stream_consumer")


@pytest.fixture
def harness(harness_factory: Any) -> Harness:
    built: Harness = harness_factory(Platform.TICKETSCLOUD, orders=10, refunds=False)
    return built


def ticketscloud(harness: Harness) -> TicketscloudSimulator:
    assert isinstance(harness.simulator, TicketscloudSimulator)
    return harness.simulator


def refund_poll(harness: Harness, run_id: str = "refunds-1") -> PollReport:
    return run_refund_poller(
        harness.profile,
        settings=harness.settings,
        client=harness.client,
        repository=harness.repository,
        state_repository=harness.state_repository,
        remaining_time_ms=lambda: NO_DEADLINE,
        run_id=run_id,
        options=harness.options(),
    )


def two_ticket_done_order(harness: Harness) -> tuple[str, list[str], list[Decimal]]:
    """A new order of exactly two tickets, paid: its id, its ticket ids and their nominal prices."""
    sim = ticketscloud(harness)
    while True:
        (order_id,) = sim.add_orders(1)
        tickets = sim.order(order_id)["tickets"]
        if len(tickets) == 2:
            sim.pay(order_id)
            return order_id, [ticket["id"] for ticket in tickets], [Decimal(ticket["nominal"]) for ticket in tickets]
        sim.cancel(order_id)


def events_of(order_id: str, consumer: Any, stream: Any, captured_events: Any) -> list[dict[str, Any]]:
    consume(consumer, stream.new_records())
    return [event for event in captured_events.drain() if event["detail"]["order_id"] == order_id]


def test_one_ticket_then_the_other_is_partially_refunded_then_refunded_with_events_in_the_schemas_shapes(
    harness: Harness, stream: Any, captured_events: Any, consumer: Any
) -> None:
    sim = ticketscloud(harness)
    order_id, tickets, prices = two_ticket_done_order(harness)
    harness.clock.advance(timedelta(minutes=1))
    harness.poll("orders-1")
    events_of(order_id, consumer, stream, captured_events)
    sim.approve_refund(sim.request_refund(order_id, [tickets[0]]))
    harness.clock.advance(timedelta(minutes=5))

    first = refund_poll(harness, "refunds-1")
    partly = harness.stored()[order_id]
    first_events = events_of(order_id, consumer, stream, captured_events)
    harness.clock.advance(timedelta(minutes=5))
    sim.approve_refund(sim.request_refund(order_id, [tickets[1]]))
    harness.clock.advance(timedelta(minutes=5))
    second = refund_poll(harness, "refunds-2")
    whole = harness.stored()[order_id]
    second_events = events_of(order_id, consumer, stream, captured_events)

    assert (first.outcome, second.outcome) == ("completed", "completed")
    assert (partly.order.status, partly.order.raw_status) == (OrderStatus.PARTIALLY_REFUNDED, "done")
    assert partly.order.refunds is not None
    assert partly.order.refunds.refunded.amount == prices[0]
    assert (whole.order.status, whole.order.raw_status) == (OrderStatus.REFUNDED, "done")
    assert whole.order.refunds is not None
    assert whole.order.refunds.refunded.amount == prices[0] + prices[1]
    assert whole.order.refunds.refunded_ticket_ids == tuple(sorted(tickets))
    for events, new_status in ((first_events, "partially_refunded"), (second_events, "refunded")):
        kinds = sorted(event["detail-type"] for event in events)
        assert kinds == ["Order Refund Requested", "Order Refunded", "Order Status Changed"]
        changed = next(event["detail"] for event in events if event["detail-type"] == "Order Status Changed")
        assert (changed["old_raw_status"], changed["new_raw_status"]) == ("done", "done")
        assert changed["new_status"] == new_status
        for event in events:
            jsonschema.validate(event["detail"], SCHEMAS[event["detail-type"]])
    refunded = next(event["detail"] for event in second_events if event["detail-type"] == "Order Refunded")
    assert Decimal(refunded["amount"]["amount"]) == prices[1]
    assert Decimal(refunded["refunded_total"]["amount"]) == prices[0] + prices[1]
    assert order_id not in open_order_ids(harness)


def test_a_list_poll_after_a_refund_keeps_the_refund_and_publishes_nothing(
    harness: Harness, stream: Any, captured_events: Any, consumer: Any
) -> None:
    sim = ticketscloud(harness)
    order_id, tickets, _ = two_ticket_done_order(harness)
    harness.poll("orders-1")
    sim.approve_refund(sim.request_refund(order_id, tickets[:1]))
    harness.clock.advance(timedelta(minutes=5))
    refund_poll(harness)
    before = harness.stored()[order_id]
    events_of(order_id, consumer, stream, captured_events)
    harness.clock.advance(timedelta(minutes=5))

    harness.poll("orders-2")

    after = harness.stored()[order_id]
    assert after.version == before.version
    assert after.order.status is OrderStatus.PARTIALLY_REFUNDED
    assert events_of(order_id, consumer, stream, captured_events) == []


def test_an_open_request_is_refund_requested_and_leaves_the_status(
    harness: Harness, stream: Any, captured_events: Any, consumer: Any
) -> None:
    sim = ticketscloud(harness)
    order_id, tickets, _ = two_ticket_done_order(harness)
    harness.poll("orders-1")
    events_of(order_id, consumer, stream, captured_events)
    refund_id = sim.request_refund(order_id, tickets[:1])
    harness.clock.advance(timedelta(minutes=5))

    refund_poll(harness)

    stored = harness.stored()[order_id]
    events = events_of(order_id, consumer, stream, captured_events)
    assert stored.order.status is OrderStatus.FULFILLED
    assert stored.order.refunds is not None
    assert stored.order.refunds.open_requests == (refund_id,)
    assert sorted(event["detail-type"] for event in events) == ["Order Changed", "Order Refund Requested"]


def test_a_refund_request_of_an_order_never_seen_fetches_the_order_by_id_and_stores_both(
    harness: Harness, stream: Any, captured_events: Any, consumer: Any
) -> None:
    sim = ticketscloud(harness)
    order_id, tickets, _ = two_ticket_done_order(harness)
    sim.approve_refund(sim.request_refund(order_id, tickets))
    harness.clock.advance(timedelta(minutes=5))

    report = refund_poll(harness)

    stored = harness.stored()[order_id]
    events = events_of(order_id, consumer, stream, captured_events)
    assert report.outcome == "completed"
    assert any(request.path == f"/v2/resources/orders/{order_id}" for request in sim.requests)
    assert stored.order.status is OrderStatus.REFUNDED
    assert sorted(event["detail-type"] for event in events) == [
        "Order Created",
        "Order Refund Requested",
        "Order Refunded",
    ]


def test_done_orders_do_not_sit_in_the_open_orders_index(harness: Harness) -> None:
    sim = ticketscloud(harness)
    order_id, _, _ = two_ticket_done_order(harness)

    harness.poll("orders-1")

    assert harness.stored()[order_id].order.status is OrderStatus.FULFILLED
    assert harness.stored()[order_id].next_check_at is None
    done = {order for order, status in harness.truth().items() if status == "done"}
    assert done
    assert not done & open_order_ids(harness)
    assert sim.order(order_id)["status"] == "done"


def test_the_first_refund_run_takes_the_refund_watchs_leftovers_out_of_the_index_once(
    harness: Harness, dynamodb: Any
) -> None:
    order_id, _, _ = two_ticket_done_order(harness)
    harness.poll("orders-1")
    key = {"pk": {"S": f"ticketscloud#{order_id}"}}
    left_until = datetime.now(UTC) + timedelta(days=25)
    dynamodb.update_item(  # what the refund watch left on a done order
        TableName=harness.repository.table_name,
        Key=key,
        UpdateExpression="SET open_platform = :p, next_check_at = :n, watch_until = :w",
        ExpressionAttributeValues={
            ":p": {"S": "ticketscloud"},
            ":n": {"S": to_iso(left_until - timedelta(days=1))},
            ":w": {"S": to_iso(left_until)},
        },
    )
    assert order_id in open_order_ids(harness)

    assert harness.repository.end_refund_watch(Platform.TICKETSCLOUD) == 1
    assert harness.repository.end_refund_watch(Platform.TICKETSCLOUD) == 0  # idempotent
    dynamodb.update_item(
        TableName=harness.repository.table_name,
        Key=key,
        UpdateExpression="SET open_platform = :p, next_check_at = :n, watch_until = :w",
        ExpressionAttributeValues={
            ":p": {"S": "ticketscloud"},
            ":n": {"S": to_iso(left_until - timedelta(days=1))},
            ":w": {"S": to_iso(left_until)},
        },
    )
    refund_poll(harness, "refunds-1")  # the first run of the refund poller does it
    item = dynamodb.get_item(TableName=harness.repository.table_name, Key=key)["Item"]

    assert order_id not in open_order_ids(harness)
    assert "watch_until" not in item
    assert "next_check_at" not in item
