"""Each action of the reseller's Ticketscloud order lifecycle, end to end through ``ordersync local`` (the API,
the FIFO queue, the worker process, the schedules) against a simulator the test owns: the resulting order and
refund visible through ``GET /orders/...`` and ``GET /actions/...``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from test_local_action_faults import FINAL, Local, start_local

pytestmark = pytest.mark.slow


class Reseller:
    """The lifecycle's routes over HTTP."""

    def __init__(self, local: Local) -> None:
        self.local = local

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.local.api}{path}", headers=self.local.headers, json=body, timeout=30)

    def act(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Send one action and wait for its final state."""
        answer = self.post(path, body)
        assert answer.status_code == 202, answer.text
        action_id = str(answer.json()["action_id"])
        view = self.local.wait_final([action_id], timeout=60)[action_id]
        assert view["state"] in FINAL, view
        return view

    def order(self, order_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.local.api}/orders/ticketscloud/{order_id}", headers=self.local.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def wait_order(self, order_id: str, until: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        stored = self.order(order_id)
        while not until(stored) and time.monotonic() < deadline:
            time.sleep(0.5)
            stored = self.order(order_id)
        return stored


@pytest.fixture
def ticketscloud() -> Iterator[TicketscloudSimulator]:
    simulator = TicketscloudSimulator(orders=3, seed=23, processing_delay=0.0)
    with simulator.running() as running:
        yield running


@pytest.fixture
def reseller(tmp_path: Path, ticketscloud: TicketscloudSimulator) -> Iterator[Reseller]:
    local_run = start_local(tmp_path, "--speed", "60", "--ticketscloud-url", ticketscloud.base_url)
    local = next(local_run)
    try:
        yield Reseller(local)
    finally:
        next(local_run, None)


def test_create_reserve_tariff_finish_refund_and_approve_through_ordersync_local(
    reseller: Reseller, ticketscloud: TicketscloudSimulator
) -> None:
    event = ticketscloud.event_ids[0]
    set_id = ticketscloud.set_ids(event)[0]

    created = reseller.act("/orders/ticketscloud", {"event": event, "random": {set_id: 1}, "all_or_nothing": True})
    order_id = created["order_id"]
    assert created["state"] == "succeeded"
    assert order_id in ticketscloud.order_ids()
    assert reseller.order(order_id)["order"]["raw_status"] == "executed"  # stored at once, before any poll

    held = [ticket["id"] for ticket in ticketscloud.order(order_id)["tickets"]]
    tariff = ticketscloud.tariff_ids(set_id)[0]
    changed = reseller.act(
        f"/orders/ticketscloud/{order_id}/reservation", {"random": {set_id: 2}, "tariffs": {held[0]: tariff}}
    )
    assert changed["state"] == "succeeded"
    assert len(reseller.order(order_id)["order"]["raw"]["tickets"]) == 2

    finished = reseller.act(f"/orders/ticketscloud/{order_id}/status", {"status": "done"})
    assert finished["state"] == "succeeded"
    stored = reseller.order(order_id)["order"]
    assert stored["raw_status"] == "done"
    assert all(ticket["barcode"] for ticket in stored["raw"]["tickets"])

    refused = reseller.post(f"/orders/ticketscloud/{order_id}/status", {"status": "cancelled"})
    assert refused.status_code == 422  # a done order never changes: refused before it is queued

    ticket = stored["raw"]["tickets"][0]["id"]
    requested = reseller.act(
        f"/orders/ticketscloud/{order_id}/refund-requests", {"culprit": "user", "tickets": [ticket]}
    )
    assert requested["state"] == "succeeded"
    refund_id = requested["result"]["refund_id"]
    approved = reseller.act(f"/orders/ticketscloud/{order_id}/refund-requests/{refund_id}", {"status": "approved"})
    assert approved["state"] == "succeeded"
    assert approved["result"]["refund_status"] == "approved"

    # The refund poll (every 15 minutes, 15 s at --speed 60) folds the approved request into the stored order.
    refunded = reseller.wait_order(order_id, lambda body: (body["order"].get("refunds") or {}).get("requests"))
    [refund] = refunded["order"]["refunds"]["requests"]
    assert (refund["refund_id"], refund["status"], refund["ticket_ids"]) == (refund_id, "approved", [ticket])


def test_cancel_through_ordersync_local_and_a_refused_refund_keeps_the_platform_messages(
    reseller: Reseller, ticketscloud: TicketscloudSimulator
) -> None:
    event = ticketscloud.event_ids[1]
    set_id = ticketscloud.set_ids(event)[0]
    seat = ticketscloud.free_tickets(event, set_id)[0]
    created = reseller.act("/orders/ticketscloud", {"event": event, "tickets": [seat]})
    order_id = created["order_id"]

    refused = reseller.act(f"/orders/ticketscloud/{order_id}/refund-requests", {"culprit": "org", "tickets": [seat]})
    cancelled = reseller.act(f"/orders/ticketscloud/{order_id}/status", {"status": "cancelled"})

    assert refused["state"] == "failed"
    assert refused["errors"][0]["detail"] == {
        "errors": [f"Order {order_id} is executed: only a done order can be refunded"]
    }
    assert cancelled["state"] == "succeeded"
    assert reseller.order(order_id)["order"]["raw_status"] == "cancelled"
    assert seat in ticketscloud.free_tickets(event, set_id)


def test_a_create_refused_by_the_platform_fails_with_its_messages_and_no_order(
    reseller: Reseller, ticketscloud: TicketscloudSimulator
) -> None:
    event = ticketscloud.event_ids[0]
    set_id = ticketscloud.set_ids(event)[0]
    free = len(ticketscloud.free_tickets(event, set_id))

    refused = reseller.act(
        "/orders/ticketscloud", {"event": event, "random": {set_id: free + 1}, "all_or_nothing": True}
    )

    assert refused["state"] == "failed"
    assert refused["order_id"] is None
    assert refused["errors"][0]["detail"] == {"errors": [f"Not enough free tickets: {set_id}"]}
