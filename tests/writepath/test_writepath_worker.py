"""The queue worker's rules, with a scripted platform: retries, permanent failures, redelivery, the
dead-letter path and per-order holding back. Deliveries come from the in-test FIFO loop (see
``writepath_support.FifoDelivery``), built from what moto's queue returned."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider
from writepath_support import (
    MAX_RECEIVE_COUNT,
    FakeLambdaContext,
    FifoDelivery,
    WritePathAws,
    create_orders_table,
    load_event,
    records_from_sqs,
    sqs_record,
)

from ordersync.actions.accept import AcceptFailedError, ActionAcceptor
from ordersync.actions.apply import ActionApplier, ActionOutcome, AttemptBudget
from ordersync.actions.models import Action, ActionError, ActionKind, ActionState
from ordersync.actions.worker import ActionWorker
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.orders_repository import OrderRepository
from ordersync.errors import PermanentError, RetryableError
from ordersync.models import Money, Order, OrderStatus, Platform

Script = Callable[[Action], ActionOutcome]


def order_of(action: Action) -> Order:
    return Order(
        platform=Platform.TICKETSCLOUD,
        order_id=str(action.order_id),
        status=OrderStatus.PENDING,
        raw_status="executed",
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        total=Money(amount=Decimal("100.00"), currency="RUB"),
    )


def succeed(action: Action) -> ActionOutcome:
    return ActionOutcome(summary={"order_status": "pending"}, order=order_of(action))


def fail_with(error: Exception) -> Script:
    def script(action: Action) -> ActionOutcome:
        raise error

    return script


def retryable(status: int) -> RetryableError:
    return RetryableError(Platform.TICKETSCLOUD, f"PATCH: HTTP {status}", status_code=status)


class ScriptedRunner:
    """Answers each action from a per-action list of scripts (the last one repeats); records every call."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Script]] = {}
        self.calls: list[str] = []
        self.succeeded: list[str] = []

    def script(self, action_id: str, *steps: Script) -> None:
        self.scripts[action_id] = list(steps)

    def run(self, action: Action) -> ActionOutcome:
        self.calls.append(action.action_id)
        steps = self.scripts.get(action.action_id, [succeed])
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        outcome = step(action)
        self.succeeded.append(action.action_id)
        return outcome

    def check(self, action: Action) -> ActionOutcome | None:
        return None  # no effect ever found: an unknown outcome is sent again


class SavedOrders:
    def __init__(self) -> None:
        self.saved: list[Order] = []

    def save_changed(self, orders: Sequence[Order], *, seen_at: datetime, observed_at: datetime | None = None) -> None:
        self.saved.extend(orders)


@pytest.fixture
def runner() -> ScriptedRunner:
    return ScriptedRunner()


@pytest.fixture
def saved() -> SavedOrders:
    return SavedOrders()


@pytest.fixture
def worker(wp_aws: WritePathAws, runner: ScriptedRunner, saved: SavedOrders) -> ActionWorker:
    return ActionWorker(
        ActionApplier(
            wp_aws.actions(),
            runner,
            saved,
            budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
        )
    )


def accept(wp_aws: WritePathAws, order_id: str, n: int = 1) -> list[Action]:
    acceptor = wp_aws.acceptor()
    return [
        acceptor.accept(
            kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
            order_id=order_id,
            client_id="crm",
            payload={"vendor_data": {"order_id": f"step-{i}"}},
        )
        for i in range(n)
    ]


def state_of(wp_aws: WritePathAws, action: Action) -> Action:
    stored = wp_aws.actions().get(action.action_id)
    assert stored is not None
    return stored


def test_a_successful_action_is_recorded_with_its_summary_and_its_order_saved(
    wp_aws: WritePathAws, worker: ActionWorker, saved: SavedOrders
) -> None:
    [action] = accept(wp_aws, "o1")
    response = worker.handle({"Records": records_from_sqs(wp_aws.sqs, wp_aws.queue_url)})
    assert response == {"batchItemFailures": []}
    stored = state_of(wp_aws, action)
    assert stored.state is ActionState.SUCCEEDED
    assert stored.attempts == 1
    assert stored.result == {"order_status": "pending"}
    assert stored.finished_at is not None
    assert [order.order_id for order in saved.saved] == ["o1"]


