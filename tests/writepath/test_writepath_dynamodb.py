"""What the DynamoDB repositories share (``ordersync.aws.dynamodb``): telling a failed write condition from
other errors, marshalling, stored times of models, and a client built only on first use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import BaseModel

from ordersync.aws import dynamodb
from ordersync.aws.dynamodb import (
    DynamoDBRepository,
    from_item,
    is_conditional_check_failure,
    model_values,
    to_item,
)


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
