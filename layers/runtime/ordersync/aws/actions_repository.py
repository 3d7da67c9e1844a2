"""The actions table (``ACTIONS_TABLE``): one item per action, keyed by ``action_id``, expiring by ``expires_at``.

Nested values (payload, result, errors) are stored as JSON strings: they are only ever read whole, and JSON
keeps money as the decimal strings the platforms sent instead of DynamoDB numbers.

The sparse GSI ``open-actions`` (``open_platform`` S, ``overdue_at`` S) holds only actions that a worker has
attempted and that are not final yet: ``open_platform`` is set with ``overdue_at`` and removed when the action
becomes final or dead-lettered. The reconciler reads the overdue ones by a query per platform, never a scan.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ordersync.actions.models import Action, ActionError, ActionState
from ordersync.aws.dynamodb import DynamoDBRepository, from_item, is_conditional_check_failure, model_values, to_item
from ordersync.models import Platform
from ordersync.timefmt import to_iso

_JSON_FIELDS = ("payload", "result", "errors", "last_error")
_FINAL = [ActionState.SUCCEEDED.value, ActionState.FAILED.value]
OPEN_ACTIONS_INDEX = "open-actions"
_OPEN = ("open_platform", "overdue_at")


class ActionRepository(DynamoDBRepository):
    def create(self, action: Action) -> None:
        """Record a new action; fails if the id is already taken (ids are random, so that is a bug)."""
        self.client.put_item(
            TableName=self.table_name, Item=_to_item(action), ConditionExpression="attribute_not_exists(action_id)"
        )

    def put(self, action: Action) -> None:
        self.client.put_item(TableName=self.table_name, Item=_to_item(action))

    def get(self, action_id: str) -> Action | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"action_id": {"S": action_id}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _from_item(item)

    def start_attempt(self, action_id: str, *, now: datetime, overdue_at: datetime | None = None) -> Action | None:
        """Mark the action running and count the attempt, unless it is final or dead-lettered (then ``None``).
        ``overdue_at``: when the reconciler should look at it if this attempt never reports back."""
        values: dict[str, Any] = {
            "state": ActionState.RUNNING.value,
            "started_at": to_iso(now),
            "updated_at": to_iso(now),
        }
        return self._update(
            action_id,
            values | _open_values(overdue_at),
            increment_attempts=True,
            only_if_not_final=True,
            refuse_dead_lettered=True,
        )

    def begin_attempt(
        self, action_id: str, *, now: datetime, overdue_at: datetime | None = None, max_attempts: int
    ) -> tuple[Action, Action] | None:
        """``start_attempt`` without reading the action first: one conditional ``UpdateItem`` (``ReturnValues``
        ``ALL_OLD``) that marks it running and counts the attempt only if it exists, is open, is not
        dead-lettered and has attempts left in a first budget (``budget_from`` 0). The action before and after;
        ``None`` when refused (the caller then reads it: a redriven budget, a final action, a missing record)."""
        values: dict[str, Any] = {
            "state": ActionState.RUNNING.value,
            "started_at": to_iso(now),
            "updated_at": to_iso(now),
        } | _open_values(overdue_at)
        names = {f"#{name}": name for name in values} | {"#budget_from": "budget_from", "#attempts": "attempts"}
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
        if overdue_at is not None:
            expression += ", #open_platform = #platform"
            names["#open_platform"], names["#platform"] = "open_platform", "platform"
        attribute_values: dict[str, Any] = {f":{name}": value for name, value in values.items()}
        attribute_values |= {":one": 1, ":zero": 0, ":max_attempts": max_attempts}
        attribute_values[":succeeded"], attribute_values[":failed"] = _FINAL
        attribute_values[":dead_lettered"] = ActionState.DEAD_LETTERED.value
        names["#state"] = "state"
        condition = (
            "attribute_exists(action_id) AND NOT #state IN (:succeeded, :failed) AND #state <> :dead_lettered"
            " AND (attribute_not_exists(#budget_from) OR #budget_from = :zero)"
            " AND (attribute_not_exists(#attempts) OR #attempts < :max_attempts)"
        )
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"action_id": {"S": action_id}},
                UpdateExpression=expression + " ADD #attempts :one",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(attribute_values),
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return None
            raise
        before = _from_item(response["Attributes"])
        changes: dict[str, Any] = {
            "state": ActionState.RUNNING,
            "started_at": now,
            "updated_at": now,
            "attempts": before.attempts + 1,
        }
        if overdue_at is not None:
            changes["overdue_at"] = overdue_at
        return before, before.model_copy(update=changes)

    def finish(
        self,
        action_id: str,
        state: ActionState,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
        outcome_unknown: bool = False,
        confirmed_by_read: bool = False,
        overdue_at: datetime | None = None,
        order_id: str | None = None,
    ) -> Action | None:
        """Record the outcome of an attempt (``succeeded``, ``failed``, ``queued`` for a retry, ``dead_lettered``).

        ``outcome_unknown`` says the attempt may have taken effect; ``overdue_at`` (for ``queued``) when the
        reconciler should look at it if no delivery did; ``order_id`` the order a create made."""
        values: dict[str, Any] = {
            "state": state.value,
            "updated_at": to_iso(now),
            "outcome_unknown": outcome_unknown,
            "confirmed_by_read": confirmed_by_read,
        }
        remove: tuple[str, ...] = ()
        if state.is_final or state is ActionState.DEAD_LETTERED:
            values["finished_at"] = to_iso(now)
            remove = _OPEN
        else:
            values |= _open_values(overdue_at)
        if order_id is not None:  # the order a create made
            values["order_id"] = order_id
        if result is not None:
            values["result"] = json.dumps(result, default=str)
        if errors:
            values["errors"] = _dump_errors(errors)
        if last_error is not None:
            values["last_error"] = last_error.model_dump_json()
        return self._update(action_id, values, remove=remove, only_if_not_final=True)

    def requeue(
        self,
        action_id: str,
        *,
        now: datetime,
        overdue_at: datetime | None = None,
        fresh_budget: bool = True,
        outcome_unknown: bool | None = None,
    ) -> Action | None:
        """Put a redriven (or reconciled) action back to ``queued`` (a final action stays as it is); it is no
        longer finished and, with ``fresh_budget``, gets a new attempt budget (``budget_from`` = ``attempts``)."""
        current = self.get(action_id)
        if current is None:
            return None
        values: dict[str, Any] = {"state": ActionState.QUEUED.value, "updated_at": to_iso(now)}
        if fresh_budget:
            values["budget_from"] = current.attempts
        if outcome_unknown is not None:
            values["outcome_unknown"] = outcome_unknown
        return self._update(
            action_id,
            values | _open_values(overdue_at),
            remove=("finished_at",),
            only_if_not_final=True,
        )

    def overdue(self, platform: Platform, *, now: datetime, limit: int = 100) -> list[Action]:
        """Open actions of ``platform`` whose ``overdue_at`` has passed, oldest first (one query of the sparse
        ``open-actions`` index)."""
        found: list[Action] = []
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": OPEN_ACTIONS_INDEX,
            "KeyConditionExpression": "open_platform = :platform AND overdue_at <= :now",
            "ExpressionAttributeValues": {":platform": {"S": platform.value}, ":now": {"S": to_iso(now)}},
            "Limit": limit,
        }
        while len(found) < limit:
            page = self.client.query(**arguments)
            found.extend(_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def _update(
        self,
        action_id: str,
        values: dict[str, Any],
        *,
        increment_attempts: bool = False,
        remove: tuple[str, ...] = (),
        only_if_not_final: bool = False,
        refuse_dead_lettered: bool = False,
    ) -> Action | None:
        names = {f"#{name}": name for name in (*values, *remove)}
        attribute_values: dict[str, Any] = {f":{name}": value for name, value in values.items()}
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
        if "overdue_at" in values:  # in the open-actions index, under its platform
            expression += ", #open_platform = #platform"
            names["#open_platform"], names["#platform"] = "open_platform", "platform"
        if remove:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in remove)
        if increment_attempts:
            expression += " ADD attempts :one"
            attribute_values[":one"] = 1
        condition = "attribute_exists(action_id)"
        if only_if_not_final:
            condition += " AND NOT #state IN (:succeeded, :failed)"
            names["#state"] = "state"
            attribute_values[":succeeded"], attribute_values[":failed"] = _FINAL
        if refuse_dead_lettered:
            condition += " AND #state <> :dead_lettered"
            names["#state"] = "state"
            attribute_values[":dead_lettered"] = ActionState.DEAD_LETTERED.value
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"action_id": {"S": action_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(attribute_values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return None
            raise
        return _from_item(response["Attributes"])


def _open_values(overdue_at: datetime | None) -> dict[str, Any]:
    """``overdue_at``, which (with ``open_platform`` copied from ``platform``) puts an open action in the
    ``open-actions`` index; nothing without it."""
    return {} if overdue_at is None else {"overdue_at": to_iso(overdue_at)}


def _dump_errors(errors: tuple[ActionError, ...]) -> str:
    return json.dumps([error.model_dump(mode="json") for error in errors], default=str)


def _to_item(action: Action) -> dict[str, Any]:
    data = model_values(action)
    if action.state.is_open and action.overdue_at is not None:
        data["open_platform"] = action.platform.value
    for name in _JSON_FIELDS:
        if name in data:
            data[name] = json.dumps(data[name], default=str)
    return to_item(data)


def _from_item(item: Mapping[str, Any]) -> Action:
    data = from_item(item)
    for name in _JSON_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = json.loads(data[name])
    data["attempts"] = int(data.get("attempts", 0))
    data["expires_at"] = int(data["expires_at"])
    data["budget_from"] = int(data.get("budget_from", 0))
    data.pop("open_platform", None)
    return Action.model_validate(data)
