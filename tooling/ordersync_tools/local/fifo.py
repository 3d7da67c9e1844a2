"""An SQS FIFO queue feeding a function with Lambda's event-source semantics, ordered by the runtime itself.

Messages are taken from moto as soon as they arrive (received and deleted at once, so moto's visibility
timeouts never come into play: moto 5.2.5 can reorder a group when several of its messages time out together).
moto answers a first receive in send order; its FIFO ``SequenceNumber`` is random, so it is replaced by a local
one that grows in arrival order. From then on the runtime owns the messages: per-group queues in that order,
batches of up to ``batch_size``, at most one batch per group in flight, partial batch failures
(``batchItemFailures``), a failed message hidden for the visibility timeout and kept at the head of its group,
and redrive to the dead-letter queue once it has been received ``max_receive_count`` times.

``ChangeMessageVisibility`` is honoured: each record carries a receipt handle this module issued, and a function
that changes the visibility of its in-flight message (the action worker's backoff) reaches moto, where
``honour_visibility_changes`` routes a handle issued here to its source instead of moto's own queue. A failed
message then stays hidden for what the function asked (scaled by ``speed``), and its group with it: SQS hands out
nothing of a FIFO group while any of its messages is in flight, so a group waits for its longest-hidden message.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.template import REGION

RECEIVE_BATCH = 10

_issued: dict[str, tuple[FifoEventSource, str]] = {}  # receipt handle -> (source, message id), while in flight
_issued_lock = threading.Lock()
_hooked = False


def honour_visibility_changes() -> None:
    """Route moto's ``ChangeMessageVisibility`` (and its batch form, which calls it) for receipt handles issued by
    a ``FifoEventSource`` to that source; any other handle goes to moto as before. Idempotent; affects the moto
    backends of this process only (the local runtime's embedded moto server)."""
    global _hooked  # noqa: PLW0603 - one patch per process
    with _issued_lock:
        if _hooked:
            return
        from moto.sqs.models import SQSBackend

        original = SQSBackend.change_message_visibility

        def change_message_visibility(
            self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
        ) -> None:
            with _issued_lock:
                issued = _issued.get(receipt_handle)
            if issued is None:
                original(self, queue_name, receipt_handle, visibility_timeout)
                return
            source, message_id = issued
            source.change_visibility(message_id, float(visibility_timeout))

        SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
        _hooked = True


@dataclass
class QueuedMessage:
    message_id: str
    body: str
    group_id: str
    sequence: int
    attributes: dict[str, str]
    message_attributes: dict[str, Any]
    receive_count: int = 0
    first_receive_ms: int | None = None


@dataclass
class FifoStats:
    received: int = 0  # taken from the queue
    succeeded: int = 0  # deleted after a successful invocation
    failed_attempts: int = 0  # message deliveries that failed and will be retried or redriven
    dead_lettered: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Group:
    messages: deque[QueuedMessage] = field(default_factory=deque)
    hidden_until: float = 0.0
    in_flight: bool = False


class FifoEventSource:
    """Polls one FIFO queue of the embedded AWS and delivers it to ``invoke`` as Lambda would."""

    def __init__(
        self,
        sqs: Any,
        *,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Invocation],
        batch_size: int = 10,
        visibility_timeout: float = 30.0,
        max_receive_count: int | None = None,
        dead_letter_url: str | None = None,
        report_batch_item_failures: bool = False,
        dead_letter_fifo: bool = True,
        clock: Callable[[], float] = time.monotonic,
        speed: float = 1.0,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = max(1, min(batch_size, 10))
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.dead_letter_url = dead_letter_url
        self.dead_letter_fifo = dead_letter_fifo
        self.report_batch_item_failures = report_batch_item_failures
        self.clock = clock
        self.speed = speed
        self.stats = FifoStats()
        self._requested: dict[str, float] = {}  # message id -> visibility (seconds) its function asked for
        self._groups: dict[str, _Group] = {}
        self._sequence = 0
        self._lock = threading.Lock()

    # -- taking messages from moto ------------------------------------------------------------------
    def pump(self) -> int:
        """Move every message moto holds into the local groups; returns how many were taken."""
        taken = 0
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=RECEIVE_BATCH,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            if not messages:
                return taken
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            with self._lock:
                for message in messages:
                    self._add(message)
            taken += len(messages)
            self.stats.received += len(messages)

    def _add(self, message: dict[str, Any]) -> None:
        attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
        group_id = attributes.get("MessageGroupId", "")
        self._sequence += 1
        sequence = self._sequence
        attributes["SequenceNumber"] = f"{sequence:020d}"
        queued = QueuedMessage(
            message_id=message["MessageId"],
            body=message["Body"],
            group_id=group_id,
            sequence=sequence,
            attributes=attributes,
            message_attributes=message.get("MessageAttributes") or {},
        )
        group = self._groups.setdefault(group_id, _Group())
        group.messages.append(queued)

    # -- delivering ----------------------------------------------------------------------------------
    def pending(self) -> int:
        with self._lock:
            return sum(len(group.messages) for group in self._groups.values())

    def next_ready_in(self) -> float | None:
        """Seconds until some group can be delivered again (0: now); None when nothing is waiting."""
        now = self.clock()
        with self._lock:
            waits = [max(0.0, g.hidden_until - now) for g in self._groups.values() if g.messages and not g.in_flight]
        return min(waits) if waits else None

    def skip_visibility_wait(self) -> int:
        """End the visibility timeout of every group hidden by a failed delivery, as if it had passed; returns how
        many groups it woke. ``--once`` uses it when nothing else is left to run: waiting out the timeout (six
        minutes for the actions queue at speed 1) would change nothing but how long the drain takes."""
        now = self.clock()
        with self._lock:
            hidden = [g for g in self._groups.values() if g.messages and not g.in_flight and g.hidden_until > now]
            for group in hidden:
                group.hidden_until = now
        return len(hidden)

    def change_visibility(self, message_id: str, seconds: float) -> None:
        """``ChangeMessageVisibility`` of an in-flight message: how long it stays hidden if its delivery fails."""
        with self._lock:
            self._requested[message_id] = seconds / self.speed

    def step(self) -> bool:
        """Deliver one batch if any group is ready; True when a batch was delivered."""
        batch = self._take_batch()
        if not batch:
            return False
        self.stats.batches += 1
        event = {"Records": [self._record(message) for message in batch]}
        try:
            outcome = self.invoke(event)
        finally:
            with _issued_lock:
                for record in event["Records"]:
                    _issued.pop(record["receiptHandle"], None)
        self._settle(batch, outcome)
        return True

    def _take_batch(self) -> list[QueuedMessage]:
        now = self.clock()
        batch: list[QueuedMessage] = []
        with self._lock:
            self._redrive(now)
            ready = sorted(
                (g for g in self._groups.values() if g.messages and not g.in_flight and g.hidden_until <= now),
                key=lambda g: g.messages[0].sequence,
            )
            for group in ready:
                if len(batch) >= self.batch_size:
                    break
                taken = list(group.messages)[: self.batch_size - len(batch)]
                group.in_flight = True
                now_ms = int(time.time() * 1000)
                for message in taken:
                    message.receive_count += 1
                    message.first_receive_ms = message.first_receive_ms or now_ms
                batch.extend(taken)
        return batch

    def _redrive(self, now: float) -> None:
        if self.max_receive_count is None:
            return
        for group_id, group in self._groups.items():
            while (
                group.messages
                and not group.in_flight
                and group.hidden_until <= now
                and group.messages[0].receive_count >= self.max_receive_count
            ):
                message = group.messages.popleft()
                self._dead_letter(group_id, message)

    def _dead_letter(self, group_id: str, message: QueuedMessage) -> None:
        self.stats.dead_lettered += 1
        if self.dead_letter_url is None:
            return
        arguments: dict[str, Any] = {"QueueUrl": self.dead_letter_url, "MessageBody": message.body}
        if message.message_attributes:
            arguments["MessageAttributes"] = message.message_attributes
        if self.dead_letter_fifo:
            arguments["MessageGroupId"] = group_id or "default"
            arguments["MessageDeduplicationId"] = message.message_id
        self.sqs.send_message(**arguments)

    def _settle(self, batch: list[QueuedMessage], outcome: Invocation) -> None:
        failed_ids = self._failed_ids(batch, outcome)
        now = self.clock()
        with self._lock:
            touched: dict[str, _Group] = {}
            hidden_for: dict[str, float] = {}
            for message in batch:
                group = self._groups[message.group_id]
                touched[message.group_id] = group
                requested = self._requested.pop(message.message_id, None)
                if message.message_id in failed_ids:
                    self.stats.failed_attempts += 1
                    wait = self.visibility_timeout if requested is None else requested
                    hidden_for[message.group_id] = max(hidden_for.get(message.group_id, 0.0), wait)
                    continue
                group.messages.remove(message)
                self.stats.succeeded += 1
            for group_id, group in touched.items():
                group.in_flight = False
                if group_id in hidden_for:
                    group.hidden_until = now + hidden_for[group_id]
                if not group.messages:
                    del self._groups[group_id]

    def _failed_ids(self, batch: list[QueuedMessage], outcome: Invocation) -> set[str]:
        everything = {message.message_id for message in batch}
        if not outcome.ok:
            self.stats.errors.append(f"{outcome.error_type}: {outcome.error_message}")
            return everything
        if not self.report_batch_item_failures or not isinstance(outcome.result, dict):
            return set()
        failures = outcome.result.get("batchItemFailures") or []
        identifiers = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
        if not identifiers <= everything:
            # Lambda fails the whole batch when an identifier is empty or not in the batch.
            self.stats.errors.append(f"invalid batchItemFailures {sorted(map(str, identifiers))}")
            return everything
        return {str(identifier) for identifier in identifiers}

    def _record(self, message: QueuedMessage) -> dict[str, Any]:
        handle = uuid.uuid4().hex
        with _issued_lock:
            _issued[handle] = (self, message.message_id)
        return self._record_with(message, handle)

    def _record_with(self, message: QueuedMessage, handle: str) -> dict[str, Any]:
        attributes = {
            key: value
            for key, value in message.attributes.items()
            if key in ("SentTimestamp", "SequenceNumber", "MessageGroupId", "SenderId", "MessageDeduplicationId")
        }
        attributes["ApproximateReceiveCount"] = str(message.receive_count)
        attributes["ApproximateFirstReceiveTimestamp"] = str(message.first_receive_ms)
        return {
            "messageId": message.message_id,
            "receiptHandle": handle,
            "body": message.body,
            "attributes": attributes,
            "messageAttributes": {name: _lambda_attribute(value) for name, value in message.message_attributes.items()},
            "md5OfBody": hashlib.md5(message.body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": list(value.get("BinaryListValues") or []),
        "dataType": value.get("DataType", "String"),
    }


def redrive_settings(attributes: dict[str, str]) -> tuple[int | None, str | None]:
    """``(maxReceiveCount, deadLetterTargetArn)`` of a queue's ``RedrivePolicy`` attribute, if it has one."""
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None, None
    parsed = json.loads(policy)
    return int(parsed["maxReceiveCount"]), str(parsed["deadLetterTargetArn"])
