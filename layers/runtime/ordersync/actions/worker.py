"""The queue consumer: one SQS FIFO batch in, a partial batch response out.

``SqsFifoPartialProcessor(skip_group_on_error=True)`` fails the rest of a group after one of its actions
fails, so later actions on that order wait behind it while other orders go on. Those skipped records spend
nothing of their actions' attempt budgets (nothing was sent), and are never dead-lettered for it.

A retryable failure backs its group off through the queue: the failed record's visibility timeout is set to the
applier's backoff, and so is that of every record skipped behind it, since SQS hands out none of a FIFO group
while any of its messages is in flight (left at the queue's default, the skipped ones would hold the group far
longer than the backoff).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.actions.apply import ActionApplier, RetryLaterError
from ordersync.actions.models import ActionMessage
from ordersync.actions.ports import QueueControl

logger = Logger(child=True)


class OutOfTimeError(Exception):
    """Too little of the invocation is left to apply another action: return it to the queue untouched."""


class ActionWorker:
    def __init__(
        self, applier: ActionApplier, *, min_remaining_ms: int = 15_000, queue: QueueControl | None = None
    ) -> None:
        """``min_remaining_ms``: an action is started only with this much invocation time left, so that a Lambda
        timeout never cuts a platform call in half (set it above the HTTP timeout). ``queue`` sets the backoff of
        failed records (none: they come back after the queue's visibility timeout)."""
        self.applier = applier
        self.min_remaining_ms = min_remaining_ms
        self.queue = queue

    def handle(self, event: dict[str, Any], context: LambdaContext | None = None) -> PartialItemFailureResponse:
        """Process one batch; safe to call from several threads at once (each call has its own processor)."""
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose every record failed (a platform outage) is reported record by record like any other,
        # not raised: raising would count as a function error and return the same records anyway.
        processor.raise_on_entire_batch_failure = False
        delays: dict[str, int] = {}  # group -> seconds its failed action backs off

        def record_handler(record: SQSRecord) -> str:
            if context is not None and context.get_remaining_time_in_millis() < self.min_remaining_ms:
                raise OutOfTimeError("too little invocation time left; returned to the queue")
            message = ActionMessage.model_validate_json(record.body)
            try:
                action = self.applier.apply(message)
            except RetryLaterError as error:
                delays[_group_of(record)] = error.delay_seconds
                raise
            return action.state.value

        with processor(records=event.get("Records", []), handler=record_handler, lambda_context=context):
            results = processor.process()
        self._back_off([record for status, _, record in results if status == "fail"], delays)
        return processor.response()

    def _back_off(self, failed: list[SQSRecord], delays: dict[str, int]) -> None:
        """Give each failed record of a backed-off group that group's delay, skipped records included."""
        if self.queue is None or not delays:
            return
        by_delay: dict[int, list[str]] = defaultdict(list)
        for record in failed:
            delay = delays.get(_group_of(record))
            if delay is not None:
                by_delay[delay].append(record.receipt_handle)
        for seconds, handles in by_delay.items():
            try:
                self.queue.delay(handles, seconds)
            except Exception:  # the records still come back, after the queue's own visibility timeout
                logger.exception("could not back off failed records", extra={"delay_seconds": seconds})


def _group_of(record: SQSRecord) -> str:
    return record.attributes.message_group_id or ""
