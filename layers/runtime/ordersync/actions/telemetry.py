"""Metrics of the write path: one count per outcome, so operators can alarm on failures and dead letters.

The domain takes a Powertools ``Metrics`` (or ``None``: tests and tools that run it outside a decorated
handler emit nothing). The Lambda wiring passes one with an explicit namespace, because Powertools flushes on
its own after 100 values of a metric and needs a namespace for that; the handlers' ``log_metrics`` flushes
the rest at the end of each invocation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

NAMESPACE = "ordersync"


class ActionMetric(StrEnum):
    ACCEPTED = "ActionsAccepted"  # recorded and queued: the API answered 202
    NOT_ACCEPTED = "ActionsNotAccepted"  # could not be recorded or queued: the API answered 503
    SUCCEEDED = "ActionsSucceeded"
    FAILED = "ActionsFailed"  # a permanent platform error
    RETRIED = "ActionsRetried"  # a retryable failure: the queue delivers it again
    DEAD_LETTERED = "ActionsDeadLettered"  # its attempt budget spent: moved to the dead-letter queue by the worker
    CONFIRMED_BY_READ = "ActionsConfirmedByRead"  # an unknown outcome read back as applied: not sent again
    OVERDUE = "ActionsOverdue"  # found by the reconciler still queued or running past its deadline
    RECONCILED = "ActionsReconciled"  # overdue and finished by the reconciler after reading its effect
    REQUEUED = "ActionsRequeued"  # overdue, its effect absent: put on the queue again by the reconciler


def count(metrics: Metrics | None, metric: ActionMetric) -> None:
    if metrics is not None:
        metrics.add_metric(name=metric.value, unit="Count", value=1)
