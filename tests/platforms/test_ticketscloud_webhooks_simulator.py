"""The Ticketscloud simulator's webhooks: told a URL, it POSTs ``{"type": "order_...", "data": order}`` on every
order change, with the faults it is given."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from ordersync_tools.quiet_server import QuietHTTPServer
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator, WebhookFaults
from ticketscloud_support import simulator


class Receiver:
    """An integration's webhook URL: records each call's path and body."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                receiver.calls.append((self.path, body))
                self.send_response(202)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/ticketscloud/the-secret"

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.calls)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    with simulator(processing_delay=0.0).running() as running:
        yield running
        running.stop_webhooks()


def test_each_order_change_is_posted_with_its_type_and_the_order(
    sim: TicketscloudSimulator, receiver: Receiver
) -> None:
    sim.send_webhooks(receiver.url)
    (order_id,) = sim.add_orders(1)
    sim.pay(order_id)
    calls = receiver.wait(2)
    assert [(body["type"], body["data"]["id"], body["data"]["status"]) for _, body in calls] == [
        ("order_created", order_id, "executed"),
        ("order_done", order_id, "done"),
    ]
    assert {path for path, _ in calls} == {"/webhooks/ticketscloud/the-secret"}


def test_nothing_is_posted_before_a_url_is_given(sim: TicketscloudSimulator, receiver: Receiver) -> None:
    sim.add_orders(1)
    time.sleep(0.2)
    assert receiver.calls == []


def test_a_lost_call_is_recorded_but_never_sent(sim: TicketscloudSimulator, receiver: Receiver) -> None:
    sender = sim.send_webhooks(receiver.url, WebhookFaults(lost=1.0))
    sim.add_orders(2)
    time.sleep(0.2)
    assert receiver.calls == []
    assert [delivery.status for delivery in sender.deliveries] == [None, None]


def test_a_repeated_call_arrives_repeat_times_more(sim: TicketscloudSimulator, receiver: Receiver) -> None:
    sim.send_webhooks(receiver.url, WebhookFaults(repeated=1.0, repeat_times=2))
    sim.add_orders(1)
    assert len(receiver.wait(3)) == 3


def test_an_out_of_order_call_is_overtaken_by_the_next_one(sim: TicketscloudSimulator, receiver: Receiver) -> None:
    sender = sim.send_webhooks(receiver.url, WebhookFaults(out_of_order=1.0, delay_seconds=0.3))
    (order_id,) = sim.add_orders(1)
    sender.faults = WebhookFaults()
    sim.pay(order_id)
    assert [body["type"] for _, body in receiver.wait(2)] == ["order_done", "order_created"]


def test_a_bad_secret_call_goes_to_another_last_path_segment(sim: TicketscloudSimulator, receiver: Receiver) -> None:
    sim.send_webhooks(receiver.url, WebhookFaults(bad_secret=1.0))
    sim.add_orders(1)
    ((path, _),) = receiver.wait(1)
    assert path == "/webhooks/ticketscloud/not-the-secret"
