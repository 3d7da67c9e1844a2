"""Ticketscloud refund requests: the simulator's resource and lifecycle, and the client's list read over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from ticketscloud_support import make_client, raw, simulator

from ordersync.errors import MalformedResponseError
from ordersync.models import RefundStatus
from ordersync.platform_port import RefundQuery, RefundReader
from ordersync.platforms.ticketscloud import (
    REFUND_REQUESTS_PATH,
    TicketscloudClient,
    TicketscloudRefundRequest,
    parse_refund_page,
    to_refund_request,
)

MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    with simulator(processing_delay=0.0).running() as running:
        yield running


@pytest.fixture
def client(sim: TicketscloudSimulator) -> Iterator[TicketscloudClient]:
    with make_client(sim) as made:
        yield made


def done_order(sim: TicketscloudSimulator, *, tickets: int = 2) -> str:
    """A fresh order of at least ``tickets`` tickets, paid."""
    while True:
        (order_id,) = sim.add_orders(1)
        if len(sim.order(order_id)["tickets"]) >= tickets:
            sim.pay(order_id)
            return order_id


def ticket_ids(sim: TicketscloudSimulator, order_id: str) -> list[str]:
    return [ticket["id"] for ticket in sim.order(order_id)["tickets"]]


# -- models ---------------------------------------------------------------------------------------------------
def test_a_refund_request_maps_its_moscow_wall_clock_times_to_utc_and_its_nominal_to_decimal() -> None:
    payload = TicketscloudRefundRequest.model_validate(
        {
            "id": "r1",
            "status": "approved",
            "order": "o1",
            "culprit": "user",
            "policy": "law_ru_193",
            "created_at": "2026-03-01 12:00:00",
            "requested_at": "2026-03-01 11:59:00",
            "finished_at": "2026-03-01 13:00:00",
            "refund_nominal": "1000.50",
            "tickets": ["t1"],
        }
    )

    refund = to_refund_request(payload, timezone=MOSCOW)

    assert refund.status is RefundStatus.APPROVED
    assert refund.amount.amount == Decimal("1000.50")
    assert refund.created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    assert refund.finished_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert (refund.culprit, refund.policy, refund.ticket_ids) == ("user", "law_ru_193", ("t1",))


def test_delta_is_read_when_refund_nominal_is_absent() -> None:
    payload = TicketscloudRefundRequest.model_validate(
        {"id": "r1", "status": "new", "order": "o1", "created_at": "2026-03-01 12:00:00", "delta": "15.00"}
    )

    assert to_refund_request(payload).amount.amount == Decimal("15.00")


def test_a_bad_refund_record_is_quarantined_and_a_bad_envelope_is_an_error() -> None:
    page = parse_refund_page(
        {"data": [{"id": "r1", "status": "refunded?", "order": "o1", "created_at": "2026-03-01 12:00:00"}]},
        page=1,
        page_size=10,
    )

    assert page.refunds == ()
    assert [record.record_id for record in page.quarantined] == ["r1"]
    with pytest.raises(MalformedResponseError):
        parse_refund_page({"items": []}, page=1, page_size=10)


# -- the simulator's lifecycle --------------------------------------------------------------------------------
def test_a_refund_request_of_a_done_order_is_created_new_then_approved_by_patch(sim: TicketscloudSimulator) -> None:
    order_id = done_order(sim)
    first = ticket_ids(sim, order_id)[0]

    created = raw(
        sim, "POST", REFUND_REQUESTS_PATH, json_body={"order": order_id, "culprit": "user", "tickets": [first]}
    )
    refund_id = created.json()["data"]["id"]
    approved = raw(sim, "PATCH", f"{REFUND_REQUESTS_PATH}/{refund_id}", json_body={"status": "approved"})

    assert (created.status_code, created.json()["data"]["status"]) == (201, "new")
    assert approved.status_code == 200
    assert approved.json()["data"]["status"] == "approved"
    assert approved.json()["data"]["finished_at"] is not None
    assert sim.order(order_id)["status"] == "done"  # a refund never changes the order's status


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("not_done", "only a done order"),
        ("foreign_ticket", "are not of order"),
        ("twice", "already refunded or in a refund request"),
        ("bad_culprit", "culprit"),
        ("no_tickets", "tickets"),
    ],
)
def test_refusals_are_400_with_a_list_of_strings(sim: TicketscloudSimulator, case: str, fragment: str) -> None:
    order_id = done_order(sim)
    tickets = ticket_ids(sim, order_id)[:1]
    body: dict[str, object] = {"order": order_id, "culprit": "user", "tickets": tickets}
    if case == "not_done":
        (body["order"],) = sim.add_orders(1)
        body["tickets"] = ticket_ids(sim, str(body["order"]))
    elif case == "foreign_ticket":
        body["tickets"] = ["f" * 24]
    elif case == "twice":
        sim.request_refund(order_id, tickets)
    elif case == "bad_culprit":
        body["culprit"] = "nobody"
    else:
        body["tickets"] = []

    refused = raw(sim, "POST", REFUND_REQUESTS_PATH, json_body=body)

    assert refused.status_code == 400
    [message] = refused.json()["errors"]
    assert isinstance(message, str)
    assert fragment in message


def test_no_refund_once_the_event_started(sim: TicketscloudSimulator) -> None:
    order_id = done_order(sim)
    sim.advance(timedelta(days=90))  # every event starts 5 to 60 days after the simulator's start

    with pytest.raises(ValueError, match="has already started"):
        sim.request_refund(order_id)


def test_a_decided_request_cannot_change_again(sim: TicketscloudSimulator) -> None:
    refund_id = sim.request_refund(done_order(sim))
    sim.reject_refund(refund_id)

    again = raw(sim, "PATCH", f"{REFUND_REQUESTS_PATH}/{refund_id}", json_body={"status": "approved"})

    assert again.status_code == 400
    assert "rejected" in again.json()["errors"][0]


def test_approved_refunded_tickets_leave_the_order_unless_asked_with_refunded_tickets(
    sim: TicketscloudSimulator,
) -> None:
    order_id = done_order(sim)
    first = ticket_ids(sim, order_id)[0]
    sim.approve_refund(sim.request_refund(order_id, [first]))

    def listed(**params: str) -> dict[str, object]:
        answer = raw(sim, "GET", params={"page_size": 200} | params).json()
        return next(order for order in answer["data"] if order["id"] == order_id)

    without = listed()
    with_refunded = listed(with_refunded_tickets="true")

    assert first not in [ticket["id"] for ticket in without["tickets"]]  # type: ignore[union-attr]
    assert first in [ticket["id"] for ticket in with_refunded["tickets"]]  # type: ignore[union-attr]
    assert Decimal(without["values"]["full"]) < Decimal(with_refunded["values"]["full"])  # type: ignore[index]


def test_the_simulator_seeds_approved_partial_and_full_refunds() -> None:
    seeded = simulator(orders=100).refund_requests()

    statuses = [refund["status"] for refund in seeded]
    assert statuses.count("approved") >= 2
    assert {"new", "rejected"} <= set(statuses)


# -- the client ------------------------------------------------------------------------------------------------
def test_the_client_is_a_refund_reader(client: TicketscloudClient) -> None:
    assert isinstance(client, RefundReader)


def test_the_client_reads_refund_pages_until_an_empty_one_whatever_the_live_pages_say(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    expected = {refund["id"] for refund in sim.refund_requests()}
    found: set[str] = set()
    page = 1
    while True:
        answer = client.list_refund_requests(RefundQuery(page=page, page_size=2))
        if not answer.refunds:
            break
        assert len(answer.refunds) < 2  # live paging: one row fewer than asked, and still not the end
        found |= {refund.refund_id for refund in answer.refunds}
        page += 1

    assert found == expected


def test_the_client_sends_status_and_both_ranges_in_the_platforms_zone(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    start = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    end = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    client.list_refund_requests(
        RefundQuery(
            created_from=start, created_to=end, finished_from=start, finished_to=end, raw_statuses=("approved",)
        )
    )

    query = sim.requests[-1].query
    assert query["created_at"] == ["2026-02-01T12:00:00,2026-03-01T12:00:00"]
    assert query["finished_at"] == ["2026-02-01T12:00:00,2026-03-01T12:00:00"]
    assert query["status"] == ["approved"]


def test_a_finished_at_window_returns_only_requests_decided_in_it(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    refund_id = sim.request_refund(done_order(sim))
    sim.advance(timedelta(hours=2))
    sim.approve_refund(refund_id)
    decided_at = sim.clock.now()

    answer = client.list_refund_requests(
        RefundQuery(finished_from=decided_at - timedelta(minutes=1), finished_to=decided_at + timedelta(minutes=1))
    )

    assert [refund.refund_id for refund in answer.refunds] == [refund_id]
    assert answer.refunds[0].status is RefundStatus.APPROVED
