"""The ports of the action services, each defined once: the acceptor and the applier depend on these, the
DynamoDB and SQS adapters in ``ordersync.aws`` and the platform clients implement them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ordersync.actions.models import Action, ActionError, ActionMessage, ActionState
from ordersync.models import Platform

if TYPE_CHECKING:
    from ordersync.actions.apply import ActionOutcome


class ActionStore(Protocol):
    """The actions table: the record of every accepted action and of its attempts."""

    def create(self, action: Action) -> None: ...

    def get(self, action_id: str) -> Action | None: ...

    def put(self, action: Action) -> None: ...

    def start_attempt(self, action_id: str, *, now: datetime, overdue_at: datetime | None = None) -> Action | None: ...

    def begin_attempt(
        self, action_id: str, *, now: datetime, overdue_at: datetime | None = None, max_attempts: int
    ) -> tuple[Action, Action] | None:
        """``start_attempt`` in one write when the action is open with attempts left in its first budget: the
        action before and after; ``None`` when it cannot tell so (the applier then reads the action)."""
        ...

    def finish(
        self,
        action_id: str,
        state: ActionState,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
        outcome_unknown: bool = False,
        confirmed_by_read: bool = False,
        overdue_at: datetime | None = None,
        order_id: str | None = None,
    ) -> Action | None: ...

    def requeue(
        self,
        action_id: str,
        *,
        now: datetime,
        overdue_at: datetime | None = None,
        fresh_budget: bool = True,
        outcome_unknown: bool | None = None,
    ) -> Action | None: ...


class OverdueActions(Protocol):
    """The actions table's ``open-actions`` index: attempted actions not final by their ``overdue_at``."""

    def overdue(self, platform: Platform, *, now: datetime, limit: int = 100) -> list[Action]: ...


class ActionSender(Protocol):
    """The actions queue: one FIFO message group per order."""

    def send(self, action: Action) -> str: ...


class ActionRequeuer(Protocol):
    """Puts an action on the queue again, in its group, under a fresh deduplication id (the reconciler)."""

    def resend(self, action: Action, *, attempt: int) -> str: ...


class QueueControl(Protocol):
    """What the worker does to the queue itself: back a delivery off, and dead-letter an action it gave up on."""

    def delay(self, receipt_handles: Sequence[str], seconds: int) -> None:
        """Set the visibility timeout of these in-flight messages (their group waits that long)."""
        ...

    def dead_letter(self, message: ActionMessage) -> None:
        """Put the action's message on the dead-letter queue (the worker then acknowledges the delivery)."""
        ...


class ActionRunner(Protocol):
    """Sends one action to its platform. Raises ``RetryableError`` or ``PermanentError`` on failure."""

    def run(self, action: Action) -> ActionOutcome: ...

    def check(self, action: Action) -> ActionOutcome | None:
        """Whether the action already took effect on its platform (read, never sent): its outcome if so,
        ``None`` if not or if its kind declares no check (sending it again is then safe)."""
        ...


type EffectCheck = Callable[[Action, Callable[[], Any]], ActionOutcome | None]
"""How one kind of action tells whether it already took effect: given the action and a getter of its platform's
client, the outcome read from the platform when it did, ``None`` when it did not. Raises ``RetryableError`` when
the platform cannot tell now. Each platform declares them beside its action handlers (``CHECKS``)."""
