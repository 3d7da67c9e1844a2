"""Configuration read from environment variables, which ``template.yaml`` sets from its Parameters
and from its resources. Nothing here knows a host name: every endpoint is configuration.

Only platform-neutral settings live here; each platform reads its own (``<PLATFORM>_*``: base URL, secret name
and its options) in ``ordersync.platforms.<platform>.profile``."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ordersync.models import UtcDatetime

SYNC_START_DEFAULT = datetime(2000, 1, 1, tzinfo=UTC)
"""Where a first window starts unless ``SYNC_START_DATE`` says otherwise: before any order of any platform."""


def _date_is_midnight_utc(value: Any) -> Any:
    """``2024-01-01`` means midnight UTC; a date with a time must carry its zone (a naive one is refused)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return f"{value.strip()}T00:00:00Z"
    return value


SyncStart = Annotated[UtcDatetime, BeforeValidator(_date_is_midnight_utc)]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: str = "dev"

    orders_table: str = ""
    poll_state_table: str = ""
    actions_table: str = ""
    clients_table: str = ""
    idempotency_table: str = ""
    actions_queue_url: str = ""
    event_bus_name: str = ""

    poll_lookback_minutes: int = Field(default=60 * 24, ge=0)
    sync_start_date: SyncStart = Field(
        default=SYNC_START_DEFAULT,
        description="Where a poller's first window starts (only while it has no cursor): the backfill's start",
    )
    poll_concurrency: int = Field(default=4, ge=1, le=32)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    actions_max_receive_count: int = Field(
        default=100, ge=1, description="The actions queue's maxReceiveCount: a safety net far above the budget"
    )
    actions_dead_letter_queue_url: str = ""
    action_max_attempts: int = Field(default=5, ge=1, description="Real attempts (platform calls) per action")
    action_retry_base_seconds: float = Field(default=5.0, ge=0, description="Backoff after the first failed attempt")
    action_retry_max_seconds: float = Field(default=300.0, ge=0, le=43_200, description="Longest backoff")
    webhook_queue_url: str = Field(default="", description="The webhook hints queue (webhook receiver only)")
    webhook_coalesce_seconds: float = Field(
        default=2.0,
        gt=0,
        le=900,
        description="Hints of one order within this window cause one read after it (the hints queue's delay)",
    )
    subscriber_secret_name: str = Field(
        default="", description="The Standard Webhooks signing secret of the partner subscription (signer only)"
    )
    event_detail: Literal["full", "redacted"] = Field(
        default="redacted",
        description="Change events without personal data (redacted: no customer) or with it (full)",
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read every field from the upper-cased environment variable of the same name."""
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(values)


@cache
def settings() -> Settings:
    """The process-wide settings, read once per Lambda container."""
    return Settings.from_env()
