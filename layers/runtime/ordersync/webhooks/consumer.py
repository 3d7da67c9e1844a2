"""The webhook consumer: reads each hinted order from its platform by id and writes it through the pollers'
change-only store, so a webhook makes the same item, stream record and change event as a poll would.

One read per order per batch however many hints of it the batch holds (the extra ones are counted as
coalesced). A platform that says the order does not exist (``404``): logged and counted, nothing stored, the
message done. Any other failure leaves that order's messages to the queue, which delivers them again (and, past
its ``maxReceiveCount``, to its dead-letter queue); the poll stays the source of truth either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ordersync.errors import PermanentError
from ordersync.models import Platform, utc_now
from ordersync.sync.ports import OrderWriter
from ordersync.webhooks.models import WebhookHint
from ordersync.webhooks.ports import OrderFetcher
from ordersync.webhooks.telemetry import WebhookMetric, count, lag

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)


@dataclass
class ConsumeReport:
    reads: int = 0
    changed: int = 0
    not_found: int = 0
    coalesced: int = 0
    failed_message_ids: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)


class WebhookConsumer:
    def __init__(
        self,
        *,
        fetchers: Callable[[Platform], OrderFetcher],
        store: OrderWriter,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.fetchers = fetchers
        self.store = store
        self.metrics = metrics
        self.clock = clock

    def consume(self, messages: Sequence[tuple[str, WebhookHint]]) -> ConsumeReport:
        """Read each order the ``(message id, hint)`` pairs name once; the report lists the message ids to
        hand back to the queue."""
        report = ConsumeReport()
        by_key: dict[str, list[tuple[str, WebhookHint]]] = {}
        for message_id, hint in messages:
            by_key.setdefault(hint.key, []).append((message_id, hint))
        for group in by_key.values():
            report.coalesced += len(group) - 1
            if not self._read(group, report):
                report.failed_message_ids.extend(message_id for message_id, _ in group)
        count(self.metrics, WebhookMetric.COALESCED, report.coalesced)
        return report

    def _read(self, group: list[tuple[str, WebhookHint]], report: ConsumeReport) -> bool:
        hint = min((hint for _, hint in group), key=lambda h: h.received_at)
        observed_at = self.clock()
        report.reads += 1
        count(self.metrics, WebhookMetric.READS)
        try:
            order = self.fetchers(hint.platform).get_order(hint.order_id)
        except PermanentError as error:
            if error.status_code != 404:
                return self._failed(hint, error, report)
            report.not_found += 1
            count(self.metrics, WebhookMetric.NOT_FOUND)
            logger.warning("webhook for an order the platform does not have", extra={"order_key": hint.key})
            return True
        except Exception as error:
            return self._failed(hint, error, report)
        if order.key != hint.key:
            logger.warning("platform answered another order; nothing stored", extra={"order_key": hint.key})
            report.not_found += 1
            count(self.metrics, WebhookMetric.NOT_FOUND)
            return True
        summary = self.store.save_changed([order], seen_at=self.clock(), observed_at=observed_at)
        if summary.written:
            report.changed += 1
            seconds = (self.clock() - hint.received_at).total_seconds()
            report.lags.append(seconds)
            count(self.metrics, WebhookMetric.CHANGED)
            lag(self.metrics, seconds)
        logger.info(
            "order read on webhook",
            extra={"order_key": hint.key, "changed": bool(summary.written), "status": order.status.value},
        )
        return True

    def _failed(self, hint: WebhookHint, error: Exception, report: ConsumeReport) -> bool:
        del report
        count(self.metrics, WebhookMetric.READ_FAILED)
        logger.warning(
            "order read on webhook failed; the queue retries it",
            extra={"order_key": hint.key, "error": type(error).__name__},
        )
        return False
