"""The FIFO actions queue (``ACTIONS_QUEUE_URL``) and the redrive of its dead-letter queue.

One message per action: ``MessageGroupId`` is the action's group (``{platform}#{order_id}``), so SQS hands a
worker the actions of one order one at a time and in order; ``MessageDeduplicationId`` is the action id, so
a repeated send within SQS's five-minute window is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from pydantic import ValidationError

from ordersync.actions.models import Action, ActionMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

REDRIVE_VISIBILITY_SECONDS = 120


class ActionQueue:
    def __init__(self, queue_url: str, *, dead_letter_queue_url: str = "", client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letter_queue_url = dead_letter_queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = boto3.client("sqs")
        return self._client

    def send(self, action: Action) -> str:
        """Queue an action; returns the SQS message id."""
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=action.to_message().model_dump_json(),
            MessageGroupId=action.group_id,
            MessageDeduplicationId=action.action_id,
        )
        return response["MessageId"]

    def resend(self, action: Action, *, attempt: int) -> str:
        """Queue an action again in its group (the reconciler): a fresh deduplication id, since the first may
        still be inside SQS's window; an earlier copy still on the queue is acknowledged as final or run once."""
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=action.to_message().model_dump_json(),
            MessageGroupId=action.group_id,
            MessageDeduplicationId=f"{action.action_id}-q{attempt}",
        )
        return response["MessageId"]

    def delay(self, receipt_handles: Sequence[str], seconds: int) -> None:
        """``ChangeMessageVisibility`` of in-flight messages, ten at a time; a failed entry is logged by the
        caller's retry: the message then comes back after the queue's own visibility timeout."""
        handles = list(receipt_handles)
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            response = self.client.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for index, handle in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"visibility not changed for {len(response['Failed'])} message(s)")

    def dead_letter(self, message: ActionMessage) -> None:
        """Put an action the worker gave up on into the dead-letter queue, in its group. A copy sent twice (the
        worker died between this and marking the record) is harmless: a redriven action is applied once."""
        if not self.dead_letter_queue_url:
            raise RuntimeError("no dead-letter queue configured (ACTIONS_DEAD_LETTER_QUEUE_URL)")
        self.client.send_message(
            QueueUrl=self.dead_letter_queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message.group_id,
            MessageDeduplicationId=f"{message.action_id}-d{time.time_ns()}"[:128],
        )


@dataclass(frozen=True)
class RedriveReport:
    moved: int
    action_ids: tuple[str, ...]


def redrive(
    sqs: SQSClient,
    *,
    dead_letter_queue_url: str,
    queue_url: str,
    on_moved: Callable[[ActionMessage], None] | None = None,
    max_messages: int = 10_000,
) -> RedriveReport:
    """Move every message of the dead-letter queue back to the actions queue, each group in its original order.

    A FIFO queue hands out a group's next messages only after the earlier ones are deleted, so each batch is
    sent on and deleted before the next receive; within a batch messages are sorted by acceptance time (then
    sequence number) in case they were dead-lettered out of order. Each resend gets a fresh deduplication id
    (the action id plus a time stamp): the original id may still be inside SQS's five-minute window.
    """
    moved: list[str] = []
    while len(moved) < max_messages:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=REDRIVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        for message in sorted(messages, key=_original_position):
            body = message.get("Body", "")
            attributes = message.get("Attributes", {})
            group = attributes.get("MessageGroupId")
            parsed = _parse(body)
            if group is None:
                group = parsed.group_id if parsed is not None else "unknown"
            stem = parsed.action_id if parsed is not None else message.get("MessageId", "message")
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=f"{stem}-r{time.time_ns()}"[:128],
            )
            sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])
            if parsed is not None:
                moved.append(parsed.action_id)
                if on_moved is not None:
                    on_moved(parsed)
            else:
                moved.append(stem)
    return RedriveReport(moved=len(moved), action_ids=tuple(moved))


def _parse(body: str) -> ActionMessage | None:
    try:
        return ActionMessage.model_validate_json(body)
    except ValidationError:
        return None


def _original_position(message: MessageTypeDef) -> tuple[str, float, int]:
    parsed = _parse(message.get("Body", ""))
    attributes = message.get("Attributes", {})
    accepted = parsed.accepted_at.timestamp() if parsed is not None else 0.0
    group = attributes.get("MessageGroupId", parsed.group_id if parsed else "")
    return (group, accepted, int(attributes.get("SequenceNumber", "0") or 0))
