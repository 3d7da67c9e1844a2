"""The action reconciler on moto: the sparse ``open-actions`` index of the actions table, and what a worker that
died mid-action leaves behind being finished or queued again in its group."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from writepath_support import WritePathAws, records_from_sqs

from ordersync.actions.apply import ActionOutcome, AttemptBudget
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.actions.reconcile import ActionReconciler
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.models import Platform

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUDGET = AttemptBudget(overdue_after_seconds=420)


class ReadBack:
    """An ``ActionRunner`` whose platform shows the effect of the actions in ``applied``; it never sends."""

    def __init__(self, applied: set[str]) -> None:
        self.applied = applied
        self.checked: list[str] = []

    def run(self, action: Action) -> ActionOutcome:
        raise AssertionError("the reconciler never sends an action")

    def check(self, action: Action) -> ActionOutcome | None:
        self.checked.append(action.action_id)
        return ActionOutcome(summary={"read": True}) if action.action_id in self.applied else None


def died_mid_action(repository: ActionRepository, order_id: str, *, started: datetime) -> Action:
    action = Action.accept(
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS,
        order_id=order_id,
        client_id="crm",
        payload={"send_tickets": True},
        now=started,
    )
    repository.create(action)
    running = repository.start_attempt(action.action_id, now=started, overdue_at=BUDGET.overdue_at(started))
    assert running is not None
    return running


def items_in_open_index(wp_aws: WritePathAws) -> list[str]:
    items = boto3.client("dynamodb").scan(TableName=wp_aws.actions_table, IndexName="open-actions")["Items"]
    return sorted(item["action_id"]["S"] for item in items)


def test_only_attempted_actions_that_are_not_final_are_in_the_open_index(wp_aws: WritePathAws) -> None:
    repository = wp_aws.actions()
    running = died_mid_action(repository, "o1", started=NOW)
    done = died_mid_action(repository, "o2", started=NOW)
    repository.finish(done.action_id, ActionState.SUCCEEDED, now=NOW)
    never_tried = Action.accept(
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS, order_id="o3", client_id="crm", payload={"x": 1}, now=NOW
    )
    repository.create(never_tried)

    assert items_in_open_index(wp_aws) == [running.action_id]


def test_overdue_reads_only_actions_past_their_deadline_by_one_query(wp_aws: WritePathAws) -> None:
    repository = wp_aws.actions()
    late = died_mid_action(repository, "o1", started=NOW - timedelta(minutes=10))
    died_mid_action(repository, "o2", started=NOW - timedelta(minutes=2))

    overdue = repository.overdue(Platform.TICKETSCLOUD, now=NOW)

    assert [action.action_id for action in overdue] == [late.action_id]
    assert repository.overdue(Platform.ECARDS, now=NOW) == []


def test_a_worker_killed_mid_action_leaves_it_finished_or_queued_again_by_the_next_reconcile(
    wp_aws: WritePathAws,
) -> None:
    repository = wp_aws.actions()
    landed = died_mid_action(repository, "o1", started=NOW - timedelta(minutes=10))
    lost = died_mid_action(repository, "o2", started=NOW - timedelta(minutes=10))
    runner = ReadBack(applied={landed.action_id})
    reconciler = ActionReconciler(repository, runner, ActionQueue(wp_aws.queue_url), budget=BUDGET, clock=lambda: NOW)

    report = reconciler.run()

    finished, requeued = repository.get(landed.action_id), repository.get(lost.action_id)
    assert finished is not None
    assert requeued is not None
    assert (finished.state, finished.confirmed_by_read) == (ActionState.SUCCEEDED, True)
    assert requeued.state is ActionState.QUEUED
    assert (report.finished, report.requeued) == ([landed.action_id], [lost.action_id])
    [message] = records_from_sqs(wp_aws.sqs, wp_aws.queue_url)
    assert json.loads(message["body"])["action_id"] == lost.action_id
    assert message["attributes"]["MessageGroupId"] == "ticketscloud#o2"
    assert items_in_open_index(wp_aws) == [lost.action_id]  # open again, with a new deadline
    assert repository.overdue(Platform.TICKETSCLOUD, now=NOW) == []
