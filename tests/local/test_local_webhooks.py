"""Webhooks through ``ordersync local`` with the project's template, polling once an hour: the simulator calls the
webhook route on every order change, the consumer reads the order by id and writes it, the stream publishes its
change event, and a subscriber endpoint receives it signed per Standard Webhooks."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from ordersync_tools.local.resources import client
from ordersync_tools.local.runtime import LocalRuntime
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from standardwebhooks.webhooks import Webhook
from webhook_support import RecordingEndpoint, events_of, local_runtime, wait_for, webhook_url

from ordersync.models import Platform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def endpoint() -> Iterator[RecordingEndpoint]:
    found = RecordingEndpoint().start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, endpoint: RecordingEndpoint) -> Iterator[LocalRuntime]:
    state_dir: Path = tmp_path_factory.mktemp("webhooks")
    with local_runtime(state_dir, simulator_orders=3, subscriber_url=endpoint.url) as found:
        yield found


def simulator(runtime: LocalRuntime) -> TicketscloudSimulator:
    found: TicketscloudSimulator = runtime.simulators[Platform.TICKETSCLOUD]
    return found


def stored_status(runtime: LocalRuntime, order_id: str) -> str | None:
    """The canonical status of the order's item in the orders table, None while there is none."""
    table = next(s.environment["ORDERS_TABLE"] for s in runtime.specs.values() if "ORDERS_TABLE" in s.environment)
    key = {"pk": {"S": f"ticketscloud#{order_id}"}}
    item = client("dynamodb", runtime.endpoint).get_item(TableName=table, Key=key).get("Item")
    return str(item["status"]["S"]) if item else None


def test_an_order_paid_at_the_platform_is_stored_and_its_event_published_within_5_seconds(
    runtime: LocalRuntime,
) -> None:
    (order_id,) = simulator(runtime).add_orders(1)
    assert wait_for(lambda: events_of(runtime, order_id, "Order Created"), timeout=30)  # the first warms up
    changed = time.monotonic()
    simulator(runtime).pay(order_id)
    assert wait_for(lambda: events_of(runtime, order_id, "Order Status Changed"), timeout=5)
    assert time.monotonic() - changed < 5
    assert stored_status(runtime, order_id) == "fulfilled"


def test_a_forged_webhook_leaves_the_stored_order_as_the_platform_has_it(runtime: LocalRuntime) -> None:
    (order_id,) = simulator(runtime).add_orders(1)
    assert wait_for(lambda: stored_status(runtime, order_id) == "pending", timeout=10)
    reads_before = runtime.webhook_reads
    forged = {"type": "order_done", "data": simulator(runtime).order(order_id) | {"status": "done"}}
    answer = httpx.post(webhook_url(runtime), json=forged, timeout=10)
    assert answer.status_code == 202
    assert wait_for(lambda: runtime.webhook_reads > reads_before, timeout=10)
    assert stored_status(runtime, order_id) == "pending"
    assert simulator(runtime).order(order_id)["status"] == "executed"


def test_a_wrong_secret_is_401_and_a_body_without_an_order_id_is_400(runtime: LocalRuntime) -> None:
    url = webhook_url(runtime)
    wrong = url.rsplit("/", 1)[0] + "/not-the-secret"
    assert httpx.post(wrong, json={"type": "order_done", "data": {"id": "5bacf64ea0eb2f000c45160a"}}).status_code == 401
    assert httpx.post(url, content=b"not json").status_code == 400
    assert httpx.post(url, json={"type": "order_done"}).status_code == 400


