"""Helpers of the write-path tests: moto tables and queues, SQS-shaped FIFO records, and an in-test SQS FIFO
delivery loop that keeps per-group order across retries (moto 5.2.5 does not)."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
)
from template_tables import create_table_from_template

from ordersync.actions.accept import ActionAcceptor
from ordersync.api.authorizer import UnauthorizedError, authorize
from ordersync.api.resolver import ApiServices
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.aws.clients_repository import ClientRepository
from ordersync.aws.orders_repository import OrderRepository

EVENTS = Path(__file__).resolve().parents[2] / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
MAX_RECEIVE_COUNT = 4


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


# -- AWS resources in moto ------------------------------------------------------------------------------------
@dataclass
class WritePathAws:
    actions_table: str
    clients_table: str
    idempotency_table: str
    queue_url: str
    dlq_url: str

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def actions(self) -> ActionRepository:
        return ActionRepository(self.actions_table)

    def clients(self) -> ClientRepository:
        return ClientRepository(self.clients_table)

    def queue(self) -> ActionQueue:
        return ActionQueue(self.queue_url)

    def acceptor(self) -> ActionAcceptor:
        return ActionAcceptor(self.actions(), self.queue())


def create_write_path_resources(suffix: str = "") -> WritePathAws:
    dynamodb = boto3.client("dynamodb")
    names = {
        "actions": f"ordersync-actions{suffix}",
        "clients": f"ordersync-clients{suffix}",
        "idempotency": f"ordersync-idempotency{suffix}",
    }
    create_table_from_template("ActionsTable", names["actions"], dynamodb)
    create_table_from_template("ApiClientsTable", names["clients"], dynamodb)
    create_table_from_template("IdempotencyTable", names["idempotency"], dynamodb)
    sqs = boto3.client("sqs")
    fifo = {"FifoQueue": "true", "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    dlq_url = sqs.create_queue(QueueName=f"ordersync-actions-dlq{suffix}.fifo", Attributes=fifo)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
    queue_url = sqs.create_queue(
        QueueName=f"ordersync-actions{suffix}.fifo",
        Attributes=fifo | {"VisibilityTimeout": "30", "RedrivePolicy": redrive},
    )["QueueUrl"]
    return WritePathAws(names["actions"], names["clients"], names["idempotency"], queue_url, dlq_url)


# -- SQS-shaped FIFO records ----------------------------------------------------------------------------------
_sequence = itertools.count(18_000_000_000_000_000_000)


def sqs_record(
    body: str,
    *,
    group: str,
    receive_count: int = 1,
    message_id: str | None = None,
    dedup_id: str | None = None,
    sequence_number: str | None = None,
    queue_name: str = "ordersync-actions.fifo",
) -> dict[str, Any]:
    """A record as the SQS event source hands a FIFO message to Lambda."""
    now_ms = str(int(datetime.now(UTC).timestamp() * 1000))
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": f"AQEB{uuid.uuid4().hex}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SequenceNumber": sequence_number or str(next(_sequence)),
            "MessageGroupId": group,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "MessageDeduplicationId": dedup_id or hashlib.sha256(body.encode()).hexdigest(),
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (what SQS sends)
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}",
        "awsRegion": REGION,
    }


def records_from_sqs(sqs: Any, queue_url: str, *, limit: int = 10_000) -> list[dict[str, Any]]:
    """Take every message off a moto FIFO queue (deleting it) as SQS event records, in the queue's order."""
    records: list[dict[str, Any]] = []
    while len(records) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            attributes = message["Attributes"]
            records.append(
                sqs_record(
                    message["Body"],
                    group=attributes["MessageGroupId"],
                    message_id=message["MessageId"],
                    dedup_id=attributes.get("MessageDeduplicationId"),
                    sequence_number=attributes.get("SequenceNumber"),
                )
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return records


Handler = Callable[[dict[str, Any]], Any]


@dataclass
class FifoDelivery:
    """SQS FIFO as the Lambda event source sees it, in memory: a group's messages in order, never two batches
    of one group at once, failed records back at the head of their group with a higher receive count, and
    a message that fails its ``max_receive_count``-th receive moved to the dead-letter list."""

    handler: Handler
    max_receive_count: int = MAX_RECEIVE_COUNT
    batch_size: int = 10
    groups: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    _in_flight: set[str] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def add(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            for record in records:
                group = record["attributes"]["MessageGroupId"]
                self.groups.setdefault(group, deque()).append(record)
            self._lock.notify_all()

    def pending(self) -> int:
        with self._lock:
            return sum(len(queue) for queue in self.groups.values())

    def _take_batch(self) -> list[dict[str, Any]] | None:
        """Up to ``batch_size`` records, as many as possible from one group first, as SQS FIFO does."""
        with self._lock:
            while True:
                available = [g for g, q in self.groups.items() if q and g not in self._in_flight]
                if available:
                    break
                if not any(self.groups.values()):
                    return None
                self._lock.wait(timeout=1)
            batch: list[dict[str, Any]] = []
            for group in available:
                queue = self.groups[group]
                while queue and len(batch) < self.batch_size:
                    batch.append(queue.popleft())
                self._in_flight.add(group)
                if len(batch) >= self.batch_size:
                    break
            for record in batch:
                attributes = record["attributes"]
                self.deliveries.append({"group": attributes["MessageGroupId"], "messageId": record["messageId"]})
            return batch

    def _settle(self, batch: list[dict[str, Any]], failed_ids: set[str]) -> None:
        with self._lock:
            returned: dict[str, list[dict[str, Any]]] = {}
            for record in batch:
                group = record["attributes"]["MessageGroupId"]
                if record["messageId"] not in failed_ids:
                    continue
                count = int(record["attributes"]["ApproximateReceiveCount"])
                if count >= self.max_receive_count:
                    self.dead_letters.append(record)
                    continue
                again = json.loads(json.dumps(record))
                again["attributes"]["ApproximateReceiveCount"] = str(count + 1)
                returned.setdefault(group, []).append(again)
            for group, records in returned.items():
                self.groups[group].extendleft(reversed(records))
            for record in batch:
                self._in_flight.discard(record["attributes"]["MessageGroupId"])
            self._lock.notify_all()

    def _consume(self, max_batches: int) -> None:
        for _ in range(max_batches):
            batch = self._take_batch()
            if batch is None:
                return
            try:
                response = self.handler({"Records": batch})
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            except Exception:
                failed = {record["messageId"] for record in batch}
            self._settle(batch, failed)

    def run(self, *, concurrency: int = 1, max_batches: int = 10_000, timeout: float = 120.0) -> None:
        """Deliver until every group is empty, with ``concurrency`` consumers (like the event source's maximum
        concurrency)."""
        threads = [threading.Thread(target=self._consume, args=(max_batches,), daemon=True) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
        assert not any(thread.is_alive() for thread in threads), "delivery did not finish in time"


# -- API Gateway in front of the handler ------------------------------------------------------------------------
def create_orders_table(name: str = "ordersync-orders") -> str:
    """The orders table as template.yaml declares it (the read path owns it; the API reads it)."""
    return create_table_from_template("OrdersTable", name)


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
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    content_type: str | None = "application/json",
) -> dict[str, Any]:
    """A REST API proxy event as API Gateway builds it (stage ``Prod``), before the authorizer runs."""
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
            "isBase64Encoded": False,
        }
    )
    event["requestContext"] = dict(event["requestContext"]) | {
        "path": f"/Prod{path}",
        "httpMethod": method,
        "resourcePath": path,
        "authorizer": None,
    }
    return event


