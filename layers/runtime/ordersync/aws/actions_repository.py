"""The actions table (``ACTIONS_TABLE``): one item per action, keyed by ``action_id``, expiring by ``expires_at``.

Nested values (payload, result, errors) are stored as JSON strings: they are only ever read whole, and JSON
keeps money as the decimal strings the platforms sent instead of DynamoDB numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ordersync.actions.models import Action, ActionError, ActionState
from ordersync.aws.dynamodb import DynamoDBRepository, from_item, is_conditional_check_failure, model_values, to_item
from ordersync.timefmt import to_iso

_JSON_FIELDS = ("payload", "result", "errors", "last_error")
_FINAL = [ActionState.SUCCEEDED.value, ActionState.FAILED.value]


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

    def start_attempt(self, action_id: str, *, now: datetime) -> Action | None:
        """Mark the action running and count the attempt, unless it is already final (then ``None``)."""
        return self._update(
            action_id,
            {"state": ActionState.RUNNING.value, "started_at": to_iso(now), "updated_at": to_iso(now)},
            increment_attempts=True,
            only_if_not_final=True,
        )

    def finish(
        self,
        action_id: str,
        state: ActionState,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
    ) -> Action | None:
        """Record the outcome of an attempt (``succeeded``, ``failed``, ``queued`` for a retry, ``dead_lettered``)."""
        values: dict[str, Any] = {"state": state.value, "updated_at": to_iso(now)}
        if state.is_final or state is ActionState.DEAD_LETTERED:
            values["finished_at"] = to_iso(now)
        if result is not None:
            values["result"] = json.dumps(result, default=str)
        if errors:
            values["errors"] = _dump_errors(errors)
        if last_error is not None:
            values["last_error"] = last_error.model_dump_json()
        return self._update(action_id, values, only_if_not_final=True)

    def requeue(self, action_id: str, *, now: datetime) -> Action | None:
        """Put a redriven action back to ``queued`` (a final action stays as it is); it is no longer finished."""
        return self._update(
            action_id,
            {"state": ActionState.QUEUED.value, "updated_at": to_iso(now)},
            remove=("finished_at",),
            only_if_not_final=True,
        )

    def _update(
        self,
        action_id: str,
        values: dict[str, Any],
        *,
        increment_attempts: bool = False,
        remove: tuple[str, ...] = (),
        only_if_not_final: bool = False,
    ) -> Action | None:
        names = {f"#{name}": name for name in (*values, *remove)}
        attribute_values: dict[str, Any] = {f":{name}": value for name, value in values.items()}
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
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


def _dump_errors(errors: tuple[ActionError, ...]) -> str:
    return json.dumps([error.model_dump(mode="json") for error in errors], default=str)


def _to_item(action: Action) -> dict[str, Any]:
    data = model_values(action)
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
    return Action.model_validate(data)
