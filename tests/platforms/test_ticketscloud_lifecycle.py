"""The reseller's Ticketscloud order lifecycle over real HTTP: the simulator's create, reservation, tariffs,
finish and cancel with their documented refusals (``400 {"errors": [strings]}``), and the client's calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from ticketscloud_support import make_client, raw, simulator

from ordersync.errors import OutcomeUnknownError, PermanentError
from ordersync.platforms.ticketscloud import TicketscloudClient


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    with simulator(processing_delay=0.0).running() as running:
        yield running


@pytest.fixture
def client(sim: TicketscloudSimulator) -> Iterator[TicketscloudClient]:
    with make_client(sim) as made:
        yield made


def first_set(sim: TicketscloudSimulator) -> tuple[str, str]:
    event = sim.event_ids[0]
    return event, sim.set_ids(event)[0]


def create(sim: TicketscloudSimulator, body: dict[str, Any]) -> Any:
    return raw(sim, "POST", json_body=body)


def ticket_ids(sim: TicketscloudSimulator, order_id: str) -> list[str]:
    return [ticket["id"] for ticket in sim.order(order_id)["tickets"]]


# -- create -------------------------------------------------------------------------------------------------------
def test_a_create_with_random_reserves_that_many_tickets_of_the_set_in_an_executed_order_expiring_in_15_minutes(
    sim: TicketscloudSimulator,
) -> None:
    event, set_id = first_set(sim)
    free_before = len(sim.free_tickets(event, set_id))

    answer = create(sim, {"event": event, "random": {set_id: 2}})

    order = answer.json()["data"]
    assert answer.status_code == 200
    assert order["status"] == "executed"
    assert [ticket["set"] for ticket in order["tickets"]] == [set_id, set_id]
    assert order["expired_after"] > order["created_at"]
    assert len(sim.free_tickets(event, set_id)) == free_before - 2


def test_a_create_with_tickets_reserves_exactly_those_seats(sim: TicketscloudSimulator) -> None:
    event, set_id = first_set(sim)
    seats = sim.free_tickets(event, set_id)[:3]

    order = create(sim, {"event": event, "tickets": seats}).json()["data"]

    assert sorted(ticket["id"] for ticket in order["tickets"]) == sorted(seats)


def test_a_create_with_both_tickets_and_random_is_refused_with_a_list_of_strings(sim: TicketscloudSimulator) -> None:
    event, set_id = first_set(sim)
    seat = sim.free_tickets(event, set_id)[0]

    answer = create(sim, {"event": event, "tickets": [seat], "random": {set_id: 1}})

    assert answer.status_code == 400
    assert answer.json() == {"errors": ["tickets and random cannot be used together"]}


def test_a_create_for_an_unknown_event_is_refused_naming_it(sim: TicketscloudSimulator) -> None:
    answer = create(sim, {"event": "0" * 24, "random": {"1" * 24: 1}})

    assert answer.status_code == 400
    assert answer.json() == {"errors": [f"Event {'0' * 24} not found"]}


def test_all_or_nothing_refuses_a_create_that_cannot_have_every_ticket_and_reserves_none(
    sim: TicketscloudSimulator,
) -> None:
    event, set_id = first_set(sim)
    free = sim.free_tickets(event, set_id)

    answer = create(sim, {"event": event, "random": {set_id: len(free) + 1}, "all_or_nothing": True})

    assert answer.status_code == 400
    assert sim.free_tickets(event, set_id) == free


def test_without_all_or_nothing_a_create_reserves_what_is_free(sim: TicketscloudSimulator) -> None:
    event, set_id = first_set(sim)
    free = sim.free_tickets(event, set_id)

    order = create(sim, {"event": event, "random": {set_id: len(free) + 1}}).json()["data"]

    assert len(order["tickets"]) == len(free)


def test_a_seat_another_live_order_holds_cannot_be_reserved(sim: TicketscloudSimulator) -> None:
    event, set_id = first_set(sim)
    seat = sim.free_tickets(event, set_id)[0]
    create(sim, {"event": event, "tickets": [seat]})

    answer = create(sim, {"event": event, "tickets": [seat]})

    assert answer.status_code == 400
    assert answer.json() == {"errors": [f"Not enough free tickets: {seat}"]}


def test_an_unpaid_order_expires_after_15_minutes_and_its_tickets_are_on_sale_again(
    sim: TicketscloudSimulator,
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]

    sim.advance(timedelta(minutes=15))

    assert sim.order(order["id"])["status"] == "expired"
    assert order["tickets"][0]["id"] in sim.free_tickets(event, set_id)


def test_a_create_keeps_the_vendor_data_sent_with_it(sim: TicketscloudSimulator) -> None:
    event, set_id = first_set(sim)

    order = create(
        sim, {"event": event, "random": {set_id: 1}, "vendor_data": {"order_id": "crm-7", "raw": {"k": "v"}}}
    ).json()["data"]

    assert order["vendor_data"] == {"order_id": "crm-7", "raw": {"k": "v"}}


# -- reservation, tariffs, finish, cancel ---------------------------------------------------------------------------
def test_a_reservation_patch_is_the_whole_desired_state_and_releases_the_tickets_left_out(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 2}}).json()["data"]
    kept, dropped = (ticket["id"] for ticket in order["tickets"])
    added = sim.free_tickets(event, set_id)[0]

    client.change_order(order["id"], {"tickets": [kept, added]})

    assert sorted(ticket_ids(sim, order["id"])) == sorted([kept, added])
    assert dropped in sim.free_tickets(event, set_id)


def test_a_random_reservation_patch_keeps_held_tickets_of_the_set_and_adds_free_ones(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]

    client.change_order(order["id"], {"random": {set_id: 3}})

    held = ticket_ids(sim, order["id"])
    assert len(held) == 3
    assert order["tickets"][0]["id"] in held


def test_tariffs_show_on_the_tickets_and_an_unknown_tariff_is_refused(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]
    ticket = order["tickets"][0]["id"]
    tariff = sim.tariff_ids(set_id)[1]

    client.change_order(order["id"], {"tariffs": {ticket: tariff}})
    refused = raw(sim, "PATCH", f"/v2/resources/orders/{order['id']}", json_body={"tariffs": {ticket: "f" * 24}})

    assert sim.order(order["id"])["tickets"][0]["tariff"] == tariff
    assert refused.status_code == 400
    assert refused.json() == {"errors": [f"Tariff {'f' * 24} not found for set {set_id}"]}


def test_finishing_an_order_makes_it_done_with_barcodes_and_a_later_patch_is_refused_400(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]
    assert order["tickets"][0]["barcode"] is None

    result = client.change_order(order["id"], {"status": "done"})

    assert result.order.raw_status == "done"
    assert sim.order(order["id"])["tickets"][0]["barcode"]
    with pytest.raises(PermanentError) as refused:
        client.change_order(order["id"], {"status": "cancelled"})
    assert refused.value.status_code == 400


def test_cancelling_an_order_puts_its_tickets_on_sale_again(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]

    client.change_order(order["id"], {"status": "cancelled"})

    assert sim.order(order["id"])["status"] == "cancelled"
    assert order["tickets"][0]["id"] in sim.free_tickets(event, set_id)


def test_a_cancelled_order_cannot_be_changed(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    event, set_id = first_set(sim)
    order = create(sim, {"event": event, "random": {set_id: 1}}).json()["data"]
    client.change_order(order["id"], {"status": "cancelled"})

    refused = raw(sim, "PATCH", f"/v2/resources/orders/{order['id']}", json_body={"random": {set_id: 2}})

    assert refused.status_code == 400
    assert refused.json() == {"errors": [f"Order {order['id']} is cancelled: it cannot be changed"]}


# -- the client -------------------------------------------------------------------------------------------------------
def test_the_client_creates_an_order_and_maps_it(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    event, set_id = first_set(sim)

    result = client.create_order({"event": event, "random": {set_id: 2}})

    assert result.order.raw_status == "executed"
    assert result.raw is not None
    assert result.raw.expired_after is not None
    assert result.order.order_id in sim.order_ids()


def test_a_refused_create_raises_permanent_error_with_the_platform_messages(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    with pytest.raises(PermanentError) as refused:
        client.create_order({"event": "0" * 24, "random": {"1" * 24: 1}})

    assert refused.value.body == {"errors": [f"Event {'0' * 24} not found"]}


def test_a_create_whose_answer_is_unreadable_is_an_unknown_outcome_and_is_not_retried_by_the_transport(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event, set_id = first_set(sim)
    sim.faults.garbled_share = 1.0

    with pytest.raises(OutcomeUnknownError):
        client.create_order({"event": event, "random": {set_id: 1}})

    assert len(sim.creates) == 1