@dataclass
class FakeLambdaContext:
    """Enough of a Lambda context for Powertools (idempotency reads the remaining time)."""

    function_name: str = "ordersync-api"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ordersync-api"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class ApiGateway:
    """Plays API Gateway: the REQUEST authorizer first (a refusal is API Gateway's own ``401``), then the
    handler with the authorizer's context."""

    def __init__(
        self, handler: Callable[[dict[str, Any], Any], dict[str, Any]], clients: Any, *, cache_authorizer: bool = False
    ) -> None:
        self.handler = handler
        self.clients = clients
        self.cache_authorizer = cache_authorizer  # API Gateway caches the policy per token (ReauthorizeEvery)
        self._policies: dict[str, dict[str, Any]] = {}

    def call(self, method: str, path: str, *, token: str | None, **kwargs: Any) -> ApiAnswer:
        event = api_event(method, path, token=token, **kwargs)
        auth_event = {
            "type": "REQUEST",
            "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abcdef123/Prod/{method}{path}",
            "headers": event["headers"],
            "requestContext": event["requestContext"],
        }
        cached = self._policies.get(str(token)) if self.cache_authorizer else None
        try:
            policy = cached or authorize(APIGatewayAuthorizerRequestEvent(auth_event), self.clients)
        except UnauthorizedError:
            return ApiAnswer(401, {}, {"message": "Unauthorized"})
        if self.cache_authorizer:
            self._policies[str(token)] = policy
        event["requestContext"]["authorizer"] = {"principalId": policy["principalId"], **policy["context"]}
        response = self.handler(event, FakeLambdaContext())
        body = response.get("body")
        answer_headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            answer_headers[str(name)] = str(values[-1])
        return ApiAnswer(int(response["statusCode"]), answer_headers, json.loads(body) if body else None)


@dataclass
class ApiSetup:
    """What the ``api`` fixture hands a test: the embedded AWS, the gateway in front of the handler, and tokens."""

    aws: WritePathAws
    gateway: ApiGateway
    services: ApiServices
    orders: OrderRepository
    tokens: dict[str, str]
