"""The action reconciler (``actions.reconcile``) on fakes: no action stays queued or running past its deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import NOW, Clock
from fakes import FakeActionRunner, FakeActionSender, FakeActionStore

from ordersync.actions.apply import ActionOutcome, AttemptBudget
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.actions.reconcile import ActionReconciler
from ordersync.errors import RetryableError
from ordersync.models import Platform

BUDGET = AttemptBudget(max_attempts=5, overdue_after_seconds=420)
ORDER_ID = "5bacf64ea0eb2f000c45160a"


class Setup:
    def __init__(self) -> None:
        self.clock = Clock()
        self.store = FakeActionStore()
        self.runner = FakeActionRunner()
        self.queue = FakeActionSender()
        self.reconciler = ActionReconciler(self.store, self.runner, self.queue, budget=BUDGET, clock=self.clock)

    def running_since(self, started: timedelta) -> Action:
        """An action whose worker died ``started`` ago, in the middle of its attempt."""
        action = Action.accept(
            kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
            order_id=ORDER_ID,
            client_id="crm",
            payload={"send_tickets": True},
            now=NOW - started,
        )
        self.store.create(action)
        self.store.start_attempt(action.action_id, now=NOW - started, overdue_at=BUDGET.overdue_at(NOW - started))
        return action

    def state(self, action: Action) -> Action:
        stored = self.store.get(action.action_id)
        assert stored is not None
        return stored


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_an_overdue_action_that_took_effect_is_finished_without_sending_it(setup: Setup) -> None:
    action = setup.running_since(timedelta(minutes=10))
    setup.runner.effects[action.action_id] = lambda _: ActionOutcome(summary={"send_tickets": True})

    report = setup.reconciler.run([Platform.TICKETSCLOUD])

    done = setup.state(action)
    assert (done.state, done.confirmed_by_read) == (ActionState.SUCCEEDED, True)
    assert report.finished == [action.action_id]
    assert setup.queue.sent == []
    assert setup.runner.calls == []


def test_an_overdue_action_without_effect_is_queued_again_with_its_budget_as_it_was(setup: Setup) -> None:
    action = setup.running_since(timedelta(minutes=10))

    report = setup.reconciler.run([Platform.TICKETSCLOUD])

    again = setup.state(action)
    assert (again.state, again.attempts, again.budget_from) == (ActionState.QUEUED, 1, 0)
    assert again.overdue_at == BUDGET.overdue_at(NOW)
    assert [sent.action_id for sent in setup.queue.sent] == [action.action_id]
    assert report.requeued == [action.action_id]


def test_an_action_within_its_deadline_is_left_to_the_worker(setup: Setup) -> None:
    action = setup.running_since(timedelta(minutes=5))

    report = setup.reconciler.run([Platform.TICKETSCLOUD])

    assert report.overdue == 0
    assert setup.state(action).state is ActionState.RUNNING
    assert setup.runner.checks == []


def test_an_overdue_action_whose_platform_cannot_tell_now_waits_for_the_next_run(setup: Setup) -> None:
    action = setup.running_since(timedelta(minutes=10))

    def unreadable(_: Action) -> ActionOutcome | None:
        raise RetryableError(Platform.TICKETSCLOUD, "GET: HTTP 503", status_code=503)

    setup.runner.effects[action.action_id] = unreadable

    report = setup.reconciler.run([Platform.TICKETSCLOUD])

    assert report.unresolved == [action.action_id]
    assert setup.state(action).state is ActionState.RUNNING
    assert setup.queue.sent == []


def test_final_and_dead_lettered_actions_are_not_reconciled(setup: Setup) -> None:
    done = setup.running_since(timedelta(minutes=10))
    parked = setup.running_since(timedelta(minutes=10))
    setup.store.finish(done.action_id, ActionState.SUCCEEDED, now=NOW)
    setup.store.finish(parked.action_id, ActionState.DEAD_LETTERED, now=NOW)

    report = setup.reconciler.run([Platform.TICKETSCLOUD])

    assert report.overdue == 0
    assert setup.runner.checks == []
