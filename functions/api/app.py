"""The ordersync REST API. Thin: routes, validation and error shaping live in ``ordersync.api``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.actions.telemetry import NAMESPACE
from ordersync.composition import api
from ordersync.tracing import LazyTracer

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Flushes ``ActionsAccepted``/``ActionsNotAccepted``, which the acceptor adds, at the end of the request."""
    return api()(event, context)
