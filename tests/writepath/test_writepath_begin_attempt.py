"""``ActionRepository.begin_attempt`` on moto: the worker's first write of a delivery, which marks the action running
and returns what it was in one conditional ``UpdateItem``, and refuses whatever needs a read first."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from writepath_support import WritePathAws

from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.aws.actions_repository import ActionRepository
from ordersync.models import Platform

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OVERDUE = NOW + timedelta(minutes=7)
MAX_ATTEMPTS = 3


class CountedRepository:
    """An ``ActionRepository`` whose DynamoDB calls are counted by operation."""

    def __init__(self, table: str) -> None:
        self.calls: Counter[str] = Counter()
        client = boto3.client("dynamodb")
        client.meta.events.register("before-call.dynamodb", self._count)
        self.actions = ActionRepository(table, dynamodb_client=client)

    def _count(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.rsplit(".", 1)[-1]] += 1


@pytest.fixture
def repository(wp_aws: WritePathAws) -> CountedRepository:
    return CountedRepository(wp_aws.actions_table)


def accepted(repository: CountedRepository) -> Action:
    action = Action.accept(
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
        order_id="o-1",
        client_id="crm",
        payload={"send_tickets": True},
        now=NOW - timedelta(seconds=5),
    )
    repository.actions.create(action)
    repository.calls.clear()
    return action


def test_an_accepted_action_is_marked_running_in_one_write_that_returns_it_before_and_after(
    repository: CountedRepository,
) -> None:
    action = accepted(repository)

    begun = repository.actions.begin_attempt(action.action_id, now=NOW, overdue_at=OVERDUE, max_attempts=MAX_ATTEMPTS)

    assert begun is not None
    before, after = begun
    assert dict(repository.calls) == {"UpdateItem": 1}
    assert (before.state, before.attempts) == (ActionState.QUEUED, 0)
    assert (after.state, after.attempts, after.started_at, after.overdue_at) == (ActionState.RUNNING, 1, NOW, OVERDUE)
    assert repository.actions.get(action.action_id) == after


def test_a_begun_attempt_is_in_the_open_actions_index(repository: CountedRepository) -> None:
    action = accepted(repository)

    repository.actions.begin_attempt(action.action_id, now=NOW, overdue_at=OVERDUE, max_attempts=MAX_ATTEMPTS)

    overdue = repository.actions.overdue(Platform.TICKETSCLOUD, now=OVERDUE + timedelta(seconds=1))
    assert [found.action_id for found in overdue] == [action.action_id]


def test_an_attempt_begun_after_a_worker_died_mid_call_shows_it_was_running(repository: CountedRepository) -> None:
    action = accepted(repository)
    repository.actions.start_attempt(action.action_id, now=NOW - timedelta(minutes=10))

    begun = repository.actions.begin_attempt(action.action_id, now=NOW, overdue_at=OVERDUE, max_attempts=MAX_ATTEMPTS)

    assert begun is not None
    assert (begun[0].state, begun[1].attempts) == (ActionState.RUNNING, 2)


@pytest.mark.parametrize("state", [ActionState.SUCCEEDED, ActionState.FAILED, ActionState.DEAD_LETTERED])
def test_a_final_or_dead_lettered_action_is_refused_and_left_as_it_is(
    repository: CountedRepository, state: ActionState
) -> None:
    action = accepted(repository)
    repository.actions.finish(action.action_id, state, now=NOW)
    stored = repository.actions.get(action.action_id)

    assert repository.actions.begin_attempt(action.action_id, now=NOW, max_attempts=MAX_ATTEMPTS) is None
    assert repository.actions.get(action.action_id) == stored


def test_an_action_whose_budget_is_spent_is_refused(repository: CountedRepository) -> None:
    action = accepted(repository)
    for _ in range(MAX_ATTEMPTS):
        repository.actions.start_attempt(action.action_id, now=NOW)

    assert repository.actions.begin_attempt(action.action_id, now=NOW, max_attempts=MAX_ATTEMPTS) is None
    stored = repository.actions.get(action.action_id)
    assert stored is not None
    assert stored.attempts == MAX_ATTEMPTS


def test_a_redriven_action_is_refused_so_that_its_fresh_budget_is_read_first(repository: CountedRepository) -> None:
    action = accepted(repository)
    repository.actions.start_attempt(action.action_id, now=NOW)
    repository.actions.requeue(action.action_id, now=NOW)

    assert repository.actions.begin_attempt(action.action_id, now=NOW, max_attempts=MAX_ATTEMPTS) is None


def test_a_missing_action_is_refused(repository: CountedRepository) -> None:
    assert repository.actions.begin_attempt("missing", now=NOW, max_attempts=MAX_ATTEMPTS) is None
