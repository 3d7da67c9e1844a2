"""Metrics of the read path, from a run's report: the handlers stay thin and the names stay in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from ordersync.sync.engine import PollReport

NAMESPACE = "ordersync"


def record_poll_metrics(metrics: Metrics, report: PollReport) -> None:
    """Orders seen/written/unchanged/quarantined, requests, list pages against their budget (``ceil(N / page
    size) + 1`` per window read), duration, and ``PollCompleted`` (the alarm's
    heartbeat: it is emitted only by a run that reached the end, so stalled pollers go quiet)."""
    metrics.add_metric(name="OrdersSeen", unit=MetricUnit.Count, value=report.orders_seen)
    metrics.add_metric(name="OrdersWritten", unit=MetricUnit.Count, value=report.written)
    metrics.add_metric(name="OrdersUnchanged", unit=MetricUnit.Count, value=report.unchanged)
    metrics.add_metric(name="OrdersQuarantined", unit=MetricUnit.Count, value=report.quarantined + report.too_large)
    metrics.add_metric(name="OrderWriteConflicts", unit=MetricUnit.Count, value=report.conflicts)
    metrics.add_metric(name="PlatformRequests", unit=MetricUnit.Count, value=report.requests)
    metrics.add_metric(name="ListPages", unit=MetricUnit.Count, value=report.pages)
    metrics.add_metric(name="ListPageBudget", unit=MetricUnit.Count, value=report.page_budget)
    metrics.add_metric(name="PollDurationMs", unit=MetricUnit.Milliseconds, value=report.duration_ms)
    if report.completed:
        metrics.add_metric(name="PollCompleted", unit=MetricUnit.Count, value=1)