def test_the_platform_answer_does_not_overwrite_an_order_a_poller_stored_after_the_request_was_sent(
    wp_aws: WritePathAws, runner: ScriptedRunner
) -> None:
    orders = OrderRepository(create_orders_table())
    [action] = accept(wp_aws, "o1")
    polled = order_of(action).model_copy(update={"status": OrderStatus.CANCELLED, "raw_status": "cancelled"})

    def poller_stores_while_the_patch_is_in_flight(action: Action) -> ActionOutcome:
        orders.save_changed([polled], seen_at=datetime.now(UTC))
        return succeed(action)

    runner.script(action.action_id, poller_stores_while_the_patch_is_in_flight)
    worker = ActionWorker(
        ActionApplier(
            wp_aws.actions(),
            runner,
            orders,
            budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
        )
    )

    worker.handle({"Records": records_from_sqs(wp_aws.sqs, wp_aws.queue_url)})

    stored = orders.get(Platform.TICKETSCLOUD, "o1")
    assert stored is not None
    assert stored.order.status is OrderStatus.CANCELLED
    assert state_of(wp_aws, action).state is ActionState.SUCCEEDED


def test_a_redelivered_message_of_a_succeeded_action_is_acknowledged_without_calling_the_platform(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    [action] = accept(wp_aws, "o1")
    [record] = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    worker.handle({"Records": [record]})
    again = json.loads(json.dumps(record))
    again["attributes"]["ApproximateReceiveCount"] = "2"
    assert worker.handle({"Records": [again]}) == {"batchItemFailures": []}
    assert runner.calls == [action.action_id]
    assert state_of(wp_aws, action).attempts == 1


def test_the_sample_fifo_events_apply_once_even_when_redelivered(wp_aws: WritePathAws, worker: ActionWorker) -> None:
    runner: ScriptedRunner = worker.applier.runner  # type: ignore[assignment]
    first = load_event("sqs-fifo-actions.json")
    assert worker.handle(first) == {"batchItemFailures": []}
    assert worker.handle(load_event("sqs-fifo-redelivered.json")) == {"batchItemFailures": []}
    assert len(runner.calls) == 3
    for record in first["Records"]:
        stored = wp_aws.actions().get(json.loads(record["body"])["action_id"])
        assert stored is not None
        assert stored.state is ActionState.SUCCEEDED


def test_retryable_errors_fail_the_record_and_the_action_succeeds_on_a_later_delivery(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    [action] = accept(wp_aws, "o1")
    runner.script(
        action.action_id, fail_with(retryable(409)), fail_with(retryable(429)), fail_with(retryable(503)), succeed
    )
    delivery = FifoDelivery(worker.handle)
    delivery.add(records_from_sqs(wp_aws.sqs, wp_aws.queue_url))
    delivery.run()
    stored = state_of(wp_aws, action)
    assert stored.state is ActionState.SUCCEEDED
    assert stored.attempts == 4
    assert stored.last_error is not None
    assert stored.last_error.status_code == 503
    assert delivery.dead_letters == []


def test_while_retrying_the_action_shows_queued_with_the_last_error(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    [action] = accept(wp_aws, "o1")
    runner.script(action.action_id, fail_with(retryable(429)))
    response = worker.handle({"Records": records_from_sqs(wp_aws.sqs, wp_aws.queue_url)})
    assert len(response["batchItemFailures"]) == 1
    stored = state_of(wp_aws, action)
    assert stored.state is ActionState.QUEUED
    assert stored.last_error == ActionError(code="http_429", message="PATCH: HTTP 429", status_code=429)


def test_a_failed_action_holds_back_only_the_later_actions_of_its_order(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    first, second = accept(wp_aws, "o1", 2)
    [other] = accept(wp_aws, "o2")
    runner.script(first.action_id, fail_with(retryable(500)))
    records = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    response = worker.handle({"Records": records})
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    by_action = {json.loads(r["body"])["action_id"]: r["messageId"] for r in records}
    assert failed == {by_action[first.action_id], by_action[second.action_id]}
    assert runner.calls == [first.action_id, other.action_id]
    assert state_of(wp_aws, second).state is ActionState.QUEUED
    assert state_of(wp_aws, other).state is ActionState.SUCCEEDED


def test_a_permanent_error_fails_the_action_at_once_with_the_platforms_error(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    [action] = accept(wp_aws, "o1")
    body = {"errors": [{"code": "order_done", "msg": "Order is done: it cannot be changed"}]}
    runner.script(
        action.action_id, fail_with(PermanentError(Platform.TICKETSCLOUD, "HTTP 400", status_code=400, body=body))
    )
    response = worker.handle({"Records": records_from_sqs(wp_aws.sqs, wp_aws.queue_url)})
    assert response == {"batchItemFailures": []}
    stored = state_of(wp_aws, action)
    assert stored.state is ActionState.FAILED
    assert stored.errors[0].status_code == 400
    assert stored.errors[0].detail == body


def test_after_its_attempt_budget_the_action_shows_dead_lettered_and_its_order_goes_on(
    wp_aws: WritePathAws, runner: ScriptedRunner
) -> None:
    stuck, behind = accept(wp_aws, "o1", 2)
    runner.script(stuck.action_id, fail_with(retryable(503)))
    applier = ActionApplier(
        wp_aws.actions(),
        runner,
        SavedOrders(),
        budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
        queue=ActionQueue(wp_aws.queue_url, dead_letter_queue_url=wp_aws.dlq_url),
    )
    delivery = FifoDelivery(ActionWorker(applier).handle, max_receive_count=100)
    delivery.add(records_from_sqs(wp_aws.sqs, wp_aws.queue_url))
    delivery.run()
    assert delivery.dead_letters == []
    moved = [json.loads(r["body"])["action_id"] for r in records_from_sqs(wp_aws.sqs, wp_aws.dlq_url)]
    assert moved == [stuck.action_id]
    stuck_state = state_of(wp_aws, stuck)
    assert stuck_state.state is ActionState.DEAD_LETTERED
    assert stuck_state.attempts == MAX_RECEIVE_COUNT
    behind_state = state_of(wp_aws, behind)
    assert (behind_state.state, behind_state.attempts) == (ActionState.SUCCEEDED, 1)


def test_a_message_whose_record_is_missing_is_rebuilt_and_applied(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    body = json.dumps(
        {
            "action_id": "lost-record",
            "kind": "ticketscloud_order_actions",
            "order_id": "o9",
            "group_id": "ticketscloud#o9",
            "client_id": "crm",
            "payload": {"send_tickets": True},
            "accepted_at": "2026-11-22T12:00:00Z",
        }
    )
    assert worker.handle({"Records": [sqs_record(body, group="ticketscloud#o9")]}) == {"batchItemFailures": []}
    stored = wp_aws.actions().get("lost-record")
    assert stored is not None
    assert stored.state is ActionState.SUCCEEDED
    assert runner.calls == ["lost-record"]


def test_a_message_that_is_not_an_action_fails_its_record_without_stopping_the_batch(
    wp_aws: WritePathAws, worker: ActionWorker
) -> None:
    [action] = accept(wp_aws, "o1")
    good = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    bad = sqs_record("not json", group="ticketscloud#junk")
    response = worker.handle({"Records": [bad, *good]})
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert state_of(wp_aws, action).state is ActionState.SUCCEEDED


def test_the_fifo_loop_keeps_per_order_order_across_retries(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    actions = accept(wp_aws, "o1", 5)
    runner.script(actions[1].action_id, fail_with(retryable(409)), fail_with(retryable(409)), succeed)
    delivery = FifoDelivery(worker.handle, batch_size=2)
    delivery.add(records_from_sqs(wp_aws.sqs, wp_aws.queue_url))
    delivery.run(concurrency=3)
    assert runner.succeeded == [action.action_id for action in actions]
    assert runner.calls.count(actions[1].action_id) == 3
    assert all(state_of(wp_aws, action).state is ActionState.SUCCEEDED for action in actions)


def test_records_are_returned_untouched_when_the_invocation_is_nearly_out_of_time(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    [action] = accept(wp_aws, "o1")
    records = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    response = worker.handle({"Records": records}, FakeLambdaContext(remaining_ms=1_000))  # type: ignore[arg-type]
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    assert runner.calls == []
    stored = state_of(wp_aws, action)
    assert stored.state is ActionState.QUEUED
    assert stored.attempts == 0


# -- metrics: one count per outcome -----------------------------------------------------------------------------
class CountedMetrics:
    """A Powertools ``Metrics`` with its own metric set (not the process-wide one), and the counts it holds."""

    def __init__(self) -> None:
        self.provider = AmazonCloudWatchEMFProvider(namespace="ordersync", metric_set={}, dimension_set={})
        self.metrics = Metrics(provider=self.provider)

    def counts(self) -> dict[str, float]:
        return {name: sum(metric["Value"]) for name, metric in self.provider.metric_set.items()}


def counted_worker(wp_aws: WritePathAws, runner: ScriptedRunner, metrics: CountedMetrics) -> ActionWorker:
    applier = ActionApplier(
        wp_aws.actions(),
        runner,
        SavedOrders(),
        budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
        metrics=metrics.metrics,
    )
    return ActionWorker(applier)


def test_succeeded_and_failed_actions_are_counted_apart(wp_aws: WritePathAws, runner: ScriptedRunner) -> None:
    metrics = CountedMetrics()
    good, bad, other = accept(wp_aws, "o1") + accept(wp_aws, "o2") + accept(wp_aws, "o3")
    runner.script(bad.action_id, fail_with(PermanentError(Platform.TICKETSCLOUD, "HTTP 400", status_code=400)))
    worker = counted_worker(wp_aws, runner, metrics)
    assert worker.handle({"Records": records_from_sqs(wp_aws.sqs, wp_aws.queue_url)}) == {"batchItemFailures": []}
    assert {good.action_id, other.action_id} <= set(runner.succeeded)
    assert metrics.counts() == {"ActionsSucceeded": 2, "ActionsFailed": 1}


def test_retries_and_dead_letters_are_counted_and_the_action_behind_succeeds(
    wp_aws: WritePathAws, runner: ScriptedRunner
) -> None:
    metrics = CountedMetrics()
    stuck, _behind = accept(wp_aws, "o1", 2)
    runner.script(stuck.action_id, fail_with(retryable(503)))
    delivery = FifoDelivery(counted_worker(wp_aws, runner, metrics).handle)
    delivery.add(records_from_sqs(wp_aws.sqs, wp_aws.queue_url))
    delivery.run()
    assert metrics.counts() == {
        "ActionsRetried": MAX_RECEIVE_COUNT - 1,
        "ActionsDeadLettered": 1,
        "ActionsSucceeded": 1,
    }


def test_a_redelivered_action_already_final_is_not_counted_again(wp_aws: WritePathAws, runner: ScriptedRunner) -> None:
    metrics = CountedMetrics()
    accept(wp_aws, "o1")
    [record] = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    worker = counted_worker(wp_aws, runner, metrics)
    worker.handle({"Records": [record]})
    again = json.loads(json.dumps(record))
    again["attributes"]["ApproximateReceiveCount"] = "2"
    worker.handle({"Records": [again]})
    assert metrics.counts() == {"ActionsSucceeded": 1}


def test_the_acceptor_counts_accepted_actions_and_those_it_could_not_queue(wp_aws: WritePathAws) -> None:
    metrics = CountedMetrics()
    ActionAcceptor(wp_aws.actions(), wp_aws.queue(), metrics=metrics.metrics).accept(
        kind=ActionKind.TICKETSCLOUD_EXPORT, order_id=None, client_id="crm", payload={"email": "r@example.com"}
    )
    broken = ActionAcceptor(
        wp_aws.actions(), type(wp_aws.queue())(wp_aws.queue_url + "-missing"), metrics=metrics.metrics
    )
    with pytest.raises(AcceptFailedError):
        broken.accept(
            kind=ActionKind.TICKETSCLOUD_EXPORT, order_id=None, client_id="crm", payload={"email": "r@example.com"}
        )
    assert metrics.counts() == {"ActionsAccepted": 1, "ActionsNotAccepted": 1}


class QueuedButAnswerLost:
    """An SQS send whose message arrived but whose answer did not: the API had to answer 503."""

    def __init__(self, wp_aws: WritePathAws) -> None:
        self.queue = wp_aws.queue()

    def send(self, action: Action) -> str:
        self.queue.send(action)
        raise TimeoutError("the answer of SendMessage was lost")


def test_an_action_answered_503_is_never_applied_even_if_its_message_was_queued(
    wp_aws: WritePathAws, worker: ActionWorker, runner: ScriptedRunner
) -> None:
    acceptor = ActionAcceptor(wp_aws.actions(), QueuedButAnswerLost(wp_aws))
    with pytest.raises(AcceptFailedError, match="could not be queued"):
        acceptor.accept(kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS, order_id="o1", client_id="crm", payload={})
    [record] = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    assert worker.handle({"Records": [record]}) == {"batchItemFailures": []}
    assert runner.calls == []
    stored = wp_aws.actions().get(json.loads(record["body"])["action_id"])
    assert stored is not None
    assert stored.state is ActionState.FAILED
    assert [error.code for error in stored.errors] == ["not_queued"]
