"""The webhook hints queue (``WEBHOOK_QUEUE_URL``): an SQS FIFO queue whose messages each stand for one read of
one order.

``MessageGroupId`` is the order's key (one read of an order at a time); ``MessageDeduplicationId`` names the
order's coalescing window, so every hint of one order in one window after the first is dropped by SQS (within
its five-minute deduplication interval); the queue's ``DelaySeconds`` is the window's length, so the read comes
after the window, and so after every hint it stands for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from pydantic import ValidationError

from ordersync.webhooks.models import WebhookHint

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class WebhookQueue:
    def __init__(self, queue_url: str, *, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = boto3.client("sqs")
        return self._client

    def send(self, hint: WebhookHint, *, coalesce_id: str) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=hint.model_dump_json(),
            MessageGroupId=hint.key,
            MessageDeduplicationId=coalesce_id[:128],
        )


def parse_hint(body: str) -> WebhookHint | None:
    """A queued hint; None for a body that is not one (nothing to read: the message is dropped)."""
    try:
        return WebhookHint.model_validate_json(body)
    except ValidationError:
        return None
