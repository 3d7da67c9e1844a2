"""What the DynamoDB repositories share (``ordersync.aws.dynamodb``): telling a failed write condition from
other errors, marshalling, stored times of models, and a client built only on first use."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel

from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.aws import dynamodb
from ordersync.aws.dynamodb import (
    DynamoDBRepository,
    from_item,
    is_conditional_check_failure,
    model_values,
    to_item,
)
from ordersync.clients_auth import hash_token, new_token


def client_error(response: dict[str, Any]) -> ClientError:
    return ClientError(response, "PutItem")  # type: ignore[arg-type]


def test_a_failed_write_condition_is_recognised() -> None:
    error = client_error({"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional..."}})

    assert is_conditional_check_failure(error)


@pytest.mark.parametrize(
    "response",
    [
        {"Error": {"Code": "ProvisionedThroughputExceededException"}},
        {"Error": {"Code": "ResourceNotFoundException"}},
        {"Error": {"Code": "TransactionCanceledException"}},
        {"Error": {}},
        {},
    ],
)
def test_other_errors_are_not_taken_for_a_failed_condition(response: dict[str, Any]) -> None:
    assert not is_conditional_check_failure(client_error(response))


def test_a_real_failed_condition_is_recognised(wp_aws: Any) -> None:
    client = boto3.client("dynamodb")
    item = {"action_id": {"S": "a-1"}}
    client.put_item(TableName=wp_aws.actions_table, Item=item)

    with pytest.raises(ClientError) as caught:
        client.put_item(
            TableName=wp_aws.actions_table, Item=item, ConditionExpression="attribute_not_exists(action_id)"
        )
    assert is_conditional_check_failure(caught.value)


def test_items_marshal_both_ways() -> None:
    plain = {"name": "crm", "attempts": 3, "scopes": ["a", "b"], "revoked": None, "active": True}

    typed = to_item(plain)

    assert typed["name"] == {"S": "crm"}
    assert typed["attempts"] == {"N": "3"}
    assert from_item(typed) == plain | {"attempts": Decimal(3)}


class Stamped(BaseModel):
    name: str
    at: datetime
    until: datetime | None = None
    count: int = 0


def test_model_times_are_stored_in_the_one_time_format() -> None:
    moscow = timezone(timedelta(hours=3))
    values = model_values(Stamped(name="x", at=datetime(2026, 1, 2, 6, 4, 5, tzinfo=moscow)))

    assert values == {"name": "x", "at": "2026-01-02T03:04:05.000000Z", "count": 0}


def test_the_client_is_built_on_first_use_only(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr(dynamodb.boto3, "client", lambda service: built.append(service) or f"client of {service}")

    repository = DynamoDBRepository("table")
    assert built == []

    assert repository.client == "client of dynamodb"
    assert repository.client == "client of dynamodb"
    assert built == ["dynamodb"]


def test_a_given_client_is_used_as_it_is() -> None:
    given: Any = object()

    assert DynamoDBRepository("table", dynamodb_client=given).client is given


def test_times_of_naive_models_are_refused() -> None:
    naive = Stamped.model_construct(name="x", at=datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None))

    with pytest.raises(ValueError, match="timezone-aware"):
        model_values(naive)


# -- the actions and clients tables: one time format, and the isoformat() items written before it -----------------
NOW = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
FIXED_WIDTH = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def raw_item(table: str, key: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = boto3.client("dynamodb").get_item(TableName=table, Key=to_item(key))["Item"]
    return from_item(item)


def test_actions_are_stored_with_fixed_width_times(wp_aws: Any) -> None:
    actions = wp_aws.actions()
    action = Action.accept(
        kind=ActionKind.ECARDS_CREATE_ORDER, order_id=None, client_id="crm", payload={"n": 1}, now=NOW
    )
    actions.create(action)
    actions.start_attempt(action.action_id, now=NOW + timedelta(seconds=1))
    actions.finish(action.action_id, ActionState.SUCCEEDED, now=NOW + timedelta(seconds=2), result={"ok": True})

    stored = raw_item(wp_aws.actions_table, {"action_id": action.action_id})

    assert stored["accepted_at"] == "2026-03-04T05:06:07.890000Z"
    assert stored["started_at"] == "2026-03-04T05:06:08.890000Z"
    assert stored["updated_at"] == stored["finished_at"] == "2026-03-04T05:06:09.890000Z"
    read = actions.get(action.action_id)
    assert read is not None
    assert read.finished_at == NOW + timedelta(seconds=2)
    assert read.attempts == 1


def test_an_action_stored_with_isoformat_times_is_still_read_and_updated(wp_aws: Any) -> None:
    """Items the resource-API repository wrote: pydantic's JSON times on create, ``isoformat()`` on update."""
    boto3.client("dynamodb").put_item(
        TableName=wp_aws.actions_table,
        Item=to_item(
            {
                "action_id": "old-1",
                "kind": "ecards_create_order",
                "platform": "ecards",
                "group_id": "ecards#exports",
                "client_id": "crm",
                "payload": '{"n": 1}',
                "state": "running",
                "attempts": 1,
                "accepted_at": "2026-03-04T05:06:07.89Z",
                "updated_at": "2026-03-04T05:06:08.890000+00:00",
                "started_at": "2026-03-04T08:06:08.890000+03:00",
                "expires_at": 1_800_000_000,
            }
        ),
    )
    actions = wp_aws.actions()

    old = actions.get("old-1")

    assert old is not None
    assert old.accepted_at == NOW
    assert old.updated_at == old.started_at == NOW + timedelta(seconds=1)
    assert old.payload == {"n": 1}
    finished = actions.finish("old-1", ActionState.FAILED, now=NOW + timedelta(seconds=2))
    assert finished is not None
    assert finished.started_at == NOW + timedelta(seconds=1)
    assert finished.finished_at == NOW + timedelta(seconds=2)
    assert raw_item(wp_aws.actions_table, {"action_id": "old-1"})["finished_at"] == "2026-03-04T05:06:09.890000Z"


def test_clients_are_stored_with_fixed_width_times(wp_aws: Any) -> None:
    clients = wp_aws.clients()
    clients.create("crm", ["ecards:act"], now=NOW)
    clients.revoke("crm", now=NOW + timedelta(days=1))

    stored = raw_item(wp_aws.clients_table, {"client_name": "crm"})

    assert stored["created_at"] == "2026-03-04T05:06:07.890000Z"
    assert stored["revoked_at"] == "2026-03-05T05:06:07.890000Z"


def test_a_client_stored_with_isoformat_times_is_still_read_and_found_by_token(wp_aws: Any) -> None:
    token = new_token()
    boto3.client("dynamodb").put_item(
        TableName=wp_aws.clients_table,
        Item=to_item(
            {
                "client_name": "old-crm",
                "token_hash": hash_token(token),
                "scopes": ["ecards:act"],
                "created_at": "2026-03-04T05:06:07.89Z",
            }
        ),
    )
    clients = wp_aws.clients()

    found = clients.find_by_token(token)

    assert found is not None
    assert found.client_name == "old-crm"
    assert found.created_at == NOW
    assert [client.client_name for client in clients.list()] == ["old-crm"]
    revoked = clients.revoke("old-crm", now=NOW + timedelta(days=1))
    assert revoked.created_at == NOW
    assert revoked.revoked_at == NOW + timedelta(days=1)
    assert re.fullmatch(FIXED_WIDTH, raw_item(wp_aws.clients_table, {"client_name": "old-crm"})["revoked_at"])
    assert clients.find_by_token(token) is None
