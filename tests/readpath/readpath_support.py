"""Shared helpers of the read-path tests (not fixtures: those are in ``conftest.py``). A module of its own
because ``from conftest import ...`` is ambiguous when several test folders have a ``conftest.py``."""

from __future__ import annotations

import base64
import importlib.util
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from ordersync_tools.simulators.base import PlatformSimulator, SimClock
from ordersync_tools.simulators.bizon365 import Bizon365Simulator
from ordersync_tools.simulators.ecards import EcardsSimulator
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from template_tables import create_table_from_template

from ordersync import platforms
from ordersync.aws.orders_repository import OrderRepository
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import Platform
from ordersync.platform_port import PlatformClient, PlatformProfile
from ordersync.platforms.bizon365 import Bizon365Client
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.sync.engine import PollOptions, PollReport, run_poller
from ordersync.sync.records import StoredOrder
from ordersync.sync.status import run_status_poller

ORDERS_TABLE = "ordersync-test-orders"
POLL_STATE_TABLE = "ordersync-test-poll-state"
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.005, max_delay=0.02)
NO_DEADLINE = 900_000


def create_orders_table(client: Any, name: str = ORDERS_TABLE) -> str:
    """The orders table as template.yaml declares it, with its stream and both indexes."""
    return create_table_from_template("OrdersTable", name, client)


def create_poll_state_table(client: Any, name: str = POLL_STATE_TABLE) -> str:
    return create_table_from_template("PollStateTable", name, client)


LIVE_SWITCHABLE = frozenset({Platform.TICKETSCLOUD, Platform.BIZON365})
"""The platforms whose simulators switch between their live behaviour and their docs' (``live=``)."""


def make_simulator(
    platform: Platform, *, orders: int, clock: SimClock, seed: int = 7, **extra: Any
) -> PlatformSimulator:
    if platform is Platform.TICKETSCLOUD:
        return TicketscloudSimulator(orders=orders, seed=seed, clock=clock, processing_delay=0.0, **extra)
    if platform is Platform.BIZON365:
        return Bizon365Simulator(orders=orders, seed=seed, clock=clock, **extra)
    return EcardsSimulator(orders=orders, seed=seed, clock=clock, **extra)


def make_client(simulator: PlatformSimulator, *, timeout: float = 5.0) -> PlatformClient:
    if isinstance(simulator, TicketscloudSimulator):
        return TicketscloudClient(simulator.base_url, simulator.token, retry=FAST_RETRY, timeout=timeout)
    if isinstance(simulator, Bizon365Simulator):
        return Bizon365Client(
            simulator.base_url, simulator.token, project_id=simulator.project_id, retry=FAST_RETRY, timeout=timeout
        )
    assert isinstance(simulator, EcardsSimulator)
    return EcardsClient(simulator.base_url, simulator.token, retry=FAST_RETRY, timeout=timeout)


@dataclass
class Harness:
    """One platform's simulator and client, the tables, and a way to run the poller against them."""

    platform: Platform
    simulator: PlatformSimulator
    client: PlatformClient
    repository: OrderRepository
    state_repository: PollStateRepository
    settings: Settings
    clock: SimClock

    @property
    def profile(self) -> PlatformProfile:
        return platforms.profile(self.platform)

    def options(self, **overrides: Any) -> PollOptions:
        values: dict[str, Any] = {"lookback": timedelta(hours=2), "concurrency": 4, "clock": self.clock.now}
        return PollOptions.from_settings(self.profile, self.settings, **(values | overrides))

    def poll(self, run_id: str = "run-1", remaining_time_ms: Any = None, **overrides: Any) -> PollReport:
        return run_poller(
            self.profile,
            settings=self.settings,
            client=self.client,
            repository=self.repository,
            state_repository=self.state_repository,
            remaining_time_ms=remaining_time_ms or (lambda: NO_DEADLINE),
            run_id=run_id,
            options=self.options(**overrides),
        )

    def stored(self) -> dict[str, StoredOrder]:
        """Every stored order of this platform, by order id."""
        found: dict[str, StoredOrder] = {}
        cursor = None
        while True:
            page, cursor = self.repository.list(self.platform, None, None, 500, cursor)
            found.update((stored.order.order_id, stored) for stored in page)
            if cursor is None:
                return found

    def truth(self) -> dict[str, str]:
        """Every order the platform holds now, by id, with its raw status, read from the simulator itself."""
        simulator = self.simulator
        if isinstance(simulator, TicketscloudSimulator):
            return {payload["id"]: payload["status"] for payload in simulator.orders_snapshot()}
        if isinstance(simulator, Bizon365Simulator):
            return {str(payload["_id"]): _bizon_raw_status(payload) for payload in simulator.orders}
        assert isinstance(simulator, EcardsSimulator)
        return {str(order.id): simulator.status_of(order.id) for order in simulator.orders}


def _bizon_raw_status(payload: dict[str, Any]) -> str:
    if payload.get("paid"):
        return "paid"
    if float(payload.get("partialPaid") or 0) > 0 or payload.get("payments"):
        return "partially_paid"
    return "unpaid"


