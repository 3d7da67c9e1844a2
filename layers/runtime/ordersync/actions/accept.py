"""Accepting an action: record it, then queue it. Only when both worked may the API answer ``202``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from ordersync.actions.models import Action, ActionError, ActionKind, ActionState
from ordersync.actions.ports import ActionSender, ActionStore
from ordersync.actions.telemetry import ActionMetric, count
from ordersync.models import utc_now

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)


class AcceptFailedError(Exception):
    """The action could not be recorded or queued: the caller must answer ``503`` and may send it again."""


class ActionAcceptor:
    def __init__(
        self,
        repository: ActionStore,
        queue: ActionSender,
        *,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.repository = repository
        self.queue = queue
        self.clock = clock
        self.metrics = metrics

    def accept(self, *, kind: ActionKind, order_id: str | None, client_id: str, payload: dict[str, Any]) -> Action:
        """Record the action as ``queued`` and put it on the queue, in that order.

        Recording first means a queued message always has a record to report on. If queueing fails, the
        record is marked ``failed`` (code ``not_queued``) so that it never looks pending forever.
        """
        action = Action.accept(kind=kind, order_id=order_id, client_id=client_id, payload=payload, now=self.clock())
        try:
            self.repository.create(action)
        except Exception as error:
            logger.exception("could not record the action", extra={"action_id": action.action_id})
            count(self.metrics, ActionMetric.NOT_ACCEPTED)
            raise AcceptFailedError("the action could not be recorded") from error
        try:
            self.queue.send(action)
        except Exception as error:
            logger.exception("could not queue the action", extra={"action_id": action.action_id})
            self._mark_not_queued(action)
            count(self.metrics, ActionMetric.NOT_ACCEPTED)
            raise AcceptFailedError("the action could not be queued") from error
        count(self.metrics, ActionMetric.ACCEPTED)
        logger.info("action accepted", extra={"action_id": action.action_id, "group": action.group_id})
        return action

    def _mark_not_queued(self, action: Action) -> None:
        try:
            self.repository.finish(
                action.action_id,
                ActionState.FAILED,
                now=self.clock(),
                errors=(ActionError(code="not_queued", message="the action could not be queued; send it again"),),
            )
        except Exception:
            logger.exception("could not mark the unqueued action failed", extra={"action_id": action.action_id})
