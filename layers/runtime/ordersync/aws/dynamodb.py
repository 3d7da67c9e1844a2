"""What the DynamoDB repositories share: a boto3 client made on first use, the marshalling of items
between DynamoDB's typed attribute values and plain Python values, and how a failed write condition is told
apart from other errors. Every repository uses the client API, never the resource API."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from ordersync.timefmt import to_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_client_lock = threading.Lock()  # boto3's default session is not safe to build clients from two threads at once


def is_conditional_check_failure(error: ClientError) -> bool:
    """Whether a write was refused because its ``ConditionExpression`` did not hold (not an outage or a bug)."""
    return error.response.get("Error", {}).get("Code") == CONDITIONAL_CHECK_FAILED


def to_attribute(value: Any) -> dict[str, Any]:
    """One plain value (str, int, Decimal, bool, None, list, dict...) as a DynamoDB attribute value."""
    return cast("dict[str, Any]", _serializer.serialize(value))


def to_item(plain: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or a ``Key``, or expression values) of plain values in DynamoDB's typed form."""
    return {name: to_attribute(value) for name, value in plain.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB's typed form as plain values (numbers come back as ``Decimal``)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def model_values(model: BaseModel) -> dict[str, Any]:
    """A model's set fields as plain JSON values, with every top-level time in the stored time format."""
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    for name, value in model:
        if isinstance(value, datetime):
            data[name] = to_iso(value)
    return data


class DynamoDBRepository:
    """Base of a repository over one table. boto3 is touched only on first use, so that building a repository
    at import time (a Lambda's cold start) costs nothing, and tests can hand in a ready client."""

    def __init__(self, table_name: str, *, dynamodb_client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = dynamodb_client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            with _client_lock:
                if self._client is None:
                    self._client = boto3.client("dynamodb")
        return self._client
