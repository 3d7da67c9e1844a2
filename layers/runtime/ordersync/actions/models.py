"""The action model: what was asked, where it is in its life, and what the platform answered.

An action is recorded in the actions table before it is queued, so ``GET /actions/{id}`` can always say what
happened to an accepted action, including the errors a platform reports inside a successful answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ordersync.models import Platform, UtcDatetime, order_key

ACTION_RETENTION = timedelta(days=30)
"""How long an action's record is kept (the table's TTL), long after any retry or redrive."""


class ActionKind(StrEnum):
    """What an action does. Each kind has exactly one platform, the prefix of its value (stored: never renamed)."""

    TICKETSCLOUD_ORDER_ACTIONS = "ticketscloud_order_actions"
    ECARDS_CREATE_ORDER = "ecards_create_order"
    TICKETSCLOUD_EXPORT = "ticketscloud_export"
    TICKETSCLOUD_CREATE_ORDER = "ticketscloud_create_order"
    TICKETSCLOUD_RESERVATION = "ticketscloud_reservation"
    TICKETSCLOUD_ORDER_STATUS = "ticketscloud_order_status"
    TICKETSCLOUD_REFUND_REQUEST = "ticketscloud_refund_request"
    TICKETSCLOUD_REFUND_DECISION = "ticketscloud_refund_decision"

    @property
    def platform(self) -> Platform:
        """The platform a kind belongs to: each kind's value is ``<platform>_<what it does>``."""
        return Platform(self.value.split("_", 1)[0])

    @property
    def creates_order(self) -> bool:
        """A create whose order id is the platform's to give: it has none until it is applied."""
        return self is ActionKind.TICKETSCLOUD_CREATE_ORDER


class ActionState(StrEnum):
    QUEUED = "queued"  # recorded and on the queue (again, after a retryable failure or a redrive)
    RUNNING = "running"  # a worker is applying it now
    SUCCEEDED = "succeeded"  # the platform accepted it (promocode errors may still be listed in ``errors``)
    FAILED = "failed"  # the platform refused it for good (a permanent 4xx); never retried
    DEAD_LETTERED = "dead_lettered"  # its attempt budget is spent: the worker moved it to the dead-letter queue

    @property
    def is_final(self) -> bool:
        """A final action is acknowledged on redelivery without calling the platform again."""
        return self in (ActionState.SUCCEEDED, ActionState.FAILED)

    @property
    def is_open(self) -> bool:
        """Still to be applied: the worker (or the reconciler) has something to do with it."""
        return self in (ActionState.QUEUED, ActionState.RUNNING)


EXPORT_GROUP = "ticketscloud#exports"
"""Exports touch no order, so they share one message group: one export at a time."""


def new_action_id() -> str:
    return str(uuid.uuid4())


def message_group_of(kind: ActionKind, order_id: str | None, action_id: str | None = None) -> str:
    """The FIFO message group: one per order, so actions on one order never run at the same time.

    A create has no order id yet: it gets a group of its own (``<platform>#new#<action id>``). Nothing else can
    be about its order before it is applied (the id is not known), and creates of different orders never
    conflict on the platform, so one group per event or per platform would only make creates wait on each other."""
    if kind.creates_order and action_id is not None:
        return f"{kind.platform.value}#new#{action_id}"
    if kind is ActionKind.TICKETSCLOUD_EXPORT or order_id is None:
        return EXPORT_GROUP
    return order_key(kind.platform, order_id)


