"""What a webhook hint is once accepted, and what the receiver answers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from ordersync.models import Platform, UtcDatetime, order_key


class WebhookHint(BaseModel):
    """One accepted notification: which order of which platform may have changed, and when we heard of it.
    Nothing else of the body is kept: the order is read from the platform."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    order_id: str
    event_type: str | None = None
    received_at: UtcDatetime

    @property
    def key(self) -> str:
        return order_key(self.platform, self.order_id)


class WebhookOutcome(StrEnum):
    ACCEPTED = "accepted"
    """Queued for a read of the order."""
    COALESCED = "coalesced"
    """Another hint of the same order is already queued for a read after this one: nothing more to queue."""
    REFUSED_SECRET = "refused_secret"  # noqa: S105 - an outcome's name, not a secret
    REFUSED_BODY = "refused_body"
    UNAVAILABLE = "unavailable"
    """The secret or the queue could not be reached: the platform may send it again."""


@dataclass(frozen=True)
class Receipt:
    """The receiver's answer: the HTTP status and a short JSON body."""

    outcome: WebhookOutcome
    status_code: int
    message: str

    @property
    def body(self) -> dict[str, str]:
        return {"outcome": self.outcome.value, "message": self.message}
