"""The API clients table (``CLIENTS_TABLE``): key ``client_name``, GSI ``by-token-hash`` for the authorizer."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ordersync.aws.dynamodb import DynamoDBRepository, from_item, is_conditional_check_failure, model_values, to_item
from ordersync.clients_auth import ApiClient, hash_token, new_client
from ordersync.timefmt import to_iso

TOKEN_HASH_INDEX = "by-token-hash"  # noqa: S105 (an index name, not a secret)


class ClientExistsError(Exception):
    """A client of that name already exists (revoke it first, or pick another name)."""


class ClientNotFoundError(Exception):
    pass


class ClientRepository(DynamoDBRepository):
    def create(
        self, name: str, scopes: Iterable[str], *, now: datetime, usage_key: tuple[str, str] | None = None
    ) -> tuple[ApiClient, str]:
        """Store a new client and return it with its token, which is never stored and cannot be shown again."""
        client, token = new_client(name, scopes, now=now, usage_key=usage_key)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_to_item(client),
                ConditionExpression="attribute_not_exists(client_name) OR attribute_exists(revoked_at)",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                raise ClientExistsError(f"client {name!r} already exists") from error
            raise
        return client, token

    def list(self) -> list[ApiClient]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name}
        while True:
            page = self.client.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((_from_item(item) for item in items), key=lambda client: client.client_name)

    def get(self, name: str) -> ApiClient | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"client_name": {"S": name}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _from_item(item)

    def revoke(self, name: str, *, now: datetime) -> ApiClient:
        """Mark the client revoked: its token stops working at once (after the authorizer cache expires)."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"client_name": {"S": name}},
                UpdateExpression="SET revoked_at = :now",
                ConditionExpression="attribute_exists(client_name)",
                ExpressionAttributeValues={":now": {"S": to_iso(now)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                raise ClientNotFoundError(f"no client named {name!r}") from error
            raise
        return _from_item(response["Attributes"])

    def find_by_token(self, token: str) -> ApiClient | None:
        """The active client owning ``token``, or ``None``."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=TOKEN_HASH_INDEX,
            KeyConditionExpression="token_hash = :hash",
            ExpressionAttributeValues={":hash": {"S": hash_token(token)}},
        )
        for item in response.get("Items", []):
            client = _from_item(item)
            if client.verifies(token):
                return client
        return None


def _to_item(client: ApiClient) -> dict[str, Any]:
    return to_item(model_values(client) | {"scopes": list(client.scopes)})


def _from_item(item: Mapping[str, Any]) -> ApiClient:
    return ApiClient.model_validate(from_item(item))


class UsagePlanKeys:
    """Per-client throttling: each client gets an API Gateway API key in the API's usage plan, and the authorizer
    returns it as ``usageIdentifierKey`` (the API's key source is ``AUTHORIZER``)."""

    def __init__(self, usage_plan_id: str, *, client: Any = None) -> None:
        self.usage_plan_id = usage_plan_id
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("apigateway")
        return self._client

    def create(self, client_name: str) -> tuple[str, str]:
        """A new enabled API key in the usage plan; returns its (id, value)."""
        key = self.client.create_api_key(
            name=f"ordersync-{client_name}-{uuid.uuid4().hex[:8]}", enabled=True, generateDistinctId=True
        )
        self.client.create_usage_plan_key(usagePlanId=self.usage_plan_id, keyId=key["id"], keyType="API_KEY")
        return str(key["id"]), str(key["value"])

    def delete(self, key_id: str) -> None:
        self.client.delete_api_key(apiKey=key_id)