def test_a_thousand_webhooks_for_ten_orders_cause_a_few_reads_each_and_the_poller_still_completes(
    runtime: LocalRuntime,
) -> None:
    sim = simulator(runtime)
    order_ids = sim.add_orders(10)
    assert wait_for(lambda: all(stored_status(runtime, o) for o in order_ids), timeout=20)
    sim.clear_requests()
    url = webhook_url(runtime)
    bodies = [json.dumps({"type": "order_done", "data": {"id": order_ids[i % 10]}}).encode() for i in range(1000)]
    started = time.monotonic()
    assert runtime.resources is not None
    poller = next(s for s in runtime.resources.schedules if s.function_id == "TicketscloudPollerFunction")
    with ThreadPoolExecutor(max_workers=9) as pool, httpx.Client(timeout=30) as http:
        poll = pool.submit(runtime.run_schedule, poller)
        statuses = list(pool.map(lambda body: http.post(url, content=body).status_code, bodies))
        assert poll.result().ok
    elapsed = time.monotonic() - started
    assert Counter(statuses) == {202: 1000}
    assert elapsed < 20, f"1000 webhooks took {elapsed:.1f}s"
    time.sleep(3)  # the last windows' reads
    reads = Counter(
        request.path.rsplit("/", 1)[-1]
        for request in sim.requests
        if request.method == "GET" and request.path.rsplit("/", 1)[-1] in order_ids
    )
    windows = elapsed / 2 + 2  # the coalescing window is WebhookCoalesceSeconds (2 s)
    assert set(reads) == set(order_ids)
    assert max(reads.values()) <= windows, reads


def test_two_changes_within_one_coalescing_window_make_one_read_and_one_event(runtime: LocalRuntime) -> None:
    """Created and paid within the window: one read after it, which sees the order paid."""
    (order_id,) = simulator(runtime).add_orders(1)
    simulator(runtime).pay(order_id)
    assert wait_for(lambda: events_of(runtime, order_id), timeout=10)
    time.sleep(2.5)
    assert [event["detail-type"] for event in events_of(runtime, order_id)] == ["Order Created"]
    assert stored_status(runtime, order_id) == "fulfilled"


def test_a_subscriber_receives_every_change_event_once_with_a_valid_signature(
    runtime: LocalRuntime, endpoint: RecordingEndpoint
) -> None:
    assert runtime.subscriber is not None
    (order_id,) = simulator(runtime).add_orders(1)
    assert wait_for(lambda: events_of(runtime, order_id, "Order Created"), timeout=10)
    simulator(runtime).pay(order_id)
    assert wait_for(lambda: events_of(runtime, order_id, "Order Status Changed"), timeout=10)
    assert wait_for(lambda: runtime.subscriber is not None and runtime.subscriber.idle(), timeout=10)
    verifier = Webhook(runtime.subscriber.secret)
    payloads = [verifier.verify(received.body, received.headers) for received in endpoint.received]
    mine = [p for p in payloads if p["data"]["order_id"] == order_id]
    assert [p["type"] for p in mine] == ["Order Created", "Order Status Changed"]
    assert [p["version"] for p in mine] == [1, 2]
    # The pollers go on publishing (other orders, refunds): every event published is delivered once, in time.
    assert wait_for(lambda: len(endpoint.received) == sum(runtime.events_published.values()), timeout=10)
    ids = [received.headers["webhook-id"] for received in endpoint.received]
    assert len(set(ids)) == len(ids)


def test_a_failed_delivery_is_attempted_again_with_the_same_id_and_signature(
    runtime: LocalRuntime, endpoint: RecordingEndpoint
) -> None:
    assert runtime.subscriber is not None
    before = len(endpoint.received)
    endpoint.fail_first = 2
    (order_id,) = simulator(runtime).add_orders(1)
    assert wait_for(lambda: events_of(runtime, order_id, "Order Created"), timeout=10)
    assert wait_for(lambda: len(endpoint.received) >= before + 3, timeout=10)
    attempts = endpoint.received[before : before + 3]
    assert len({(a.headers["webhook-id"], a.headers["webhook-signature"]) for a in attempts}) == 1
    verifier = Webhook(runtime.subscriber.secret)
    assert all(verifier.verify(a.body, a.headers)["data"]["order_id"] == order_id for a in attempts)
