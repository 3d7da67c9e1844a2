"""The simulators' fault switches that the write path's fault runs use: a garbled answer to a change that was
made, and faults read from a command line (``ordersync local --platform-faults``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ordersync_tools.simulators.base import Faults
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from ticketscloud_support import ORDERS_PATH, open_order_id, raw, simulator


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    with simulator(processing_delay=0.0).running() as running:
        yield running


def test_an_unreadable_answer_to_a_change_still_makes_the_change(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    sim.faults.garbled_share = 1.0

    answer = raw(sim, "PATCH", f"{ORDERS_PATH}/{order_id}", json_body={"vendor_data": {"order_id": "crm-7"}})

    assert answer.status_code == 200
    assert answer.text.startswith("<html>")
    assert sim.order(order_id)["vendor_data"]["order_id"] == "crm-7"


def test_a_refused_change_is_not_garbled(sim: TicketscloudSimulator) -> None:
    sim.faults.garbled_share = 1.0

    answer = raw(sim, "PATCH", f"{ORDERS_PATH}/no-such-order", json_body={"send_tickets": True})

    assert answer.status_code == 404


def test_faults_are_read_from_a_command_line_spec() -> None:
    faults = Faults.parse("5xx=0.15,429=0.1,retry-after=1,unreadable=0.05,slow=0.05,slow-seconds=1.6")

    assert (faults.server_error_share, faults.rate_limit_share, faults.retry_after) == (0.15, 0.1, 1.0)
    assert (faults.garbled_share, faults.timeout_share, faults.timeout_hold) == (0.05, 0.05, 1.6)
    assert faults.malformed_share == 0.0


@pytest.mark.parametrize("spec", ["teapot=0.1", "5xx=lots", "429=1.5", "latency=-1"])
def test_a_fault_spec_that_names_no_fault_or_no_usable_value_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="fault"):
        Faults.parse(spec)