class ActionError(BaseModel):
    """One problem the platform (or ordersync) reported about an action."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="The platform's error code, or an ordersync code such as `http_409`")
    message: str
    status_code: int | None = Field(default=None, description="The platform's HTTP status, when there was one")
    detail: Any = Field(default=None, description="The platform's error body, as received")


class Action(BaseModel):
    """One accepted action and its whole life."""

    model_config = ConfigDict(frozen=True)

    action_id: str
    kind: ActionKind
    platform: Platform
    order_id: str | None = Field(
        default=None, description="The platform's order id; none for an export, and for a create until it is applied"
    )
    group_id: str = Field(description="The FIFO message group the action is queued in")
    client_id: str = Field(description="The API client that sent the action")
    payload: dict[str, Any] = Field(description="The validated request body, as it will be sent")
    state: ActionState = ActionState.QUEUED
    attempts: int = Field(
        default=0, ge=0, description="Real attempts: how many times a worker started calling the platform for it"
    )
    budget_from: int = Field(
        default=0, ge=0, description="``attempts`` when its budget last started (a redrive starts a fresh one)"
    )
    outcome_unknown: bool = Field(
        default=False,
        description="The latest attempt may have taken effect (timeout, reset, unreadable answer): check first",
    )
    confirmed_by_read: bool = Field(
        default=False, description="Finished by reading the platform: an earlier attempt had taken effect"
    )
    overdue_at: UtcDatetime | None = Field(
        default=None, description="While not final: when the reconciler should look at it if nothing else did"
    )
    accepted_at: UtcDatetime
    updated_at: UtcDatetime
    started_at: UtcDatetime | None = Field(default=None, description="When the latest attempt started")
    finished_at: UtcDatetime | None = None
    result: dict[str, Any] | None = Field(default=None, description="A summary of the platform's answer")
    errors: tuple[ActionError, ...] = Field(default=(), description="Errors of the final answer")
    last_error: ActionError | None = Field(default=None, description="Why the latest attempt failed, if it did")
    expires_at: int = Field(description="Epoch seconds when the record is deleted (DynamoDB TTL)")

    @classmethod
    def accept(
        cls,
        *,
        kind: ActionKind,
        order_id: str | None,
        client_id: str,
        payload: dict[str, Any],
        now: datetime,
        action_id: str | None = None,
    ) -> Action:
        action_id = action_id or new_action_id()
        return cls(
            action_id=action_id,
            kind=kind,
            platform=kind.platform,
            order_id=order_id,
            group_id=message_group_of(kind, order_id, action_id),
            client_id=client_id,
            payload=payload,
            accepted_at=now,
            updated_at=now,
            expires_at=int((now + ACTION_RETENTION).timestamp()),
        )

    def budget_spent(self, max_attempts: int) -> bool:
        """Whether the attempts of its current budget (since acceptance or its last redrive) are used up."""
        return self.attempts - self.budget_from >= max_attempts

    def to_message(self) -> ActionMessage:
        return ActionMessage(
            action_id=self.action_id,
            kind=self.kind,
            order_id=self.order_id,
            group_id=self.group_id,
            client_id=self.client_id,
            payload=self.payload,
            accepted_at=self.accepted_at,
        )


class ActionMessage(BaseModel):
    """The queue message: everything needed to apply the action, even if its record was lost."""

    model_config = ConfigDict(frozen=True)

    action_id: str
    kind: ActionKind
    order_id: str | None = None
    group_id: str
    client_id: str
    payload: dict[str, Any]
    accepted_at: UtcDatetime

    def to_action(self, now: datetime) -> Action:
        """Rebuild a record for a message whose record is missing (it expired, or was deleted by hand)."""
        return Action.accept(
            kind=self.kind,
            order_id=self.order_id,
            client_id=self.client_id,
            payload=self.payload,
            now=self.accepted_at,
            action_id=self.action_id,
        ).model_copy(update={"updated_at": now})


class ActionView(BaseModel):
    """What ``GET /actions/{action_id}`` answers."""

    action_id: str
    kind: ActionKind
    platform: Platform
    order_id: str | None
    state: ActionState
    attempts: int
    accepted_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict[str, Any] | None
    errors: list[ActionError]
    last_error: ActionError | None
    confirmed_by_read: bool = False

    @classmethod
    def of(cls, action: Action) -> ActionView:
        return cls(
            action_id=action.action_id,
            kind=action.kind,
            platform=action.platform,
            order_id=action.order_id,
            state=action.state,
            attempts=action.attempts,
            accepted_at=action.accepted_at,
            updated_at=action.updated_at,
            started_at=action.started_at,
            finished_at=action.finished_at,
            result=action.result,
            errors=list(action.errors),
            last_error=action.last_error,
            confirmed_by_read=action.confirmed_by_read,
        )


class AcceptedAction(BaseModel):
    """The ``202`` body of every accepted action."""

    action_id: str
    state: ActionState
    status_url: str = Field(description="Where to follow the action (also the `Location` header)")
    order_id: str | None = Field(default=None, description="The order the action is about (for e-cards: the new id)")
