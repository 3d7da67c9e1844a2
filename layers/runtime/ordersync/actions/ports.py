"""The ports of the action services, each defined once: the acceptor and the applier depend on these, the
DynamoDB and SQS adapters in ``ordersync.aws`` and the platform clients implement them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from ordersync.actions.models import Action, ActionError, ActionState

if TYPE_CHECKING:
    from ordersync.actions.apply import ActionOutcome


class ActionStore(Protocol):
    """The actions table: the record of every accepted action and of its attempts."""

    def create(self, action: Action) -> None: ...

    def get(self, action_id: str) -> Action | None: ...

    def put(self, action: Action) -> None: ...

    def start_attempt(self, action_id: str, *, now: datetime) -> Action | None: ...

    def finish(
        self,
        action_id: str,
        state: ActionState,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
    ) -> Action | None: ...


class ActionSender(Protocol):
    """The actions queue: one FIFO message group per order."""

    def send(self, action: Action) -> str: ...


class ActionRunner(Protocol):
    """Sends one action to its platform. Raises ``RetryableError`` or ``PermanentError`` on failure."""

    def run(self, action: Action) -> ActionOutcome: ...
