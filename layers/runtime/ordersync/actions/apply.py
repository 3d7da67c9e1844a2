"""Applying an action: at most one successful platform call per action, whatever the queue redelivers.

The actions table is the idempotency record: an action already ``succeeded`` or ``failed`` is acknowledged
without calling the platform again, and every attempt is counted before the platform is called.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from ordersync.actions.models import Action, ActionError, ActionMessage, ActionState
from ordersync.actions.ports import ActionRunner, ActionStore
from ordersync.actions.telemetry import ActionMetric, count
from ordersync.errors import PermanentError, PlatformError, RetryableError
from ordersync.models import Order, utc_now
from ordersync.sync.ports import OrderWriter

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)


class ActionOutcome(BaseModel):
    """What a platform answered to an action, reduced to what ``GET /actions/{id}`` shows."""

    model_config = ConfigDict(frozen=True)

    summary: dict[str, Any]
    errors: tuple[ActionError, ...] = ()
    order: Order | None = None


class RetryLaterError(Exception):
    """Fails the queue record so that SQS delivers it again after the visibility timeout."""


HELD_BACK = ActionError(
    code="held_back", message="an earlier action on the same order failed, so this one waited behind it"
)


def error_of(error: PlatformError) -> ActionError:
    code = f"http_{error.status_code}" if error.status_code is not None else type(error).__name__
    return ActionError(code=code, message=error.message, status_code=error.status_code, detail=error.body)


class ActionApplier:
    def __init__(
        self,
        store: ActionStore,
        runner: ActionRunner,
        orders: OrderWriter | None,
        *,
        max_receive_count: int,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.orders = orders
        self.max_receive_count = max_receive_count
        self.clock = clock
        self.metrics = metrics

    def apply(self, message: ActionMessage, *, receive_count: int) -> Action:
        """Apply one delivery of an action. Raises ``RetryLaterError`` when the queue should deliver it again."""
        action = self._start(message)
        if action is None or action.state.is_final:
            logger.info("action already final: acknowledged without calling the platform", extra=_log(message))
            return action if action is not None else message.to_action(self.clock())
        try:
            sent_at = self.clock()
            outcome = self.runner.run(action)
        except RetryableError as error:
            self._retry_later(message, error_of(error), receive_count)
            raise RetryLaterError(str(error)) from error
        except PermanentError as error:
            failure = error_of(error)
            logger.warning("permanent platform error: action failed", extra=_log(message) | {"error": str(error)})
            count(self.metrics, ActionMetric.FAILED)
            return self._finish(action, ActionState.FAILED, errors=(failure,), last_error=failure)
        except Exception as error:
            # Not the platform's answer (a missing secret, a bug): retried like a platform outage, and visible.
            logger.exception("unexpected error while applying an action", extra=_log(message))
            problem = ActionError(code="internal_error", message=f"{type(error).__name__}: {error}")
            self._retry_later(message, problem, receive_count)
            raise RetryLaterError(str(error)) from error
        self._save_order(outcome.order, message, sent_at=sent_at)
        count(self.metrics, ActionMetric.SUCCEEDED)
        return self._finish(action, ActionState.SUCCEEDED, result=outcome.summary, errors=outcome.errors)

    def _retry_later(self, message: ActionMessage, problem: ActionError, receive_count: int) -> None:
        """Back to ``queued`` for the next delivery, or ``dead_lettered`` when this was the last receive."""
        exhausted = receive_count >= self.max_receive_count
        state = ActionState.DEAD_LETTERED if exhausted else ActionState.QUEUED
        self.store.finish(message.action_id, state, now=self.clock(), last_error=problem)
        count(self.metrics, ActionMetric.DEAD_LETTERED if exhausted else ActionMetric.RETRIED)
        logger.warning(
            "action will be delivered again" if not exhausted else "action dead-lettered",
            extra=_log(message) | {"error": problem.message, "dead_lettered": exhausted},
        )

    def hold_back(self, message: ActionMessage, *, receive_count: int) -> None:
        """A delivery skipped behind a failed action of its group: at the last receive it goes to the DLQ too."""
        if receive_count >= self.max_receive_count:
            marked = self.store.finish(
                message.action_id, ActionState.DEAD_LETTERED, now=self.clock(), last_error=HELD_BACK
            )
            if marked is not None:  # an action already final stays as it is, and is not counted
                count(self.metrics, ActionMetric.DEAD_LETTERED)

    def _start(self, message: ActionMessage) -> Action | None:
        now = self.clock()
        action = self.store.start_attempt(message.action_id, now=now)
        if action is not None:
            return action
        existing = self.store.get(message.action_id)
        if existing is not None:
            return existing  # final: start_attempt refuses final actions
        logger.warning("action record missing: rebuilt from the message", extra=_log(message))
        self.store.put(message.to_action(now))
        return self.store.start_attempt(message.action_id, now=now)

    def _finish(
        self,
        action: Action,
        state: ActionState,
        *,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
    ) -> Action:
        finished = self.store.finish(
            action.action_id, state, now=self.clock(), result=result, errors=errors, last_error=last_error
        )
        return finished if finished is not None else action

    def _save_order(self, order: Order | None, message: ActionMessage, *, sent_at: datetime) -> None:
        """Write the platform's answer through the read path; a failure here must not repeat the action.

        ``observed_at`` is when the request was sent: a poller that stored the order after that holds data at
        least as fresh, so the store keeps it rather than go back to this answer."""
        if order is None or self.orders is None:
            return
        try:
            self.orders.save_changed([order], seen_at=self.clock(), observed_at=sent_at)
        except Exception:
            logger.exception("could not store the order the platform returned", extra=_log(message))


def _log(message: ActionMessage) -> dict[str, Any]:
    return {"action_id": message.action_id, "group": message.group_id, "kind": message.kind.value}
