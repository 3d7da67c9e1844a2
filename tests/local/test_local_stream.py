"""The DynamoDB stream into a function: batch size, bisect on error, retries and the on-failure destination."""

from __future__ import annotations

from typing import Any

import pytest
from local_support import RecordingFunction
from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.resources import client
from ordersync_tools.local.stream import StreamEventSource


@pytest.fixture
def stream_table(aws: str) -> tuple[Any, str]:
    """An orders-like table with a NEW_AND_OLD_IMAGES stream: (dynamodb client, stream ARN)."""
    ddb = client("dynamodb", aws)
    description = ddb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return ddb, description["LatestStreamArn"]


def put(ddb: Any, *keys: str) -> None:
    for key in keys:
        ddb.put_item(TableName="orders", Item={"pk": {"S": key}, "blob": {"B": b"\x00\x01"}})


def keys_of(event: dict[str, Any]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"]]


def stream_source(aws: str, arn: str, function: RecordingFunction, **settings: Any) -> StreamEventSource:
    return StreamEventSource(
        client("dynamodbstreams", aws), stream_arn=arn, invoke=function, sleep=lambda _s: None, **settings
    )


def fail_when(key: str) -> Any:
    def answer(event: dict[str, Any]) -> Invocation:
        if key in keys_of(event):
            return Invocation(False, None, "Poison", f"cannot handle {key}")
        return Invocation(True, None)

    return answer


def test_records_are_delivered_in_order_in_batches_of_batch_size(aws: str, stream_table: tuple[Any, str]) -> None:
    ddb, arn = stream_table
    put(ddb, "k1", "k2", "k3", "k4", "k5")
    function = RecordingFunction()

    read = stream_source(aws, arn, function, batch_size=2).poll()

    assert read == 5
    assert [keys_of(event) for event in function.events] == [["k1", "k2"], ["k3", "k4"], ["k5"]]


def test_records_carry_the_source_arn_and_an_epoch_second_creation_time(
    aws: str, stream_table: tuple[Any, str]
) -> None:
    ddb, arn = stream_table
    put(ddb, "k1")
    function = RecordingFunction()

    stream_source(aws, arn, function).poll()

    record = function.events[0]["Records"][0]
    assert record["eventSourceARN"] == arn
    assert record["eventName"] == "INSERT"
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}  # binary as base64, as Lambda sends it


def test_a_later_poll_delivers_only_new_records(aws: str, stream_table: tuple[Any, str]) -> None:
    ddb, arn = stream_table
    function = RecordingFunction()
    source = stream_source(aws, arn, function)
    put(ddb, "k1")
    source.poll()
    put(ddb, "k2")

    source.poll()

    assert [keys_of(event) for event in function.events] == [["k1"], ["k2"]]


def test_bisect_isolates_a_failing_record_and_sends_only_it_to_the_failure_destination(
    aws: str, stream_table: tuple[Any, str]
) -> None:
    ddb, arn = stream_table
    put(ddb, "k1", "k2", "poison", "k4")
    failures: list[dict[str, Any]] = []
    function = RecordingFunction(fail_when("poison"))

    source = stream_source(
        aws, arn, function, bisect_on_error=True, maximum_retry_attempts=0, on_failure=failures.append
    )
    source.poll()

    assert [keys_of(event) for event in function.events] == [
        ["k1", "k2", "poison", "k4"],
        ["k1", "k2"],
        ["poison", "k4"],
        ["poison"],
        ["k4"],
    ]
    assert len(failures) == 1
    assert failures[0]["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failures[0]["DDBStreamBatchInfo"]["streamArn"] == arn
    assert failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert source.stats.delivered == 3
    assert source.stats.discarded == 1


def test_a_failing_batch_is_retried_maximum_retry_attempts_times_then_skipped(
    aws: str, stream_table: tuple[Any, str]
) -> None:
    ddb, arn = stream_table
    put(ddb, "poison", "k2")
    failures: list[dict[str, Any]] = []
    function = RecordingFunction(fail_when("poison"))

    source = stream_source(aws, arn, function, maximum_retry_attempts=2, on_failure=failures.append)
    source.poll()

    assert len(function.events) == 3
    assert failures[0]["DDBStreamBatchInfo"]["batchSize"] == 2
    assert source.stats.discarded == 2


def test_a_partial_batch_failure_retries_from_the_first_failed_record(aws: str, stream_table: tuple[Any, str]) -> None:
    ddb, arn = stream_table
    put(ddb, "k1", "k2", "k3")
    attempts = iter(["fail-k2", "ok"])

    def answer(event: dict[str, Any]) -> Invocation:
        if next(attempts) == "ok":
            return Invocation(True, {"batchItemFailures": []})
        second = event["Records"][1]["dynamodb"]["SequenceNumber"]
        return Invocation(True, {"batchItemFailures": [{"itemIdentifier": second}]})

    function = RecordingFunction(answer)

    stream_source(aws, arn, function, report_batch_item_failures=True, maximum_retry_attempts=3).poll()

    assert [keys_of(event) for event in function.events] == [["k1", "k2", "k3"], ["k2", "k3"]]
