"""Refunds as first-class data on fakes: the rules that fold refund requests into an order (``sync.refunds``), the
refund poller (``sync.refund_poll``) and the refund events (``sync.events.record_to_refund_events``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from builders import NOW, Clock, order, stream_record
from fakes import FakeOrderStore, FakePollStateStore, FakeRefundClient

from ordersync import platforms
from ordersync.config import Settings
from ordersync.errors import RetryableError
from ordersync.models import Money, Order, OrderItem, OrderStatus, Platform, RefundRequest, RefundStatus
from ordersync.sync.engine import INITIAL_FROM, PollOptions, PollReport
from ordersync.sync.events import (
    REFUND_SCHEMA_FILES,
    SCHEMA_DIR,
    ChangeType,
    record_to_event,
    record_to_refund_events,
    refund_detail_schemas,
)
from ordersync.sync.records import StoredOrder, canonical_json, content_hash, to_iso
from ordersync.sync.refund_poll import refund_poller_name, run_refund_poller
from ordersync.sync.refunds import apply_refunds

NO_DEADLINE = 900_000
LOOKBACK = timedelta(hours=2)


def two_ticket_order(order_id: str = "a" * 24, *, created_at: datetime = NOW - timedelta(days=10)) -> Order:
    """A done Ticketscloud order of two tickets at 1040.00 each."""
    base = order(order_id, status=OrderStatus.FULFILLED, created_at=created_at, amount="2080.00")
    return base.model_copy(
        update={
            "items": (OrderItem(sku="set1", quantity=2, unit_price=Money(amount=Decimal("1040.00"), currency="RUB")),)
        }
    )


def refund(
    refund_id: str,
    order_id: str = "a" * 24,
    *,
    status: RefundStatus = RefundStatus.APPROVED,
    tickets: tuple[str, ...] = ("ticket1",),
    amount: str = "1000.00",
    created_at: datetime = NOW - timedelta(hours=1),
) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id,
        order_id=order_id,
        status=status,
        culprit="user",
        policy="general",
        amount=Money(amount=Decimal(amount), currency="RUB"),
        ticket_ids=tickets,
        created_at=created_at,
        requested_at=created_at,
        finished_at=None if status.is_open else created_at + timedelta(minutes=30),
    )


# -- the rules ------------------------------------------------------------------------------------------------
def test_an_approved_refund_of_one_of_two_tickets_makes_the_order_partially_refunded_with_its_amount() -> None:
    refunded = apply_refunds(two_ticket_order(), incoming=[refund("r1")])

    assert refunded.status is OrderStatus.PARTIALLY_REFUNDED
    assert refunded.raw_status == "done"
    assert refunded.refunds is not None
    assert refunded.refunds.refunded == Money(amount=Decimal("1000.00"), currency="RUB")
    assert refunded.refunds.refunded_ticket_ids == ("ticket1",)


def test_approved_refunds_of_every_ticket_make_the_order_refunded() -> None:
    partly = apply_refunds(two_ticket_order(), incoming=[refund("r1")])

    refunded = apply_refunds(partly, incoming=[refund("r2", tickets=("ticket2",))])

    assert refunded.status is OrderStatus.REFUNDED
    assert refunded.raw_status == "done"
    assert refunded.refunds is not None
    assert refunded.refunds.refunded.amount == Decimal("2000.00")
    assert refunded.refunds.refunded_ticket_ids == ("ticket1", "ticket2")


def test_an_open_request_leaves_the_status_and_is_listed_as_open() -> None:
    requested = apply_refunds(two_ticket_order(), incoming=[refund("r1", status=RefundStatus.NEW)])

    assert requested.status is OrderStatus.FULFILLED
    assert requested.refunds is not None
    assert requested.refunds.open_requests == ("r1",)
    assert requested.refunds.refunded.amount == 0


def test_a_decided_request_is_not_undone_by_an_earlier_reading_of_it() -> None:
    approved = apply_refunds(two_ticket_order(), incoming=[refund("r1")])

    again = apply_refunds(approved, incoming=[refund("r1", status=RefundStatus.IN_PROGRESS)])

    assert again.refunds == approved.refunds
    assert again.status is OrderStatus.PARTIALLY_REFUNDED


def test_a_rejected_request_refunds_nothing() -> None:
    rejected = apply_refunds(two_ticket_order(), incoming=[refund("r1", status=RefundStatus.REJECTED)])

    assert rejected.status is OrderStatus.FULFILLED
    assert rejected.refunds is not None
    assert rejected.refunds.refunded.amount == 0
    assert rejected.refunds.open_requests == ()


def test_an_order_without_refunds_keeps_the_bytes_and_hash_it_had_before_refunds_existed() -> None:
    placed = two_ticket_order()

    assert "refunds" not in json.loads(canonical_json(placed))
    assert content_hash(placed) == content_hash(placed.model_copy(update={"refunds": None}))


def test_a_list_read_without_refunds_neither_takes_them_away_nor_rewrites_the_order() -> None:
    store = FakeOrderStore()
    placed = two_ticket_order()
    store.seed(apply_refunds(placed, incoming=[refund("r1")]), at=NOW)

    summary = store.save_changed([placed], seen_at=NOW + timedelta(minutes=5))

    assert (summary.unchanged, summary.written) == (1, 0)
    assert store.stored(placed).order.status is OrderStatus.PARTIALLY_REFUNDED


# -- the refund poller ----------------------------------------------------------------------------------------
class RefundPoll:
    def __init__(self, *orders: Order) -> None:
        self.client = FakeRefundClient(Platform.TICKETSCLOUD, orders, max_page_size=4)
        self.store = FakeOrderStore()
        self.state = FakePollStateStore()
        self.clock = Clock()

    def run(self, run_id: str = "run-1", *, remaining: Callable[[], int] | None = None, **options: Any) -> PollReport:
        values: dict[str, Any] = {"lookback": LOOKBACK, "concurrency": 2, "clock": self.clock}
        return run_refund_poller(
            platforms.profile(Platform.TICKETSCLOUD),
            settings=Settings(),
            client=self.client,
            repository=self.store,
            state_repository=self.state,
            remaining_time_ms=remaining or (lambda: NO_DEADLINE),
            run_id=run_id,
            options=PollOptions(**(values | options)),
        )


def order_id(number: int) -> str:
    return f"{number:024x}"


def test_a_refund_run_reads_created_then_finished_windows_until_an_empty_page_and_folds_every_request_in() -> None:
    placed = [two_ticket_order(order_id(n)) for n in range(10)]
    poll = RefundPoll(*placed)
    poll.store.seed(*placed, at=NOW - timedelta(days=1))
    poll.client.short_pages = True  # two rows a page where four were asked: never the end by itself
    poll.client.add_refunds(*(refund(f"r{n:02d}", order_id(n)) for n in range(10)))

    report = poll.run()

    assert report.outcome == "completed"
    assert report.refunds_seen == 10
    assert all(poll.store.stored(item).order.status is OrderStatus.PARTIALLY_REFUNDED for item in placed)
    created = [query for query in poll.client.refund_queries if query.created_to is not None]
    finished = [query for query in poll.client.refund_queries if query.finished_to is not None]
    assert {(query.created_from, query.created_to) for query in created} == {(INITIAL_FROM, NOW)}
    assert {(query.finished_from, query.finished_to) for query in finished} == {(INITIAL_FROM, NOW)}
    assert max(query.page for query in created) >= 6  # five pages of two, then the empty one
    assert poll.state.get(refund_poller_name(Platform.TICKETSCLOUD)).cursor == to_iso(NOW)


def test_the_next_run_reads_both_windows_from_the_cursor_minus_the_look_back() -> None:
    poll = RefundPoll()
    poll.run()
    poll.client.refund_queries.clear()
    poll.clock.advance(timedelta(hours=5))

    poll.run("run-2")

    bounds = {(q.created_from or q.finished_from, q.created_to or q.finished_to) for q in poll.client.refund_queries}
    assert bounds == {(NOW - LOOKBACK, NOW + timedelta(hours=5))}


def test_a_request_for_an_order_never_seen_fetches_the_order_by_id_and_stores_both() -> None:
    unseen = two_ticket_order(order_id(7))
    poll = RefundPoll(unseen)
    poll.client.add_refunds(refund("r1", order_id(7)))

    report = poll.run()

    assert report.outcome == "completed"
    assert poll.client.order_reads == [order_id(7)]
    stored = poll.store.stored(unseen)
    assert stored.order.status is OrderStatus.PARTIALLY_REFUNDED
    assert stored.order.refunds is not None
    assert [request.refund_id for request in stored.order.refunds.requests] == ["r1"]


def test_a_request_whose_order_the_platform_does_not_know_is_quarantined_not_dropped_in_silence() -> None:
    poll = RefundPoll()
    poll.client.add_refunds(refund("r1", order_id(9)))

    report = poll.run()

    assert report.outcome == "completed"
    assert report.quarantined == 1
    assert poll.store.items == {}


def test_a_failed_refund_run_keeps_its_checkpoint_and_the_next_run_resumes_there() -> None:
    placed = [two_ticket_order(order_id(n)) for n in range(12)]
    poll = RefundPoll(*placed)
    poll.store.seed(*placed, at=NOW - timedelta(days=1))
    poll.client.add_refunds(*(refund(f"r{n:02d}", order_id(n)) for n in range(12)))
    original = poll.client.list_refund_requests
    calls = {"n": 0}

    def flaky(query: Any) -> Any:
        calls["n"] += 1
        if query.page == 3:
            raise RetryableError(Platform.TICKETSCLOUD, "HTTP 503", status_code=503)
        return original(query)

    poll.client.list_refund_requests = flaky  # type: ignore[method-assign]
    failed = poll.run()
    poll.client.list_refund_requests = original  # type: ignore[method-assign]
    state = poll.state.get(refund_poller_name(Platform.TICKETSCLOUD))

    assert failed.outcome == "failed"
    assert state.cursor is None
    assert state.checkpoint == {"kind": "refunds", "from": to_iso(INITIAL_FROM), "to": to_iso(NOW)} | {
        "phase": "created",
        "next_page": 3,
    }
    poll.client.refund_queries.clear()
    resumed = poll.run("run-2")
    assert resumed.outcome == "completed"
    assert resumed.resumed
    assert min(query.page for query in poll.client.refund_queries if query.created_to is not None) == 3
    assert all(poll.store.stored(item).order.status is OrderStatus.PARTIALLY_REFUNDED for item in placed)


def test_the_first_refund_run_takes_what_the_refund_watch_left_out_of_the_open_orders_index_once() -> None:
    poll = RefundPoll()
    left = two_ticket_order(order_id(1))
    poll.store.seed(left, at=NOW - timedelta(days=3))
    key = left.key
    poll.store.items[key] = poll.store.items[key].model_copy(update={"next_check_at": NOW + timedelta(days=20)})

    poll.run()
    poll.clock.advance(timedelta(hours=1))
    poll.run("run-2")

    assert poll.store.stored(left).next_check_at is None
    assert poll.store.watch_migrations == 1


# -- the events ----------------------------------------------------------------------------------------------
REFUND_SCHEMAS = {change: json.loads((SCHEMA_DIR / name).read_text()) for change, name in REFUND_SCHEMA_FILES.items()}


def _history(*versions: Order) -> list[StoredOrder]:
    store = FakeOrderStore()
    history = []
    for minute, version in enumerate(versions):
        store.save_changed([version], seen_at=NOW + timedelta(minutes=minute))
        history.append(store.stored(version))
    return history


def test_one_ticket_then_the_other_publish_requested_refunded_and_status_changed_in_the_schemas_shapes() -> None:
    placed = two_ticket_order()
    first = apply_refunds(placed, incoming=[refund("r1")])
    second = apply_refunds(first, incoming=[refund("r2", tickets=("ticket2",), amount="1040.00")])
    old, partly, whole = _history(placed, first, second)

    events_1 = record_to_refund_events(stream_record("MODIFY", new=partly, old=old))
    status_1 = record_to_event(stream_record("MODIFY", new=partly, old=old))
    events_2 = record_to_refund_events(stream_record("MODIFY", new=whole, old=partly))
    status_2 = record_to_event(stream_record("MODIFY", new=whole, old=partly))

    assert [event.detail_type for event in events_1] == [ChangeType.REFUND_REQUESTED, ChangeType.REFUNDED]
    assert [event.detail_type for event in events_2] == [ChangeType.REFUND_REQUESTED, ChangeType.REFUNDED]
    assert status_1 is not None
    assert status_2 is not None
    assert status_1.detail_type is status_2.detail_type is ChangeType.STATUS_CHANGED
    assert (status_1.detail.new_status, status_2.detail.new_status) == ("partially_refunded", "refunded")  # type: ignore[union-attr]
    refunded = json.loads(events_2[1].entry("bus")["Detail"])
    assert refunded["amount"] == {"amount": "1040.00", "currency": "RUB"}
    assert refunded["refunded_total"]["amount"] == "2040.00"
    assert refunded["order_status"] == "refunded"
    for event in events_1 + events_2:
        jsonschema.validate(json.loads(event.entry("bus")["Detail"]), REFUND_SCHEMAS[event.detail_type])


def test_a_request_seen_again_unchanged_publishes_no_refund_event() -> None:
    placed = two_ticket_order()
    requested = apply_refunds(placed, incoming=[refund("r1", status=RefundStatus.NEW)])
    with_more = requested.model_copy(update={"number": "changed"})
    _, before, after = _history(placed, requested, with_more)

    assert record_to_refund_events(stream_record("MODIFY", new=after, old=before)) == []


def test_the_checked_in_refund_schemas_are_the_models_schemas() -> None:
    assert refund_detail_schemas() == REFUND_SCHEMAS


@pytest.mark.parametrize("change", list(REFUND_SCHEMA_FILES))
def test_each_refund_schema_names_its_detail_type(change: ChangeType) -> None:
    assert REFUND_SCHEMAS[change]["title"] == change.value
