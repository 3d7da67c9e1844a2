"""A DynamoDB stream feeding a function with Lambda's event-source semantics.

Records are read from moto's ``dynamodbstreams`` in order, per shard, and delivered in batches of
``batch_size``. A failed batch is split in two when ``BisectBatchOnFunctionError`` is set (splitting does not
use up retries, as in Lambda), retried up to ``MaximumRetryAttempts`` times, and then reported to the on-failure
destination and skipped. With ``ReportBatchItemFailures`` the records before the lowest failed sequence
number count as done and the batch is retried from that record.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.template import REGION

UNLIMITED_RETRIES_LOCALLY = 10  # Lambda's -1 retries until records expire; locally that is bounded


@dataclass
class StreamStats:
    records: int = 0  # records read from the stream
    delivered: int = 0  # records that ended in a successful invocation
    failed_attempts: int = 0
    discarded: int = 0  # sent to the on-failure destination (or dropped) after the retries
    batches: int = 0
    errors: list[str] = field(default_factory=list)


class StreamEventSource:
    """Reads one DynamoDB stream of the embedded AWS and delivers it to ``invoke``."""

    def __init__(
        self,
        streams: Any,
        *,
        stream_arn: str,
        invoke: Callable[[dict[str, Any]], Invocation],
        function_arn: str = "",
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        bisect_on_error: bool = False,
        maximum_retry_attempts: int = -1,
        report_batch_item_failures: bool = False,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
        retry_delay: Callable[[int], float] = lambda attempt: min(2.0, 0.1 * 2**attempt),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.function_arn = function_arn
        self.batch_size = max(1, min(batch_size, 10000))
        self.starting_position = starting_position
        self.bisect_on_error = bisect_on_error
        self.max_retries = UNLIMITED_RETRIES_LOCALLY if maximum_retry_attempts < 0 else maximum_retry_attempts
        self.report_batch_item_failures = report_batch_item_failures
        self.on_failure = on_failure
        self.retry_delay = retry_delay
        self.sleep = sleep
        self.stats = StreamStats()
        self._iterators: dict[str, str | None] = {}
        self._buffers: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def _refresh_shards(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.starting_position
            )["ShardIterator"]
            self._iterators[shard_id] = iterator
            self._buffers[shard_id] = []

    def poll(self) -> int:
        """Read and deliver whatever the stream holds now; returns how many records were read."""
        with self._lock:
            self._refresh_shards()
            read = 0
            for shard_id, first_iterator in list(self._iterators.items()):
                buffer = self._buffers[shard_id]
                iterator = first_iterator
                while iterator is not None and not self.stopping.is_set():
                    response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                    records = response.get("Records") or []
                    iterator = response.get("NextShardIterator")
                    self._iterators[shard_id] = iterator
                    buffer.extend(self._lambda_record(record) for record in records)
                    read += len(records)
                    self.stats.records += len(records)
                    if not records:
                        break
                while buffer and not self.stopping.is_set():
                    batch, buffer[:] = buffer[: self.batch_size], buffer[self.batch_size :]
                    self._deliver(shard_id, batch, retries_left=self.max_retries, attempt=1)
            return read

    def _deliver(self, shard_id: str, batch: list[dict[str, Any]], *, retries_left: int, attempt: int) -> None:
        self.stats.batches += 1
        outcome = self.invoke({"Records": batch})
        remaining = self._remaining(batch, outcome)
        self.stats.delivered += len(batch) - len(remaining)
        if not remaining:
            return
        self.stats.failed_attempts += 1
        if not outcome.ok and self.bisect_on_error and len(remaining) > 1:
            middle = len(remaining) // 2
            self._deliver(shard_id, remaining[:middle], retries_left=retries_left, attempt=attempt + 1)
            self._deliver(shard_id, remaining[middle:], retries_left=retries_left, attempt=attempt + 1)
            return
        if retries_left <= 0 or self.stopping.is_set():
            self._discard(shard_id, remaining, attempt, outcome)
            return
        self.sleep(self.retry_delay(attempt))
        self._deliver(shard_id, remaining, retries_left=retries_left - 1, attempt=attempt + 1)

    def _remaining(self, batch: list[dict[str, Any]], outcome: Invocation) -> list[dict[str, Any]]:
        if not outcome.ok:
            self.stats.errors.append(f"{outcome.error_type}: {outcome.error_message}")
            return batch
        if not self.report_batch_item_failures or not isinstance(outcome.result, dict):
            return []
        failures = outcome.result.get("batchItemFailures") or []
        sequences = [record["dynamodb"]["SequenceNumber"] for record in batch]
        failed = [item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures]
        if not failed:
            return []
        if not set(failed) <= set(sequences):
            self.stats.errors.append(f"invalid batchItemFailures {failed}")
            return batch
        first = min(sequences.index(str(identifier)) for identifier in failed)
        return batch[first:]

    def _discard(self, shard_id: str, records: list[dict[str, Any]], attempts: int, outcome: Invocation) -> None:
        self.stats.discarded += len(records)
        if self.on_failure is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        self.on_failure(
            {
                "requestContext": {
                    "requestId": str(uuid.uuid4()),
                    "functionArn": self.function_arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": attempts,
                },
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled" if not outcome.ok else "",
                },
                "version": "1.0",
                "timestamp": datetime.now(UTC).isoformat(),
                "DDBStreamBatchInfo": {
                    "shardId": shard_id,
                    "startSequenceNumber": first["SequenceNumber"],
                    "endSequenceNumber": last["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _iso(first["ApproximateCreationDateTime"]),
                    "approximateArrivalOfLastRecord": _iso(last["ApproximateCreationDateTime"]),
                    "batchSize": len(records),
                    "streamArn": self.stream_arn,
                },
            }
        )

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """moto's record as Lambda delivers it: with ``eventSourceARN`` and an epoch-second creation time."""
        converted: dict[str, Any] = _jsonable(record)
        converted["eventSourceARN"] = self.stream_arn
        converted.setdefault("awsRegion", REGION)
        dynamodb = converted.setdefault("dynamodb", {})
        created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
        elif created is None:
            dynamodb["ApproximateCreationDateTime"] = int(time.time())
        return converted


def _iso(epoch: Any) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).isoformat()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    return value


def send_to_queue(sqs: Any, queue_url: str) -> Callable[[dict[str, Any]], None]:
    """An on-failure destination that sends the failure record to an SQS queue, as Lambda does."""

    def send(record: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    return send
