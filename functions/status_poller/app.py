"""Scheduled status poller: reads again the status of every order that is not final yet, platform by platform.

Each platform runs under its own lease and reports its own metrics (dimension ``platform``); a platform whose
run fails does not stop the others, and the invocation fails at the end so that the schedule retries.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import (
    configured_platforms,
    poll_statuses,
)
from ordersync.sync.telemetry import NAMESPACE, record_poll_metrics
from ordersync.tracing import LazyTracer

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)


class StatusPollFailedError(RuntimeError):
    """At least one platform's status run failed."""


@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
# Metrics are flushed per platform in the loop (one dimension set each), not by ``log_metrics``.
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=context.aws_request_id)
    reports: dict[str, Any] = {}
    failed: list[str] = []
    for platform in configured_platforms():
        logger.append_keys(platform=platform.value)
        try:
            report = poll_statuses(
                platform, remaining_time_ms=context.get_remaining_time_in_millis, run_id=context.aws_request_id
            )
        except Exception:  # no token, no table: this platform's run never started; the others still run
            logger.exception("status run could not start")
            failed.append(platform.value)
            continue
        metrics.add_dimension(name="platform", value=platform.value)
        metrics.add_dimension(name="poller", value="status")
        record_poll_metrics(metrics, report)
        metrics.flush_metrics()
        reports[platform.value] = report.model_dump(mode="json")
        logger.info("status run finished", extra={"report": reports[platform.value]})
        if report.outcome in ("failed", "lease_lost"):
            failed.append(platform.value)
    logger.remove_keys(["platform"])
    if failed:
        raise StatusPollFailedError(f"status runs failed: {', '.join(failed)}")
    return reports
