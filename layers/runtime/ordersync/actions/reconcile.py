"""The reconciler: no action stays ``queued`` or ``running`` past its deadline.

An attempt that never reported back (a worker killed mid-call, a message lost to the queue's safety-net redrive)
leaves its action open with an ``overdue_at`` that has passed: the attempt's start plus the worker's timeout plus
the queue's visibility timeout (plus the backoff, for a queued retry). By then a live message would have been
delivered again. The reconciler reads those actions from the sparse ``open-actions`` index, checks on the
platform whether each took effect, and finishes it (``succeeded``, ``confirmed_by_read``) or puts it back on
the queue in its group. An earlier copy still on the queue is harmless: the record makes a second delivery of a
final action a no-op, and a FIFO group runs one message at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger

from ordersync.actions.apply import ActionOutcome, AttemptBudget
from ordersync.actions.models import Action, ActionState
from ordersync.actions.ports import ActionRequeuer, ActionRunner, ActionStore, OverdueActions
from ordersync.actions.telemetry import ActionMetric, count
from ordersync.errors import PermanentError, RetryableError
from ordersync.models import Platform, utc_now

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)


class ReconcileStore(ActionStore, OverdueActions, Protocol):
    """The actions table as the reconciler uses it."""


@dataclass
class ReconcileReport:
    overdue: int = 0
    finished: list[str] = field(default_factory=list)  # took effect: finished without sending
    requeued: list[str] = field(default_factory=list)  # no effect: on the queue again
    unresolved: list[str] = field(default_factory=list)  # the platform could not tell now: next run


class ActionReconciler:
    def __init__(
        self,
        store: ReconcileStore,
        runner: ActionRunner,
        queue: ActionRequeuer,
        *,
        budget: AttemptBudget | None = None,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.runner = runner
        self.queue = queue
        self.budget = budget or AttemptBudget()
        self.clock = clock
        self.metrics = metrics

    def run(self, platforms: Iterable[Platform] = tuple(Platform), *, limit: int = 100) -> ReconcileReport:
        """One pass over every platform's overdue actions (at most ``limit`` per platform)."""
        report = ReconcileReport()
        now = self.clock()
        for platform in platforms:
            for action in self.store.overdue(platform, now=now, limit=limit):
                if not action.state.is_open:
                    continue
                report.overdue += 1
                self._reconcile(action, report)
        if report.overdue:
            logger.warning(
                "overdue actions reconciled",
                extra={
                    "overdue": report.overdue,
                    "finished": report.finished,
                    "requeued": report.requeued,
                    "unresolved": report.unresolved,
                },
            )
        return report

    def _reconcile(self, action: Action, report: ReconcileReport) -> None:
        try:
            outcome = self.runner.check(action)
        except RetryableError as error:
            logger.warning("overdue action: its platform cannot tell now", extra=_log(action) | {"error": str(error)})
            report.unresolved.append(action.action_id)
            return
        except PermanentError:
            outcome = None  # e.g. the order is unknown: the worker's send will say why, for good
        if outcome is not None:
            self._finish(action, outcome, report)
        else:
            self._requeue(action, report)

    def _finish(self, action: Action, outcome: ActionOutcome, report: ReconcileReport) -> None:
        finished = self.store.finish(
            action.action_id,
            ActionState.SUCCEEDED,
            now=self.clock(),
            result=outcome.summary,
            errors=outcome.errors,
            confirmed_by_read=True,
        )
        if finished is not None:
            report.finished.append(action.action_id)
            count(self.metrics, ActionMetric.RECONCILED)
            logger.info("overdue action had taken effect: finished", extra=_log(action))

    def _requeue(self, action: Action, report: ReconcileReport) -> None:
        now = self.clock()
        requeued = self.store.requeue(
            action.action_id, now=now, overdue_at=self.budget.overdue_at(now), fresh_budget=False, outcome_unknown=False
        )
        if requeued is None:  # became final meanwhile
            return
        self.queue.resend(requeued, attempt=requeued.attempts)
        report.requeued.append(action.action_id)
        count(self.metrics, ActionMetric.REQUEUED)
        logger.info("overdue action had no effect: queued again", extra=_log(action))


def _log(action: Action) -> dict[str, object]:
    return {"action_id": action.action_id, "group": action.group_id, "state": action.state.value}
