"""The orders table's Stream to change events on the ordersync bus.

``BatchProcessor`` reports only the failed records (``ReportBatchItemFailures``), so one bad record does not
hold back the others; a record publishes at most one change event (plus the refund events of the refund requests
it brings), and a retried record may publish them again (events carry the item version, and refund events the
request id, for deduplication).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import change_events, event_publisher
from ordersync.sync.telemetry import NAMESPACE
from ordersync.tracing import LazyTracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here
metrics = Metrics(namespace=NAMESPACE)
_lags: dict[str, list[float]] = {}
"""Lag of each event published in the current batch, by platform (metrics are flushed per platform)."""


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    from ordersync.models import utc_now
    from ordersync.sync.events import lag_seconds, record_to_refund_events

    change = change_events()(record)
    events = ([] if change is None else [change]) + record_to_refund_events(record)
    if not events:
        logger.debug("no content change; nothing to publish", extra={"event_id": record.event_id})
        return
    event_publisher().publish(events)
    for event in events:
        detail = event.detail
        logger.info(
            "change event published",
            extra={
                "order_id": detail.order_id,
                "platform": detail.platform.value,
                "version": detail.version,
                "detail_type": event.detail_type.value,
            },
        )
        _lags.setdefault(detail.platform.value, []).append(lag_seconds(event, utc_now()))


@logger.inject_lambda_context(clear_state=True)
# Metrics are flushed per platform by ``_flush_lag_metrics`` (one dimension set each), not by ``log_metrics``.
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    _lags.clear()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor(), context=context
        )
    finally:
        _flush_lag_metrics()


@cache
def processor() -> BatchProcessor:
    """Built on the first batch, not at import. Imported then, before any pydantic model (the record handler
    imports them), Powertools' batch utility also skips its parser's models, which it imports for type hints only
    when ``pydantic`` is already loaded."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.DynamoDBStreams)


def _flush_lag_metrics() -> None:
    """One metric set per platform: ``ChangeToEventLagSeconds`` (every value) and ``OrderEventsPublished``."""
    for platform, lags in sorted(_lags.items()):
        metrics.add_dimension(name="platform", value=platform)
        for lag in lags:
            metrics.add_metric(name="ChangeToEventLagSeconds", unit=MetricUnit.Seconds, value=lag)
        metrics.add_metric(name="OrderEventsPublished", unit=MetricUnit.Count, value=len(lags))
        metrics.flush_metrics()
    _lags.clear()
