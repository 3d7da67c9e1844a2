"""Small builders of the unit tests: orders, a settable clock, stream records, SQS FIFO records and API Gateway
events (copied in small from the slow suites' helpers, which import moto and boto3 at module level)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from ordersync.api.authorizer import UnauthorizedError, authorize
from ordersync.models import Customer, Money, Order, OrderStatus, Platform
from ordersync.sync.records import StoredOrder, to_iso

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REGION = "us-east-1"
ACCOUNT = "123456789012"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


# -- orders and time ----------------------------------------------------------------------------------------------
RAW_STATUS = {
    OrderStatus.PENDING: "executed",
    OrderStatus.PAID: "paid",
    OrderStatus.FULFILLED: "done",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REFUNDED: "refunded",
    OrderStatus.EXPIRED: "expired",
    OrderStatus.PARTIALLY_PAID: "partially_paid",
}


def order(
    order_id: str,
    *,
    platform: Platform = Platform.TICKETSCLOUD,
    created_at: datetime = NOW - timedelta(hours=1),
    status: OrderStatus = OrderStatus.PENDING,
    raw_status: str | None = None,
    email: str | None = None,
    amount: str = "100.00",
) -> Order:
    raw = raw_status or RAW_STATUS[status]
    return Order(
        platform=platform,
        order_id=order_id,
        number=order_id,
        status=status,
        raw_status=raw,
        created_at=created_at,
        total=Money(amount=Decimal(amount), currency="RUB"),
        customer=Customer(name="Ivan", email=email) if email else None,
        raw={"id": order_id, "status": raw},
    )


def orders(
    count: int,
    *,
    platform: Platform = Platform.TICKETSCLOUD,
    newest: datetime = NOW - timedelta(minutes=1),
    every: timedelta = timedelta(minutes=1),
    prefix: str = "o",
    **kwargs: Any,
) -> list[Order]:
    """``count`` orders created ``every`` apart, the newest at ``newest``; ids ``o000``, ``o001``... oldest first."""
    return [
        order(f"{prefix}{i:03d}", platform=platform, created_at=newest - every * (count - 1 - i), **kwargs)
        for i in range(count)
    ]


def with_status(source: Order, status: OrderStatus, raw_status: str | None = None) -> Order:
    raw = raw_status or RAW_STATUS[status]
    return source.model_copy(update={"status": status, "raw_status": raw, "raw": source.raw | {"status": raw}})


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def advance(self, by: timedelta) -> datetime:
        self.current += by
        return self.current


# -- the orders table's stream --------------------------------------------------------------------------------------
def _image(stored: StoredOrder) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": stored.order.key},
        "platform": {"S": stored.order.platform.value},
        "order_id": {"S": stored.order.order_id},
        "status": {"S": stored.order.status.value},
        "raw_status": {"S": stored.order.raw_status},
        "created_at": {"S": to_iso(stored.order.created_at)},
        "content_hash": {"S": stored.content_hash},
        "version": {"N": str(stored.version)},
        "first_seen_at": {"S": to_iso(stored.first_seen_at)},
        "last_changed_at": {"S": to_iso(stored.last_changed_at)},
        "last_seen_at": {"S": to_iso(stored.last_seen_at)},
        "order": {"S": stored.order.model_dump_json()},
    }
    if stored.next_check_at is not None:
        item["open_platform"] = {"S": stored.order.platform.value}
        item["next_check_at"] = {"S": to_iso(stored.next_check_at)}
    return item


def stream_record(event_name: str, *, new: StoredOrder | None = None, old: StoredOrder | None = None) -> DynamoDBRecord:
    """A ``NEW_AND_OLD_IMAGES`` stream record as Lambda delivers it."""
    key = (new or old).order.key if (new or old) else "none"
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(NOW.timestamp()),
        "Keys": {"pk": {"S": key}},
        "SequenceNumber": "1",
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        body["NewImage"] = _image(new)
    if old is not None:
        body["OldImage"] = _image(old)
    return DynamoDBRecord(
        {
            "eventID": uuid.uuid4().hex,
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": body,
        }
    )


# -- SQS FIFO records -----------------------------------------------------------------------------------------------
_sequence = itertools.count(18_000_000_000_000_000_000)


def sqs_record(body: str, *, group: str, receive_count: int = 1, message_id: str | None = None) -> dict[str, Any]:
    """A record as the SQS event source hands a FIFO message to Lambda."""
    now_ms = str(int(NOW.timestamp() * 1000))
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"AQEB{uuid.uuid4().hex}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SequenceNumber": str(next(_sequence)),
            "MessageGroupId": group,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (what SQS sends)
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:ordersync-actions.fifo",
        "awsRegion": REGION,
    }


@dataclass
class FakeLambdaContext:
    """Enough of a Lambda context for Powertools and the worker's time check."""

    function_name: str = "ordersync-unit"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ordersync-unit"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


# -- API Gateway in front of the API handler ------------------------------------------------------------------------
@dataclass
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


def api_event(
    method: str,
    path: str,
    *,
    token: str | None,
    body: Any = None,
    raw_body: str | None = None,
    binary_body: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """A REST API proxy event as API Gateway builds it (stage ``Prod``), before the authorizer runs. A
    ``binary_body`` arrives base64-encoded, as API Gateway passes a body that is not text."""
    if binary_body is not None:
        raw_body = base64.b64encode(binary_body).decode()
    event = load_event("api-get-openapi.json")
    all_headers = {"Accept": "application/json", "Host": "abcdef123.execute-api.us-east-1.amazonaws.com"}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    if content_type is not None and (body is not None or raw_body is not None):
        all_headers["Content-Type"] = content_type
    all_headers.update(headers or {})
    event.update(
        {
            "path": path,
            "resource": path,
            "httpMethod": method,
            "headers": all_headers,
            "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
            "isBase64Encoded": binary_body is not None,
        }
    )
    event["requestContext"] = dict(event["requestContext"]) | {
        "path": f"/Prod{path}",
        "httpMethod": method,
        "resourcePath": path,
        "authorizer": None,
    }
    return event


class ApiGateway:
    """Plays API Gateway: the REQUEST authorizer first (a refusal is API Gateway's own ``401``), then the handler
    with the authorizer's context."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], clients: Any) -> None:
        self.handler = handler
        self.clients = clients

    def call(self, method: str, path: str, *, token: str | None, **kwargs: Any) -> ApiAnswer:
        event = api_event(method, path, token=token, **kwargs)
        auth_event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abcdef123/Prod/{method}{path}",
            "headers": event["headers"],
            "requestContext": event["requestContext"],
        }
        try:
            policy = authorize(APIGatewayAuthorizerRequestEvent(auth_event), self.clients)
        except UnauthorizedError:
            return ApiAnswer(401, {}, {"message": "Unauthorized"})
        event["requestContext"]["authorizer"] = {"principalId": policy["principalId"], **policy["context"]}
        return answer_of(self.handler(event, FakeLambdaContext()))


def answer_of(response: dict[str, Any]) -> ApiAnswer:
    body = response.get("body")
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[str(name)] = str(values[-1])
    return ApiAnswer(int(response["statusCode"]), headers, json.loads(body) if body else None)
