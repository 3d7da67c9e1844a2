"""The queue worker (``actions.worker``) with SQS FIFO batch events, on fakes."""

from __future__ import annotations

from typing import Any

import pytest
from builders import Clock, FakeLambdaContext, load_event, sqs_record
from fakes import FakeActionRunner, FakeActionSender, FakeActionStore, FakeOrderStore, FakeQueueControl, Script

from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.apply import ActionApplier, ActionOutcome, AttemptBudget
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.actions.worker import ActionWorker
from ordersync.errors import PermanentError, RetryableError
from ordersync.models import Platform

MAX_ATTEMPTS = 4


class Setup:
    def __init__(self) -> None:
        self.store = FakeActionStore()
        self.sender = FakeActionSender()
        self.runner = FakeActionRunner()
        self.acceptor = ActionAcceptor(self.store, self.sender, clock=Clock())
        self.queue = FakeQueueControl()
        budget = AttemptBudget(max_attempts=MAX_ATTEMPTS, base_seconds=10, max_seconds=60)
        applier = ActionApplier(self.store, self.runner, FakeOrderStore(), budget=budget, queue=self.queue)
        self.worker = ActionWorker(applier, min_remaining_ms=15_000, queue=self.queue)

    def accept(self, order_id: str) -> Action:
        return self.acceptor.accept(
            kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
            order_id=order_id,
            client_id="crm",
            payload={"send_tickets": True},
        )

    def state(self, action: Action) -> ActionState:
        stored = self.store.get(action.action_id)
        assert stored is not None
        return stored.state


def record_of(action: Action, *, receive_count: int = 1) -> dict[str, Any]:
    return sqs_record(
        action.to_message().model_dump_json(),
        group=action.group_id,
        receive_count=receive_count,
        message_id=f"m-{action.action_id}",
    )


def failed_ids(response: Any) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def raising(error: Exception) -> Script:
    def step(action: Action) -> ActionOutcome:
        raise error

    return step


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_a_batch_whose_actions_all_succeed_reports_no_failures(setup: Setup) -> None:
    actions = [setup.accept("order-a"), setup.accept("order-b"), setup.accept("order-a")]

    response = setup.worker.handle({"Records": [record_of(action) for action in actions]}, FakeLambdaContext())

    assert failed_ids(response) == []
    assert {setup.state(action) for action in actions} == {ActionState.SUCCEEDED}


def test_a_retryable_failure_holds_back_only_the_later_actions_of_its_order(setup: Setup) -> None:
    first_a, second_a, only_b = setup.accept("order-a"), setup.accept("order-a"), setup.accept("order-b")
    setup.runner.script(first_a.action_id, raising(RetryableError(Platform.TICKETSCLOUD, "HTTP 503", status_code=503)))

    response = setup.worker.handle({"Records": [record_of(a) for a in (first_a, second_a, only_b)]})

    assert failed_ids(response) == [f"m-{first_a.action_id}", f"m-{second_a.action_id}"]
    assert setup.runner.calls == [first_a.action_id, only_b.action_id]
    assert setup.state(second_a) is ActionState.QUEUED
    assert setup.state(only_b) is ActionState.SUCCEEDED


def test_a_permanently_failed_action_is_acknowledged_and_does_not_hold_back_its_order(setup: Setup) -> None:
    first, second = setup.accept("order-a"), setup.accept("order-a")
    setup.runner.script(first.action_id, raising(PermanentError(Platform.TICKETSCLOUD, "HTTP 400", status_code=400)))

    response = setup.worker.handle({"Records": [record_of(first), record_of(second)]})

    assert failed_ids(response) == []
    assert (setup.state(first), setup.state(second)) == (ActionState.FAILED, ActionState.SUCCEEDED)


def test_a_delivery_skipped_behind_a_failed_action_spends_nothing_whatever_its_receive_count(setup: Setup) -> None:
    first, second = setup.accept("order-a"), setup.accept("order-a")
    setup.runner.script(first.action_id, raising(RetryableError(Platform.TICKETSCLOUD, "HTTP 503", status_code=503)))

    for receive in range(1, MAX_ATTEMPTS):
        batch = [record_of(first, receive_count=receive), record_of(second, receive_count=10 * receive)]
        setup.worker.handle({"Records": batch})

    behind = setup.store.get(second.action_id)
    assert behind is not None
    assert (behind.state, behind.attempts) == (ActionState.QUEUED, 0)


def test_when_the_budget_is_spent_the_action_is_dead_lettered_and_the_rest_of_its_order_goes_on(setup: Setup) -> None:
    first, second = setup.accept("order-a"), setup.accept("order-a")
    setup.runner.script(first.action_id, raising(RetryableError(Platform.TICKETSCLOUD, "HTTP 503", status_code=503)))

    responses = [setup.worker.handle({"Records": [record_of(first), record_of(second)]}) for _ in range(MAX_ATTEMPTS)]

    assert all(failed_ids(response) for response in responses[:-1])
    assert failed_ids(responses[-1]) == []
    assert setup.state(first) is ActionState.DEAD_LETTERED
    assert setup.state(second) is ActionState.SUCCEEDED
    assert [message.action_id for message in setup.queue.dead_letters] == [first.action_id]


def test_a_retryable_failure_backs_off_the_failed_record_and_those_skipped_behind_it(setup: Setup) -> None:
    first, second, other = setup.accept("order-a"), setup.accept("order-a"), setup.accept("order-b")
    setup.runner.script(
        first.action_id,
        raising(RetryableError(Platform.TICKETSCLOUD, "HTTP 429", status_code=429, retry_after=30.0)),
    )
    records = [record_of(first), record_of(second), record_of(other)]

    setup.worker.handle({"Records": records})

    [(handles, seconds)] = setup.queue.delays
    assert handles == [records[0]["receiptHandle"], records[1]["receiptHandle"]]
    assert 30 <= seconds <= 60


def test_a_message_that_is_not_an_action_fails_its_record_without_stopping_the_batch(setup: Setup) -> None:
    good = setup.accept("order-b")
    junk = sqs_record('{"not": "an action"}', group="ticketscloud#order-a", message_id="junk")

    response = setup.worker.handle({"Records": [junk, record_of(good)]})

    assert failed_ids(response) == ["junk"]
    assert setup.state(good) is ActionState.SUCCEEDED


def test_records_are_returned_untouched_when_the_invocation_is_nearly_out_of_time(setup: Setup) -> None:
    actions = [setup.accept("order-a"), setup.accept("order-b")]

    response = setup.worker.handle(
        {"Records": [record_of(action) for action in actions]}, FakeLambdaContext(remaining_ms=5_000)
    )

    assert sorted(failed_ids(response)) == sorted(f"m-{action.action_id}" for action in actions)
    assert setup.runner.calls == []
    assert {setup.state(action) for action in actions} == {ActionState.QUEUED}


def test_the_sample_fifo_event_applies_each_action_once_even_when_redelivered(setup: Setup) -> None:
    event = load_event("sqs-fifo-actions.json")

    first = setup.worker.handle(event, FakeLambdaContext())
    second = setup.worker.handle(event, FakeLambdaContext())

    assert failed_ids(first) == failed_ids(second) == []
    assert len(setup.runner.calls) == len(event["Records"])
    assert len(set(setup.runner.calls)) == len(event["Records"])
