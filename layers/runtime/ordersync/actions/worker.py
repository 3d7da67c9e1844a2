"""The queue consumer: one SQS FIFO batch in, a partial batch response out.

``SqsFifoPartialProcessor(skip_group_on_error=True)`` fails the rest of a group after one of its actions
fails, so later actions on that order wait behind it while other orders go on. Those skipped records are
counted against ``maxReceiveCount`` too: the worker marks them ``dead_lettered`` on their last receive.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.actions.apply import ActionApplier
from ordersync.actions.models import ActionMessage

logger = Logger(child=True)


def receive_count_of(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


class OutOfTimeError(Exception):
    """Too little of the invocation is left to apply another action: return it to the queue untouched."""


class ActionWorker:
    def __init__(self, applier: ActionApplier, *, min_remaining_ms: int = 15_000) -> None:
        """``min_remaining_ms``: an action is started only with this much invocation time left, so that a Lambda
        timeout never cuts a platform call in half (set it above the HTTP timeout)."""
        self.applier = applier
        self.min_remaining_ms = min_remaining_ms

    def handle(self, event: dict[str, Any], context: LambdaContext | None = None) -> PartialItemFailureResponse:
        """Process one batch; safe to call from several threads at once (each call has its own processor)."""
        processor = SqsFifoPartialProcessor(skip_group_on_error=True)
        # A batch whose every record failed (a platform outage) is reported record by record like any other,
        # not raised: raising would count as a function error and return the same records anyway.
        processor.raise_on_entire_batch_failure = False
        handled: set[str] = set()

        def record_handler(record: SQSRecord) -> str:
            if context is not None and context.get_remaining_time_in_millis() < self.min_remaining_ms:
                raise OutOfTimeError("too little invocation time left; returned to the queue")
            handled.add(record.message_id)
            message = ActionMessage.model_validate_json(record.body)
            action = self.applier.apply(message, receive_count=receive_count_of(record))
            return action.state.value

        with processor(records=event.get("Records", []), handler=record_handler, lambda_context=context):
            results = processor.process()
        for status, _, record in results:
            if status == "fail" and record.message_id not in handled:
                self._hold_back(record)
        return processor.response()

    def _hold_back(self, record: SQSRecord) -> None:
        try:
            message = ActionMessage.model_validate_json(record.body)
            self.applier.hold_back(message, receive_count=receive_count_of(record))
        except Exception:
            logger.exception("could not record a held-back action", extra={"message_id": record.message_id})
