"""The write path against the platform simulators: the API accepts, the FIFO queue (moto, then the in-test
delivery loop) serialises per order, the worker applies through the real platform clients."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from ordersync_tools.cli import main
from ordersync_tools.simulators.ecards import DEFAULT_TOKEN as ECARDS_TOKEN
from ordersync_tools.simulators.ecards import EcardsSimulator
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN as TICKETSCLOUD_TOKEN
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from writepath_support import ApiGateway, ApiSetup, FifoDelivery, records_from_sqs

from ordersync import platforms as platform_registry
from ordersync.actions.apply import ActionApplier, AttemptBudget
from ordersync.actions.models import ActionMessage, ActionState
from ordersync.actions.runner import PlatformActionRunner
from ordersync.actions.worker import ActionWorker
from ordersync.api.idempotency import IdempotentAcceptance
from ordersync.api.resolver import ApiServices, OrdersyncApi
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.aws.orders_repository import OrderRepository
from ordersync.models import Platform
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import TicketscloudClient

MAX_RECEIVE_COUNT = 4


@dataclass
class Platforms:
    ticketscloud: TicketscloudSimulator
    ecards: EcardsSimulator


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    ticketscloud = TicketscloudSimulator(orders=0, seed=7, processing_delay=0.02)
    ecards = EcardsSimulator(orders=0, seed=7)
    with ticketscloud.running(), ecards.running():
        yield Platforms(ticketscloud, ecards)


def build_worker(api: ApiSetup, platforms: Platforms) -> ActionWorker:
    """One worker per consumer thread, as each Lambda container builds its own."""
    clients: dict[Platform, Callable[[], Any]] = {
        Platform.TICKETSCLOUD: lambda: TicketscloudClient(
            platforms.ticketscloud.base_url, TICKETSCLOUD_TOKEN, timeout=5.0
        ),
        Platform.ECARDS: lambda: EcardsClient(
            platforms.ecards.base_url,
            ECARDS_TOKEN,
            timeout=0.3,
            retry=RetryPolicy(attempts=2, base_delay=0.01),
        ),
    }
    runner = PlatformActionRunner(
        clients=lambda platform: clients[platform](),
        handlers=platform_registry.action_handlers,
        checks=platform_registry.effect_checks,
    )
    applier = ActionApplier(
        ActionRepository(api.aws.actions_table),
        runner,
        OrderRepository(api.orders.table_name),
        budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
        queue=ActionQueue(api.aws.queue_url, dead_letter_queue_url=api.aws.dlq_url),
    )
    return ActionWorker(applier)


def deliver(
    api: ApiSetup, platforms: Platforms, *, records: list[dict[str, Any]] | None = None, concurrency: int = 1
) -> FifoDelivery:
    """Run the worker over everything queued, ``concurrency`` batches at a time (the event source's maximum)."""
    local = threading.local()

    def handle(event: dict[str, Any]) -> Any:
        if not hasattr(local, "worker"):
            local.worker = build_worker(api, platforms)
        return local.worker.handle(event)

    delivery = FifoDelivery(handle, max_receive_count=MAX_RECEIVE_COUNT)
    delivery.add(records if records is not None else records_from_sqs(api.aws.sqs, api.aws.queue_url))
    delivery.run(concurrency=concurrency)
    return delivery


def post_actions(api: ApiSetup, order_id: str, body: dict[str, Any]) -> str:
    answer = api.gateway.call("POST", f"/orders/ticketscloud/{order_id}/actions", token=api.tokens["actor"], body=body)
    assert answer.status == 202, answer.body
    return str(answer.body["action_id"])


def action_view(api: ApiSetup, action_id: str) -> dict[str, Any]:
    answer = api.gateway.call("GET", f"/actions/{action_id}", token=api.tokens["actor"])
    assert answer.status == 200
    body: dict[str, Any] = answer.body
    return body


ONE_REQUEST_PER_PROCESS = threading.Lock()
"""Powertools' resolver keeps the current event on its ``BaseRouter`` class, not on the instance: in one process
two resolvers must not resolve at once (a Lambda container never does). The clients' requests still interleave;
only two of them are never inside the API at the same moment."""


def test_100_actions_on_10_orders_from_parallel_clients_reach_the_platform_in_order_without_conflicts(
    api: ApiSetup, platforms: Platforms
) -> None:
    order_ids = platforms.ticketscloud.add_orders(10)
    clients = api.aws.clients()
    tokens = [clients.create(f"crm-{n}", ["ticketscloud:act"], now=datetime.now(UTC))[1] for n in range(4)]

    def send(client: int) -> list[str]:
        """One client, as its own API container (the resolver holds one request at a time)."""
        services = ApiServices(
            acceptor=api.aws.acceptor(),
            actions=api.aws.actions(),
            idempotency=IdempotentAcceptance(api.aws.idempotency_table),
        )
        gateway = ApiGateway(OrdersyncApi(services), api.aws.clients())
        sent = []
        for n in range(client, 100, 4):
            with ONE_REQUEST_PER_PROCESS:
                answer = gateway.call(
                    "POST",
                    f"/orders/ticketscloud/{order_ids[n % 10]}/actions",
                    token=tokens[client],
                    body={"vendor_data": {"order_id": f"step-{n}"}, "send_tickets": n % 2 == 0},
                    headers={"Idempotency-Key": f'"crm-{client}-{n}"'},
                )
            assert answer.status == 202, answer.body
            sent.append(str(answer.body["action_id"]))
        return sent

    with ThreadPoolExecutor(max_workers=4) as pool:
        action_ids = [action_id for sent in pool.map(send, range(4)) for action_id in sent]
    assert len(set(action_ids)) == 100

    records = records_from_sqs(api.aws.sqs, api.aws.queue_url)
    assert len(records) == 100
    queued_order: dict[str, list[str]] = {}
    for record in records:
        message = ActionMessage.model_validate_json(record["body"])
        queued_order.setdefault(str(message.order_id), []).append(message.payload["vendor_data"]["order_id"])
    deliver(api, platforms, records=records, concurrency=4)

    simulator = platforms.ticketscloud
    assert simulator.conflicts == []
    history = simulator.patch_history
    assert len(history) == 100
    assert all(patch.status == 200 for patch in history)
    for order_id in order_ids:
        patches = sorted((p for p in history if p.order_id == order_id), key=lambda p: p.started_at)
        for earlier, later in itertools.pairwise(patches):
            assert earlier.finished_at <= later.started_at, f"overlapping PATCHes on {order_id}"
        applied = [patch.body["vendor_data"]["order_id"] for patch in patches]
        assert applied == queued_order[order_id]
    states = {api.aws.actions().get(action_id).state for action_id in action_ids}  # type: ignore[union-attr]
    assert states == {ActionState.SUCCEEDED}
    stored = api.orders.get(Platform.TICKETSCLOUD, order_ids[0])
    assert stored is not None
    assert stored.order.raw["vendor_data"]["order_id"] == queued_order[order_ids[0]][-1]


def test_a_platform_answering_409_429_and_5xx_for_a_while_gets_the_action_applied_once(
    api: ApiSetup, platforms: Platforms
) -> None:
    [order_id] = platforms.ticketscloud.add_orders(1)
    action_id = post_actions(api, order_id, {"customer": {"name": "Ivan Ivanov", "lang": "ru"}})
    platforms.ticketscloud.faults.fail_next = [409, 429, 503]
    deliver(api, platforms)
    view = action_view(api, action_id)
    assert view["state"] == "succeeded"
    assert view["attempts"] == 4
    assert view["last_error"]["status_code"] == 503
    applied = [p for p in platforms.ticketscloud.patch_history if p.status == 200]
    assert len(applied) == 1
    assert platforms.ticketscloud.order(order_id)["settings"]["customer"]["name"] == "Ivan Ivanov"


def test_a_platform_failing_past_the_attempt_budget_dead_letters_the_action(
    api: ApiSetup, platforms: Platforms
) -> None:
    [order_id] = platforms.ticketscloud.add_orders(1)
    action_id = post_actions(api, order_id, {"send_tickets": True})
    platforms.ticketscloud.faults.fail_next = [503] * MAX_RECEIVE_COUNT
    delivery = deliver(api, platforms)
    assert delivery.dead_letters == []  # the worker moved it itself, and acknowledged the delivery
    assert [json.loads(r["body"])["action_id"] for r in records_from_sqs(api.aws.sqs, api.aws.dlq_url)] == [action_id]
    view = action_view(api, action_id)
    assert view["state"] == "dead_lettered"
    assert view["attempts"] == MAX_RECEIVE_COUNT


def test_a_promocode_error_inside_a_200_is_shown_on_the_action(api: ApiSetup, platforms: Platforms) -> None:
    [order_id] = platforms.ticketscloud.add_orders(1)
    good = post_actions(api, order_id, {"promocodes": ["PROMO100"]})
    bad = post_actions(api, order_id, {"promocodes": ["NO-SUCH-CODE"]})
    deliver(api, platforms)
    assert action_view(api, good)["errors"] == []
    view = action_view(api, bad)
    assert view["state"] == "succeeded"
    assert [error["code"] for error in view["errors"]] == ["promocode_not_found"]
    assert view["result"]["promocodes"] == {"sent": 1, "failed": 1}


def test_a_permanent_4xx_fails_the_action_with_the_platforms_error(api: ApiSetup, platforms: Platforms) -> None:
    [order_id] = platforms.ticketscloud.add_orders(1)
    platforms.ticketscloud.pay(order_id)
    action_id = post_actions(api, order_id, {"send_tickets": True})
    deliver(api, platforms)
    view = action_view(api, action_id)
    assert view["state"] == "failed"
    assert view["attempts"] == 1
    [error] = view["errors"]
    assert error["status_code"] == 400
    assert error["detail"] == {"errors": ["Order is done: it cannot be changed"]}  # the body as the platform sent it
    assert error["message"].endswith("HTTP 400: Order is done: it cannot be changed")


def test_an_export_is_requested_once(api: ApiSetup, platforms: Platforms) -> None:
    answer = api.gateway.call(
        "POST",
        "/exports/ticketscloud",
        token=api.tokens["actor"],
        body={"email": "reports@example.com", "status": ["done", "cancelled"]},
    )
    assert answer.status == 202
    deliver(api, platforms)
    [export] = platforms.ticketscloud.exports
    assert export.email == "reports@example.com"
    assert set(export.statuses) == {"done", "cancelled"}
    assert action_view(api, answer.body["action_id"])["state"] == "succeeded"


def test_an_ecards_create_whose_answer_was_lost_is_checked_before_it_is_sent_again(
    api: ApiSetup, platforms: Platforms
) -> None:
    body = {
        "participant": {"email": "test@test.test", "name": "John Doe", "phone": "79251153242"},
        "ecards": [{"id": 1, "quantity": 1, "faceValue": "100 ₽"}],
    }
    answer = api.gateway.call("POST", "/ecards/orders", token=api.tokens["actor"], body=body)
    assert answer.status == 202
    order_id = answer.body["order_id"]
    [record] = records_from_sqs(api.aws.sqs, api.aws.queue_url)
    worker = build_worker(api, platforms)
    # The first delivery sends the create, and its Lambda dies before recording the answer.
    message = ActionMessage.model_validate_json(record["body"])
    started = worker.applier.store.start_attempt(message.action_id, now=datetime.now(UTC))
    assert started is not None
    worker.applier.runner.run(started)
    # SQS delivers the message again after the visibility timeout.
    again = json.loads(json.dumps(record))
    again["attributes"]["ApproximateReceiveCount"] = "2"
    assert worker.handle({"Records": [again]}) == {"batchItemFailures": []}
    creates = [r for r in platforms.ecards.requests if r.method == "POST"]
    assert len(creates) == 1
    assert [str(order.id) for order in platforms.ecards.created_orders] == [order_id]
    view = action_view(api, answer.body["action_id"])
    assert view["state"] == "succeeded"
    assert view["result"]["confirmed_by_status"] is True


def test_an_ecards_create_with_a_lost_answer_in_one_attempt_makes_one_order(
    api: ApiSetup, platforms: Platforms
) -> None:
    body = {
        "participant": {"email": "test@test.test", "name": "John Doe", "phone": "79251153242"},
        "ecards": [{"id": 2, "quantity": 4, "faceValue": "500 ₽"}],
    }
    answer = api.gateway.call("POST", "/ecards/orders", token=api.tokens["actor"], body=body)
    platforms.ecards.lose_create_answers(1, hold=1.0)
    deliver(api, platforms)
    assert len(platforms.ecards.created_orders) == 1
    assert action_view(api, answer.body["action_id"])["state"] == "succeeded"


def test_a_dead_lettered_action_lets_its_order_go_on_and_is_applied_again_after_a_redrive(
    api: ApiSetup, platforms: Platforms
) -> None:
    [order_id] = platforms.ticketscloud.add_orders(1)
    first = post_actions(api, order_id, {"vendor_data": {"order_id": "first"}})
    second = post_actions(api, order_id, {"vendor_data": {"order_id": "second"}})
    platforms.ticketscloud.faults.fail_next = [503] * MAX_RECEIVE_COUNT
    deliver(api, platforms)
    assert [action_view(api, a)["state"] for a in (first, second)] == ["dead_lettered", "succeeded"]
    redrive = ["--queue-url", api.aws.queue_url, "--dlq-url", api.aws.dlq_url, "--table", api.aws.actions_table]
    assert main(["actions", "redrive", *redrive]) == 0
    assert action_view(api, first)["state"] == "queued"
    deliver(api, platforms)
    assert [action_view(api, a)["state"] for a in (first, second)] == ["succeeded", "succeeded"]
    applied = [p.body["vendor_data"]["order_id"] for p in platforms.ticketscloud.patch_history if p.status == 200]
    assert applied == ["second", "first"]
