"""Accepting actions (``actions.accept``) and applying them (``actions.apply``) on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import NOW, Clock, order
from fakes import FakeActionRunner, FakeActionSender, FakeActionStore, FakeOrderStore, FakeQueueControl, Script

from ordersync.actions.accept import AcceptFailedError, ActionAcceptor
from ordersync.actions.apply import ActionApplier, ActionOutcome, AttemptBudget, RetryLaterError
from ordersync.actions.models import EXPORT_GROUP, Action, ActionError, ActionKind, ActionMessage, ActionState
from ordersync.errors import (
    AuthenticationError,
    MalformedResponseError,
    OutcomeUnknownError,
    PermanentError,
    PlatformError,
    RetryableError,
)
from ordersync.models import Platform

MAX_ATTEMPTS = 4
BUDGET = AttemptBudget(max_attempts=MAX_ATTEMPTS, base_seconds=10, max_seconds=60)
ORDER_ID = "5bacf64ea0eb2f000c45160a"


@pytest.fixture
def store() -> FakeActionStore:
    return FakeActionStore()


@pytest.fixture
def sender() -> FakeActionSender:
    return FakeActionSender()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def acceptor(store: FakeActionStore, sender: FakeActionSender, clock: Clock) -> ActionAcceptor:
    return ActionAcceptor(store, sender, clock=clock)


@pytest.fixture
def runner() -> FakeActionRunner:
    return FakeActionRunner()


@pytest.fixture
def orders() -> FakeOrderStore:
    return FakeOrderStore()


@pytest.fixture
def queue() -> FakeQueueControl:
    return FakeQueueControl()


@pytest.fixture
def applier(
    store: FakeActionStore, runner: FakeActionRunner, orders: FakeOrderStore, clock: Clock, queue: FakeQueueControl
) -> ActionApplier:
    return ActionApplier(store, runner, orders, budget=BUDGET, queue=queue, clock=clock)


def accept_order_action(acceptor: ActionAcceptor, order_id: str = ORDER_ID) -> Action:
    return acceptor.accept(
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
        order_id=order_id,
        client_id="crm",
        payload={"send_tickets": True},
    )


def platform_error(cls: type[PlatformError], status: int, body: object = None) -> PlatformError:
    return cls(Platform.TICKETSCLOUD, f"PATCH /orders: HTTP {status}", status_code=status, body=body)


def raising(error: Exception) -> Script:
    def step(action: Action) -> ActionOutcome:
        raise error

    return step


# -- accepting ----------------------------------------------------------------------------------------------------
def test_an_accepted_action_is_recorded_queued_before_it_is_sent(
    acceptor: ActionAcceptor, store: FakeActionStore, sender: FakeActionSender
) -> None:
    action = accept_order_action(acceptor)

    assert store.get(action.action_id) == action
    assert action.state is ActionState.QUEUED
    assert [sent.action_id for sent in sender.sent] == [action.action_id]
    assert action.accepted_at == NOW


def test_actions_on_one_order_share_its_message_group(acceptor: ActionAcceptor) -> None:
    first, second = accept_order_action(acceptor), accept_order_action(acceptor)
    other = accept_order_action(acceptor, "another-order")

    assert first.group_id == second.group_id == f"ticketscloud#{ORDER_ID}"
    assert other.group_id == "ticketscloud#another-order"
    assert first.action_id != second.action_id


def test_exports_share_the_single_exports_group(acceptor: ActionAcceptor) -> None:
    action = acceptor.accept(
        kind=ActionKind.TICKETSCLOUD_EXPORT, order_id=None, client_id="crm", payload={"email": "a@b.c"}
    )

    assert action.group_id == EXPORT_GROUP
    assert action.platform is Platform.TICKETSCLOUD


def test_an_action_that_cannot_be_recorded_is_not_queued(
    acceptor: ActionAcceptor, store: FakeActionStore, sender: FakeActionSender
) -> None:
    store.fail_create = RuntimeError("table unavailable")

    with pytest.raises(AcceptFailedError, match="recorded"):
        accept_order_action(acceptor)
    assert sender.sent == []


def test_an_action_that_cannot_be_queued_is_marked_failed_not_queued(
    acceptor: ActionAcceptor, store: FakeActionStore, sender: FakeActionSender
) -> None:
    sender.fail = RuntimeError("queue unavailable")

    with pytest.raises(AcceptFailedError, match="queued"):
        accept_order_action(acceptor)
    [recorded] = store.actions.values()
    assert recorded.state is ActionState.FAILED
    assert [error.code for error in recorded.errors] == ["not_queued"]


# -- applying -----------------------------------------------------------------------------------------------------
def test_a_successful_action_is_recorded_with_its_summary_and_its_order_saved(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, orders: FakeOrderStore
) -> None:
    action = accept_order_action(acceptor)
    answered = order(ORDER_ID)
    runner.default = lambda _: ActionOutcome(summary={"order_status": "pending"}, order=answered)

    done = applier.apply(action.to_message())

    assert done.state is ActionState.SUCCEEDED
    assert (done.attempts, done.result, done.finished_at) == (1, {"order_status": "pending"}, NOW)
    assert orders.stored(answered).version == 1


def test_a_fresh_delivery_is_started_without_reading_the_action_first(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    runner.default = lambda _: ActionOutcome(summary={"order_status": "pending"}, order=order(ORDER_ID))
    store.fail_get = AssertionError("read the action before starting it")

    done = applier.apply(action.to_message())

    assert (done.state, done.attempts) == (ActionState.SUCCEEDED, 1)


def test_an_order_that_cannot_be_stored_leaves_the_action_succeeded(
    acceptor: ActionAcceptor,
    applier: ActionApplier,
    runner: FakeActionRunner,
    orders: FakeOrderStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    action = accept_order_action(acceptor)
    runner.default = lambda _: ActionOutcome(summary={"order_status": "pending"}, order=order(ORDER_ID))

    def unavailable(*_: object, **__: object) -> None:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr(orders, "save_changed", unavailable)

    done = applier.apply(action.to_message())

    assert (done.state, done.attempts) == (ActionState.SUCCEEDED, 1)


def test_promocode_errors_of_a_successful_answer_are_kept_on_the_action(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    refused = ActionError(code="promocode_not_found", message="no such promocode", status_code=200)
    runner.default = lambda _: ActionOutcome(summary={"promocodes": {"sent": 1, "failed": 1}}, errors=(refused,))

    done = applier.apply(action.to_message())

    assert done.state is ActionState.SUCCEEDED
    assert done.errors == (refused,)


def test_the_platforms_answer_does_not_overwrite_an_order_stored_after_the_request_was_sent(
    acceptor: ActionAcceptor,
    applier: ActionApplier,
    runner: FakeActionRunner,
    orders: FakeOrderStore,
    clock: Clock,
) -> None:
    action = accept_order_action(acceptor)
    polled = order(ORDER_ID, email="newer@example.com")

    def a_poller_stores_the_order_meanwhile(_: Action) -> ActionOutcome:
        orders.save_changed([polled], seen_at=clock.advance(timedelta(seconds=1)))
        return ActionOutcome(summary={}, order=order(ORDER_ID, email="older@example.com"))

    runner.default = a_poller_stores_the_order_meanwhile

    applier.apply(action.to_message())

    assert orders.stored(polled).order == polled


def test_a_retryable_error_returns_the_action_to_the_queue_with_its_last_error(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    runner.default = raising(platform_error(RetryableError, 503))

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    queued = store.get(action.action_id)
    assert queued is not None
    assert queued.state is ActionState.QUEUED
    assert queued.attempts == 1
    assert queued.last_error is not None
    assert (queued.last_error.code, queued.last_error.status_code) == ("http_503", 503)


def test_a_retryable_action_succeeds_on_a_later_delivery(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    runner.script(action.action_id, raising(platform_error(RetryableError, 429)), lambda _: ActionOutcome(summary={}))

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    done = applier.apply(action.to_message())

    assert done.state is ActionState.SUCCEEDED
    assert done.attempts == 2


def test_a_retryable_error_on_the_budgets_last_attempt_dead_letters_the_action_itself(
    acceptor: ActionAcceptor,
    applier: ActionApplier,
    runner: FakeActionRunner,
    store: FakeActionStore,
    queue: FakeQueueControl,
) -> None:
    action = accept_order_action(acceptor)
    runner.default = raising(platform_error(RetryableError, 500))

    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RetryLaterError):
            applier.apply(action.to_message())
    last = applier.apply(action.to_message())  # acknowledged: the worker moved it to the DLQ itself

    assert last.state is ActionState.DEAD_LETTERED
    assert last.finished_at == NOW
    assert last.last_error is not None
    assert last.last_error.code == "http_500"
    assert [message.action_id for message in queue.dead_letters] == [action.action_id]
    assert len(runner.calls) == MAX_ATTEMPTS


def test_a_dead_lettered_action_delivered_again_is_acknowledged_without_calling_the_platform(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    store.finish(action.action_id, ActionState.DEAD_LETTERED, now=NOW)

    assert applier.apply(action.to_message()).state is ActionState.DEAD_LETTERED
    assert runner.calls == []


def test_a_retry_backs_off_exponentially_and_never_shorter_than_retry_after(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    runner.default = raising(RetryableError(Platform.TICKETSCLOUD, "HTTP 429", status_code=429, retry_after=45.0))

    with pytest.raises(RetryLaterError) as first:
        applier.apply(action.to_message())

    assert 45 <= first.value.delay_seconds <= 60


def test_backoff_grows_with_the_attempt_and_stays_under_its_cap() -> None:
    budget = AttemptBudget(max_attempts=10, base_seconds=10, max_seconds=60)

    assert all(0 <= budget.delay(1) <= 10 for _ in range(50))
    assert all(0 <= budget.delay(3) <= 40 for _ in range(50))
    assert all(0 <= budget.delay(9) <= 60 for _ in range(50))
    assert budget.delay(9, retry_after=600) == 600


def test_a_redriven_action_gets_a_fresh_attempt_budget(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    runner.script(action.action_id, raising(platform_error(RetryableError, 503)))
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RetryLaterError):
            applier.apply(action.to_message())
    assert applier.apply(action.to_message()).state is ActionState.DEAD_LETTERED

    store.requeue(action.action_id, now=NOW)
    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())

    again = store.get(action.action_id)
    assert again is not None
    assert (again.state, again.attempts) == (ActionState.QUEUED, MAX_ATTEMPTS + 1)


@pytest.mark.parametrize(
    "lost",
    [
        OutcomeUnknownError(Platform.TICKETSCLOUD, "PATCH: answer lost (timed out)"),
        RetryableError(Platform.TICKETSCLOUD, "PATCH: connection failed (reset)"),
        MalformedResponseError(
            Platform.TICKETSCLOUD, "PATCH: answered 200 with a body that is not JSON", status_code=200
        ),
    ],
    ids=["timeout", "connection_reset", "unreadable_200"],
)
def test_after_an_unknown_outcome_the_effect_is_read_and_an_applied_action_is_not_sent_again(
    acceptor: ActionAcceptor,
    applier: ActionApplier,
    runner: FakeActionRunner,
    store: FakeActionStore,
    lost: RetryableError,
) -> None:
    action = accept_order_action(acceptor)
    runner.script(action.action_id, raising(lost))
    runner.effects[action.action_id] = lambda _: ActionOutcome(summary={"send_tickets": True})

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    unknown = store.get(action.action_id)
    done = applier.apply(action.to_message())

    assert unknown is not None
    assert unknown.outcome_unknown is True
    assert (done.state, done.confirmed_by_read) == (ActionState.SUCCEEDED, True)
    assert runner.calls == [action.action_id]  # sent once
    assert runner.checks == [action.action_id]


def test_after_an_unknown_outcome_an_action_whose_effect_is_absent_is_sent_again(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    runner.script(
        action.action_id,
        raising(OutcomeUnknownError(Platform.TICKETSCLOUD, "PATCH: answer lost")),
        lambda _: ActionOutcome(summary={"sent": 2}),
    )

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    done = applier.apply(action.to_message())

    assert (done.state, done.confirmed_by_read) == (ActionState.SUCCEEDED, False)
    assert runner.checks == [action.action_id]
    assert runner.calls == [action.action_id, action.action_id]


def test_a_known_failure_is_sent_again_without_reading_the_platform_first(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    runner.script(action.action_id, raising(platform_error(RetryableError, 503)), lambda _: ActionOutcome(summary={}))

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    applier.apply(action.to_message())

    assert runner.checks == []


def test_an_action_left_running_by_a_dead_worker_is_checked_before_it_is_sent_again(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    store.start_attempt(action.action_id, now=NOW)  # the worker died during this attempt
    runner.effects[action.action_id] = lambda _: ActionOutcome(summary={"applied": True})

    done = applier.apply(action.to_message())

    assert (done.state, done.confirmed_by_read) == (ActionState.SUCCEEDED, True)
    assert runner.calls == []


def test_a_check_that_cannot_read_the_platform_keeps_the_outcome_unknown(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    runner.script(action.action_id, raising(OutcomeUnknownError(Platform.TICKETSCLOUD, "PATCH: answer lost")))

    def unreadable(_: Action) -> ActionOutcome | None:
        raise RetryableError(Platform.TICKETSCLOUD, "GET: HTTP 503", status_code=503)

    runner.effects[action.action_id] = unreadable
    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())

    still = store.get(action.action_id)
    assert still is not None
    assert still.outcome_unknown is True
    assert runner.calls == [action.action_id]


def test_a_permanent_error_fails_the_action_at_once_keeping_the_platforms_body(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    body = {"errors": {"customer": {"email": ["invalid"]}}}
    runner.default = raising(platform_error(PermanentError, 400, body))

    failed = applier.apply(action.to_message())

    assert failed.state is ActionState.FAILED
    [error] = failed.errors
    assert (error.code, error.status_code, error.detail) == ("http_400", 400, body)
    assert failed.last_error == error


def test_an_authentication_error_is_permanent(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner
) -> None:
    action = accept_order_action(acceptor)
    runner.default = raising(platform_error(AuthenticationError, 401, "bad token"))

    assert applier.apply(action.to_message()).state is ActionState.FAILED


def test_an_unexpected_error_is_retried_as_an_internal_error(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    action = accept_order_action(acceptor)
    runner.default = raising(KeyError("TICKETSCLOUD_SECRET"))

    with pytest.raises(RetryLaterError):
        applier.apply(action.to_message())
    queued = store.get(action.action_id)
    assert queued is not None
    assert queued.last_error is not None
    assert queued.last_error.code == "internal_error"


@pytest.mark.parametrize("final", ["succeeded", "failed"])
def test_a_redelivered_final_action_is_acknowledged_without_calling_the_platform(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore, final: str
) -> None:
    action = accept_order_action(acceptor)
    store.finish(action.action_id, ActionState(final), now=NOW)

    again = applier.apply(action.to_message())

    assert again.state is ActionState(final)
    assert runner.calls == []


def test_a_message_whose_record_is_missing_is_rebuilt_and_applied(
    applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    message = ActionMessage(
        action_id="lost-record",
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
        order_id=ORDER_ID,
        group_id=f"ticketscloud#{ORDER_ID}",
        client_id="crm",
        payload={"send_tickets": True},
        accepted_at=NOW - timedelta(days=40),
    )

    done = applier.apply(message)

    assert done.state is ActionState.SUCCEEDED
    assert runner.calls == ["lost-record"]
    assert store.get("lost-record") is not None


def test_a_failure_to_store_the_returned_order_does_not_fail_the_action(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, orders: FakeOrderStore
) -> None:
    action = accept_order_action(acceptor)
    orders.fail_saves = RuntimeError("throttled")
    runner.default = lambda _: ActionOutcome(summary={}, order=order(ORDER_ID))

    assert applier.apply(action.to_message()).state is ActionState.SUCCEEDED


def test_an_action_whose_worker_died_during_its_last_attempt_is_read_back_before_it_is_dead_lettered(
    acceptor: ActionAcceptor, applier: ActionApplier, runner: FakeActionRunner, store: FakeActionStore
) -> None:
    landed, lost = accept_order_action(acceptor), accept_order_action(acceptor, "6bacf64ea0eb2f000c45160b")
    for action in (landed, lost):
        for _ in range(MAX_ATTEMPTS):
            store.start_attempt(action.action_id, now=NOW)  # the last one never reported back
    runner.effects[landed.action_id] = lambda _: ActionOutcome(summary={"applied": True})

    finished, parked = applier.apply(landed.to_message()), applier.apply(lost.to_message())

    assert (finished.state, finished.confirmed_by_read) == (ActionState.SUCCEEDED, True)
    assert (parked.state, parked.outcome_unknown) == (ActionState.DEAD_LETTERED, False)
    assert runner.calls == []