# -- the table's stream and the event bus, observed from outside -------------------------------------------------
class StreamReader:
    """Reads the orders table's stream from TRIM_HORIZON; ``new_records`` returns what arrived since the last call,
    shaped as Lambda delivers it (with ``eventSourceARN`` and epoch ``ApproximateCreationDateTime``)."""

    def __init__(self, table_name: str = ORDERS_TABLE) -> None:
        self._dynamodb = boto3.client("dynamodb")
        self._streams = boto3.client("dynamodbstreams")
        self.stream_arn = self._dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._consumed: set[str] = set()

    def all_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            seen: set[str] = set()
            for _ in range(10_000):
                response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                fresh = [record for record in response["Records"] if record["dynamodb"]["SequenceNumber"] not in seen]
                seen.update(record["dynamodb"]["SequenceNumber"] for record in fresh)
                records.extend(fresh)
                iterator = response.get("NextShardIterator")
                # moto's iterator can hand back records already read (seen after many tables in one process):
                # stop when a page brings nothing new, not only when it is empty.
                if not fresh or not iterator:
                    break
        return [self._lambda_shape(record) for record in records]

    def new_records(self) -> list[dict[str, Any]]:
        fresh = [record for record in self.all_records() if record["dynamodb"]["SequenceNumber"] not in self._consumed]
        self._consumed.update(record["dynamodb"]["SequenceNumber"] for record in fresh)
        return fresh

    def _lambda_shape(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = dict(record)
        shaped["eventSourceARN"] = self.stream_arn
        body = dict(shaped["dynamodb"])
        created = body.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            body["ApproximateCreationDateTime"] = int(created.timestamp())
        for image in ("NewImage", "OldImage"):  # a Lambda event carries binary attributes as base64 text
            if image in body:
                body[image] = {name: _as_event_value(value) for name, value in body[image].items()}
        shaped["dynamodb"] = body
        return shaped


def _as_event_value(value: dict[str, Any]) -> dict[str, Any]:
    if "B" in value and isinstance(value["B"], bytes):
        return {"B": base64.b64encode(value["B"]).decode()}
    return value


class EventCapture:
    """An EventBridge bus whose every event lands in an SQS queue the test can drain."""

    def __init__(self, bus_name: str = "ordersync-test-events") -> None:
        self.bus_name = bus_name
        events = boto3.client("events")
        self._sqs = boto3.client("sqs")
        events.create_event_bus(Name=bus_name)
        self.queue_url = self._sqs.create_queue(QueueName=f"{bus_name}-capture")["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(Name="capture-all", EventBusName=bus_name, EventPattern='{"source": ["ordersync"]}')
        events.put_targets(Rule="capture-all", EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}])

    def drain(self) -> list[dict[str, Any]]:
        import json

        received: list[dict[str, Any]] = []
        for _ in range(1000):
            messages = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return received
            for message in messages:
                received.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return received


@dataclass
class FakeLambdaContext:
    """What the handlers read from a Lambda context."""

    function_name: str = "ordersync-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ordersync-test"
    aws_request_id: str = "req-0001"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def consume(handler: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Deliver stream records to the consumer in Lambda-sized batches; the partial-failure responses merged."""
    failures: list[dict[str, str]] = []
    for start in range(0, len(records), 100):
        response = handler.lambda_handler({"Records": records[start : start + 100]}, FakeLambdaContext())
        failures.extend(response["batchItemFailures"])
    return {"batchItemFailures": failures}


EXPECTED_STATUS: dict[Platform, dict[str, str]] = {
    Platform.TICKETSCLOUD: {
        "executed": "pending",
        "in_progress": "pending",
        "done": "fulfilled",
        "cancelled": "cancelled",
        "canceled": "cancelled",
        "expired": "expired",
        "refunded": "refunded",
    },
    Platform.BIZON365: {"unpaid": "pending", "partially_paid": "partially_paid", "paid": "fulfilled"},
    Platform.ECARDS: {
        "Created": "pending",
        "Payed": "paid",
        "ReadyForDelivery": "paid",
        "PartiallyDelivered": "paid",
        "AwaitingCertificateAssignment": "paid",
        "Delivered": "fulfilled",
        "Cancelled": "cancelled",
    },
}
"""The canonical status mapping of docs/design.md, written out independently of the clients."""


FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def load_handler(directory: str) -> ModuleType:
    """Import ``functions/<directory>/app.py`` afresh, under a module name of its own. Powertools configures the
    ``ordersync`` logger once per process, bound to the stdout of the first test: it is pointed at this one's."""
    spec_path = FUNCTIONS_DIR / directory / "app.py"
    for handler in logging.getLogger("ordersync").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = sys.stdout  # not setStream: it would flush the closed stream of an earlier test
    spec = importlib.util.spec_from_file_location(f"readpath_handler_{directory}", spec_path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def status_poll(harness: Harness, run_id: str = "status-1", **overrides: Any) -> PollReport:
    return run_status_poller(
        harness.profile,
        settings=harness.settings,
        client=harness.client,
        repository=harness.repository,
        state_repository=harness.state_repository,
        remaining_time_ms=lambda: NO_DEADLINE,
        run_id=run_id,
        options=harness.options(**overrides),
    )


def open_order_ids(harness: Harness) -> set[str]:
    return {
        stored.order.order_id
        for stored in harness.repository.open_orders(harness.platform, datetime(2999, 1, 1, tzinfo=UTC), 1000)
    }
