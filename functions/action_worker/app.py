"""Applies queued order actions: one SQS FIFO batch in, a partial batch response out.

Thin: ``ordersync.actions.worker`` holds the batch processing, ``ordersync.actions.apply`` the rules."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.actions.telemetry import NAMESPACE
from ordersync.composition import action_worker
from ordersync.tracing import LazyTracer

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Also flushes the per-outcome counts (``ActionsSucceeded``, ``ActionsFailed``, ``ActionsRetried``,
    ``ActionsDeadLettered``) that the applier adds while the batch runs."""
    response = action_worker().handle(event, context)
    records = len(event.get("Records", []))
    failed = len(response.get("batchItemFailures", []))
    metrics.add_metric(name="ActionRecordsProcessed", unit=MetricUnit.Count, value=records - failed)
    metrics.add_metric(name="ActionRecordsReturned", unit=MetricUnit.Count, value=failed)
    return dict(response)
