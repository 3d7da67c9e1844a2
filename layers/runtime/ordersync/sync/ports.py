"""The storage the read path needs, as protocols: the engine depends on these, the DynamoDB adapters in
``ordersync.aws`` implement them, and unit tests may substitute them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ordersync.models import Order, Platform, UtcDatetime
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


class OrderStore(Protocol):
    def save_changed(
        self, orders: Sequence[Order], *, seen_at: datetime, observed_at: datetime | None = None
    ) -> SaveSummary: ...

    def open_orders(self, platform: Platform, due_before: datetime, limit: int) -> list[StoredOrder]: ...

    def reschedule(self, stored: StoredOrder, *, next_check_at: datetime | None) -> bool: ...


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
