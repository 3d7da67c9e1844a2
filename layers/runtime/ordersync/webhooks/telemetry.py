"""Metrics of the webhooks: what the receiver did with each call, what the consumer read, and the lag from a
webhook to the write that publishes the order's change event."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

NAMESPACE = "ordersync"


class WebhookMetric(StrEnum):
    RECEIVED = "WebhooksReceived"
    ACCEPTED = "WebhooksAccepted"  # queued for a read: answered 202
    COALESCED = "WebhooksCoalesced"  # a read of that order was already queued: answered 202, nothing queued
    REFUSED = "WebhooksRefused"  # wrong secret (401) or unreadable body (400): nothing queued
    UNAVAILABLE = "WebhooksUnavailable"  # secret or queue unreachable: answered 503
    READS = "WebhookOrderReads"  # orders read from the platform by the consumer
    CHANGED = "WebhookOrdersChanged"  # of those, written because they had changed
    NOT_FOUND = "WebhookOrdersNotFound"  # the platform said the order does not exist: nothing stored
    READ_FAILED = "WebhookReadsFailed"  # read failed; the message is retried by the queue
    LAG = "WebhookToWriteLagSeconds"  # from the first webhook of a read to the write that makes its change event


def count(metrics: Metrics | None, metric: WebhookMetric, value: float = 1) -> None:
    if metrics is not None and value:
        metrics.add_metric(name=metric.value, unit="Count", value=value)


def lag(metrics: Metrics | None, seconds: float) -> None:
    if metrics is not None:
        metrics.add_metric(name=WebhookMetric.LAG.value, unit="Seconds", value=round(max(0.0, seconds), 3))
