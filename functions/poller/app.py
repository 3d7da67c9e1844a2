"""Scheduled poller of one platform (``PLATFORM``): polls its list into the orders table, or, when the schedule's
input says ``"target": "refunds"`` (a platform whose profile says ``polls_refunds``), its refund requests.

Thin on purpose: the work is ``ordersync.sync.run_poller`` (or ``sync.refund_poll.run_refund_poller``), run by
``ordersync.composition.poll_orders`` (``poll_refunds``). A
failed run raises after its metrics are out, so that the schedule's retry policy and dead-letter queue see it;
its checkpoint makes the retry resume.
The schedule's input carries ``execution_id`` (the scheduler's ``<aws.scheduler.execution-id>``), which every log
line of the invocation carries as its correlation id, retries of one execution included.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import poll_orders, poll_refunds
from ordersync.sync.telemetry import NAMESPACE, record_poll_metrics
from ordersync.tracing import LazyTracer

if TYPE_CHECKING:
    from ordersync.sync.engine import PollReport

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)


class PollFailedError(RuntimeError):
    """The run failed or lost its lease; the checkpoint it left is where the next run resumes."""


@logger.inject_lambda_context(correlation_id_path="execution_id", clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ordersync.models import Platform  # its pydantic models are built on the first call, not at import

    platform = Platform(os.environ["PLATFORM"])
    refunds = event.get("target") == "refunds"
    target = "refunds" if refunds else "orders"
    logger.append_keys(platform=platform.value, run_id=context.aws_request_id, target=target)
    metrics.add_dimension(name="platform", value=platform.value)
    if refunds:
        metrics.add_dimension(name="poller", value="refunds")
    tracer.put_annotation(key="platform", value=platform.value)
    poll = poll_refunds if refunds else poll_orders
    report = poll(platform, remaining_time_ms=context.get_remaining_time_in_millis, run_id=context.aws_request_id)
    return _finish(report)


def _finish(report: PollReport) -> dict[str, Any]:
    record_poll_metrics(metrics, report)
    summary = report.model_dump(mode="json")
    logger.info("poll run finished", extra={"report": summary})
    if report.outcome in ("failed", "lease_lost"):
        raise PollFailedError(report.error or report.outcome)
    return summary
