"""Reads the orders that webhooks hinted at: one SQS FIFO batch of hints in, a partial batch response out.

Thin: ``ordersync.webhooks.consumer`` reads each order once per batch and writes it like a poll."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import webhook_consumer
from ordersync.webhooks.telemetry import NAMESPACE

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from ordersync.aws.webhook_queue import parse_hint  # its pydantic model is built on the first call

    hints = []
    for record in event.get("Records", []):
        hint = parse_hint(str(record.get("body", "")))
        if hint is None:
            logger.warning("not a webhook hint; dropped", extra={"message_id": record.get("messageId")})
            continue
        hints.append((str(record["messageId"]), hint))
    report = webhook_consumer().consume(hints)
    logger.info(
        "webhook hints read",
        extra={"reads": report.reads, "changed": report.changed, "not_found": report.not_found},
    )
    return {
        "batchItemFailures": [{"itemIdentifier": message_id} for message_id in report.failed_message_ids],
        # Ignored by the SQS event source; ``ordersync local`` counts them for its summary.
        "webhook_reads": report.reads,
        "webhook_changed": report.changed,
    }
