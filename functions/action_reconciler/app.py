"""Scheduled action reconciler: actions still ``queued`` or ``running`` past their deadline are read back on
their platform and finished, or queued again in their group.

Thin: ``ordersync.actions.reconcile`` holds the rules. ``ActionsOverdue`` is emitted on every run (0 included),
so that its alarm sees data while all is well."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.actions.telemetry import NAMESPACE, ActionMetric
from ordersync.composition import action_reconciler
from ordersync.tracing import LazyTracer

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)


@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Also flushes ``ActionsReconciled`` and ``ActionsRequeued``, which the reconciler adds per action."""
    report = action_reconciler().run()
    metrics.add_metric(name=ActionMetric.OVERDUE.value, unit=MetricUnit.Count, value=report.overdue)
    return {
        "overdue": report.overdue,
        "finished": report.finished,
        "requeued": report.requeued,
        "unresolved": report.unresolved,
    }
