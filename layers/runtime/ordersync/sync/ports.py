"""The ports of the orders and poll-state tables, each defined once: the services depend on these, the DynamoDB
adapters in ``ordersync.aws`` implement them, and the unit tests' in-memory fakes substitute them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ordersync.models import Order, OrderStatus, Platform, RefundRequest, UtcDatetime
from ordersync.sync.records import SaveSummary, StoredOrder


class LeaseLostError(RuntimeError):
    """Another run took the poller's lease (ours expired): stop at once, without touching its state."""


class PollState(BaseModel):
    """One poller's row of the poll-state table."""

    model_config = ConfigDict(frozen=True)

    poller: str
    cursor: str | None = Field(default=None, description="Where the next run starts (strategy-specific)")
    checkpoint: dict[str, Any] | None = Field(default=None, description="Progress of an unfinished run")
    last_complete_run_at: UtcDatetime | None = None
    last_run_id: str | None = None
    lease_owner: str | None = None
    lease_expires_at: UtcDatetime | None = None
    counters: dict[str, int] = Field(default_factory=dict)
    last_run_started_at: UtcDatetime | None = None
    last_reset_at: UtcDatetime | None = Field(default=None, description="When `ordersync state reset` last ran")

    def lease_held(self, now: datetime) -> bool:
        """Whether a run holds the lease at ``now`` (an expired lease is free to take, or to reset)."""
        return self.lease_expires_at is not None and self.lease_expires_at >= now


class OrderWriter(Protocol):
    """Writes what changed of a batch of orders (the pollers and the action worker write the same way)."""

    def save_changed(
        self, orders: Sequence[Order], *, seen_at: datetime, observed_at: datetime | None = None
    ) -> SaveSummary: ...


class OrderStore(OrderWriter, Protocol):
    """What the pollers need of the orders table: the change-only write and the open-orders schedule."""

    def open_orders(self, platform: Platform, due_before: datetime, limit: int) -> list[StoredOrder]: ...

    def reschedule(self, stored: StoredOrder, *, next_check_at: datetime | None) -> bool: ...


class RefundSaveResult(BaseModel):
    """What one ``save_refunds`` call did: the orders it wrote, and the orders it could not find."""

    model_config = ConfigDict(frozen=True)

    summary: SaveSummary = Field(default_factory=SaveSummary)
    missing_order_ids: frozenset[str] = Field(
        default=frozenset(), description="Orders of the requests that are not stored (the caller fetches them)"
    )


@runtime_checkable
class RefundStore(Protocol):
    """What the refund poller needs of the orders table besides ``OrderStore``: refund requests folded into their
    stored orders, and the one-off clean-up of what the retired refund watch left in the open-orders index."""

    def save_refunds(
        self, platform: Platform, requests: Sequence[RefundRequest], *, seen_at: datetime
    ) -> RefundSaveResult: ...

    def end_refund_watch(self, platform: Platform) -> int: ...


class OrderReader(Protocol):
    """What the API reads of the orders table."""

    def get(self, platform: Platform, order_id: str) -> StoredOrder | None: ...

    def list(
        self,
        platform: Platform | None = None,
        status: OrderStatus | None = None,
        changed_since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[StoredOrder], str | None]: ...


class PollStateStore(Protocol):
    def acquire(self, poller: str, owner: str, *, now: datetime, lease_for: timedelta) -> PollState | None: ...

    def checkpoint(
        self,
        poller: str,
        owner: str,
        *,
        checkpoint: dict[str, Any] | None,
        now: datetime,
        lease_for: timedelta,
    ) -> None: ...

    def complete(
        self, poller: str, owner: str, *, cursor: str | None, now: datetime, counters: dict[str, int]
    ) -> None: ...

    def release(self, poller: str, owner: str) -> None: ...
