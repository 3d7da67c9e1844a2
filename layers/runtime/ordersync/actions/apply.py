"""Applying an action: at most one successful platform call per action, whatever the queue redelivers.

The actions table is the idempotency record: an action already ``succeeded`` or ``failed`` (or parked in the
dead-letter queue) is acknowledged without calling the platform again. Each action has an attempt budget: only
real attempts (a platform call made) spend it, never a delivery skipped behind a failed action of its group.
A retryable failure backs the delivery off through the queue (its visibility timeout); when the budget is spent
the worker moves the action to the dead-letter queue itself, so the rest of its group goes on.

An attempt whose outcome is unknown (a timeout, a reset connection, an unreadable ``200``, or a worker that died
mid-call) is checked on the platform before anything is sent again: the kind's effect check reads the order, and
only when the effect is absent is the action sent again (``confirmed_by_read`` on the record when it was not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from ordersync.actions.models import Action, ActionError, ActionMessage, ActionState
from ordersync.actions.ports import ActionRunner, ActionStore, QueueControl
from ordersync.actions.telemetry import ActionMetric, count
from ordersync.backoff import Backoff
from ordersync.errors import MalformedResponseError, OutcomeUnknownError, PermanentError, PlatformError, RetryableError
from ordersync.models import Order, utc_now
from ordersync.sync.ports import OrderWriter

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)

MAX_VISIBILITY_SECONDS = 43_200
"""SQS's longest visibility timeout (12 hours)."""


OVERDUE_AFTER_SECONDS = 420.0
"""The action worker's timeout (60 s) plus the actions queue's visibility timeout (360 s), as ``template.yaml``
sets them: an attempt started longer ago than this would have been delivered again if its message were alive."""


class ActionOutcome(BaseModel):
    """What a platform answered to an action, reduced to what ``GET /actions/{id}`` shows."""

    model_config = ConfigDict(frozen=True)

    summary: dict[str, Any]
    errors: tuple[ActionError, ...] = ()
    order: Order | None = None
    order_id: str | None = None  # the order a create made: recorded on the action


@dataclass(frozen=True)
class AttemptBudget:
    """How often and how patiently an action is tried (``ACTION_MAX_ATTEMPTS``, ``ACTION_RETRY_BASE_SECONDS``,
    ``ACTION_RETRY_MAX_SECONDS``), and after how long an attempt that never reported back is overdue."""

    max_attempts: int = 5
    base_seconds: float = 5.0
    max_seconds: float = 300.0
    overdue_after_seconds: float = OVERDUE_AFTER_SECONDS

    def delay(self, attempt: int, retry_after: float | None = None, *, outcome_unknown: bool = False) -> int:
        """Whole seconds before the next delivery after failed attempt ``attempt``: exponential backoff with full
        jitter, capped, but never shorter than the platform's ``Retry-After``. After an unknown outcome, at least
        ``base_seconds``: a request the client gave up on may still be landing, and the check must see it."""
        wait = Backoff(attempts=max(1, self.max_attempts), base=self.base_seconds, cap=self.max_seconds).delay(attempt)
        if outcome_unknown:
            wait = max(wait, self.base_seconds)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(MAX_VISIBILITY_SECONDS, math.ceil(wait))

    def overdue_at(self, now: datetime, *, after_seconds: float = 0) -> datetime:
        return now + timedelta(seconds=after_seconds + self.overdue_after_seconds)


class RetryLaterError(Exception):
    """Fails the queue record so that SQS delivers it again, after ``delay_seconds`` (its visibility timeout)."""

    def __init__(self, message: str, *, delay_seconds: int) -> None:
        super().__init__(message)
        self.delay_seconds = delay_seconds


BUDGET_SPENT = ActionError(code="attempt_budget_spent", message="the action's attempts were used up")


def error_of(error: PlatformError) -> ActionError:
    code = f"http_{error.status_code}" if error.status_code is not None else type(error).__name__
    return ActionError(code=code, message=error.message, status_code=error.status_code, detail=error.body)


def outcome_unknown(error: RetryableError) -> bool:
    """Whether the failed call may still have taken effect: its answer was lost or could not be read."""
    return isinstance(error, OutcomeUnknownError | MalformedResponseError) or error.status_code is None


class ActionApplier:
    def __init__(
        self,
        store: ActionStore,
        runner: ActionRunner,
        orders: OrderWriter | None,
        *,
        budget: AttemptBudget | None = None,
        queue: QueueControl | None = None,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.orders = orders
        self.budget = budget or AttemptBudget()
        self.queue = queue
        self.clock = clock
        self.metrics = metrics
        self._order_writer: ThreadPoolExecutor | None = None

    def apply(self, message: ActionMessage) -> Action:
        """Apply one delivery of an action. Raises ``RetryLaterError`` when the queue should deliver it again.

        The common delivery (an open action with attempts left) is marked running in one conditional write that
        also returns what it was; anything else (final, dead-lettered, missing, a redriven budget) is read first."""
        now = self.clock()
        begun = self.store.begin_attempt(
            message.action_id, now=now, overdue_at=self.budget.overdue_at(now), max_attempts=self.budget.max_attempts
        )
        if begun is not None:
            before, running = begun
            unknown = before.outcome_unknown or before.state is ActionState.RUNNING  # a worker died mid-call
            return self._attempt(message, running, check_first=unknown, started_at=now)
        existing = self._record(message)
        if existing.state.is_final or existing.state is ActionState.DEAD_LETTERED:
            logger.info("action already final: acknowledged without calling the platform", extra=_log(message))
            return existing
        unknown = existing.outcome_unknown or existing.state is ActionState.RUNNING  # a worker died mid-call
        if existing.budget_spent(self.budget.max_attempts):
            return self._last_word(message, existing, unknown=unknown)
        now = self.clock()
        action = self.store.start_attempt(message.action_id, now=now, overdue_at=self.budget.overdue_at(now))
        if action is None:  # became final or dead-lettered meanwhile
            return self.store.get(message.action_id) or existing
        return self._attempt(message, action, check_first=unknown, started_at=now)

    def _attempt(self, message: ActionMessage, action: Action, *, check_first: bool, started_at: datetime) -> Action:
        """One real attempt: read the effect of an earlier one whose outcome is unknown, else send."""
        checking = check_first
        try:
            if check_first:
                confirmed = self.runner.check(action)
                if confirmed is not None:
                    return self._succeed(action, message, confirmed, sent_at=started_at, confirmed_by_read=True)
                logger.info("earlier attempt had no effect: sending again", extra=_log(message))
            checking = False
            sent_at = self.clock()
            outcome = self.runner.run(action)
        except RetryableError as error:
            return self._retry_later(
                message, action, error_of(error), error.retry_after, unknown=checking or outcome_unknown(error)
            )
        except PermanentError as error:
            failure = error_of(error)
            logger.warning("permanent platform error: action failed", extra=_log(message) | {"error": str(error)})
            count(self.metrics, ActionMetric.FAILED)
            return self._finish(action, ActionState.FAILED, errors=(failure,), last_error=failure)
        except Exception as error:
            # Not the platform's answer (a missing secret, a bug): retried like a platform outage, and visible.
            logger.exception("unexpected error while applying an action", extra=_log(message))
            problem = ActionError(code="internal_error", message=f"{type(error).__name__}: {error}")
            return self._retry_later(message, action, problem, None, unknown=checking)
        return self._succeed(action, message, outcome, sent_at=sent_at, confirmed_by_read=False)

    def _last_word(self, message: ActionMessage, action: Action, *, unknown: bool) -> Action:
        """The budget is spent (a worker died during the last attempt): read whether that attempt took effect,
        without sending anything, and finish the action, or dead-letter it."""
        if unknown:
            try:
                confirmed = self.runner.check(action)
            except Exception:
                logger.exception("could not read the effect of the last attempt", extra=_log(message))
            else:
                if confirmed is not None:
                    return self._succeed(action, message, confirmed, sent_at=self.clock(), confirmed_by_read=True)
                unknown = False  # read back: the last attempt had no effect
        return self._dead_letter(message, action, action.last_error or BUDGET_SPENT, unknown=unknown)

    def _succeed(
        self,
        action: Action,
        message: ActionMessage,
        outcome: ActionOutcome,
        *,
        sent_at: datetime,
        confirmed_by_read: bool,
    ) -> Action:
        if outcome.order is None or self.orders is None:
            return self._record_success(action, message, outcome, confirmed_by_read=confirmed_by_read)
        saving = self._saver().submit(self._save_order, outcome.order, message, sent_at=sent_at)
        try:
            return self._record_success(action, message, outcome, confirmed_by_read=confirmed_by_read)
        finally:
            saving.result()  # the order is stored (or its failure logged) before the group's next action

    def _saver(self) -> ThreadPoolExecutor:
        """One thread that stores the platform's answer while the action's outcome is written: the two writes
        are independent (a failed order write never repeats the action), so they need not wait for each other."""
        if self._order_writer is None:
            self._order_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="order-writer")
        return self._order_writer

    def _record_success(
        self, action: Action, message: ActionMessage, outcome: ActionOutcome, *, confirmed_by_read: bool
    ) -> Action:
        count(self.metrics, ActionMetric.SUCCEEDED)
        if confirmed_by_read:
            count(self.metrics, ActionMetric.CONFIRMED_BY_READ)
            logger.info("earlier attempt had taken effect: finished without sending again", extra=_log(message))
        finished = self.store.finish(
            action.action_id,
            ActionState.SUCCEEDED,
            now=self.clock(),
            result=outcome.summary,
            errors=outcome.errors,
            confirmed_by_read=confirmed_by_read,
            order_id=outcome.order_id,
        )
        return finished if finished is not None else action

    def _retry_later(
        self,
        message: ActionMessage,
        action: Action,
        problem: ActionError,
        retry_after: float | None,
        *,
        unknown: bool,
    ) -> Action:
        """Back to ``queued`` with a backoff, or to the dead-letter queue when this was the budget's last attempt."""
        if action.budget_spent(self.budget.max_attempts):
            return self._dead_letter(message, action, problem, unknown=unknown)
        delay = self.budget.delay(action.attempts - action.budget_from, retry_after, outcome_unknown=unknown)
        now = self.clock()
        self.store.finish(
            message.action_id,
            ActionState.QUEUED,
            now=now,
            last_error=problem,
            outcome_unknown=unknown,
            overdue_at=self.budget.overdue_at(now, after_seconds=delay),
        )
        count(self.metrics, ActionMetric.RETRIED)
        logger.warning(
            "action will be delivered again",
            extra=_log(message) | {"error": problem.message, "delay_seconds": delay, "outcome_unknown": unknown},
        )
        raise RetryLaterError(problem.message, delay_seconds=delay)

    def _dead_letter(self, message: ActionMessage, action: Action, problem: ActionError, *, unknown: bool) -> Action:
        """Move the action to the dead-letter queue and mark it so; the delivery is then acknowledged."""
        if self.queue is not None:
            self.queue.dead_letter(message)  # a failure raises: the delivery comes back and this is tried again
        marked = self.store.finish(
            message.action_id, ActionState.DEAD_LETTERED, now=self.clock(), last_error=problem, outcome_unknown=unknown
        )
        count(self.metrics, ActionMetric.DEAD_LETTERED)
        logger.warning(
            "action dead-lettered: its attempts are used up", extra=_log(message) | {"error": problem.message}
        )
        return marked if marked is not None else action

    def _record(self, message: ActionMessage) -> Action:
        existing = self.store.get(message.action_id)
        if existing is not None:
            return existing
        logger.warning("action record missing: rebuilt from the message", extra=_log(message))
        rebuilt = message.to_action(self.clock())
        self.store.put(rebuilt)
        return rebuilt

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
