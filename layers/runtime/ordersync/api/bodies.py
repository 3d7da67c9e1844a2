"""Request bodies the API defines itself. Order actions and e-cards orders reuse the platform clients' models;
the export body keeps the platform's own field names (``created_at``, ``status``) and turns into the client's
``TicketscloudExportRequest``."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from ordersync.models import ContactText, UtcDatetime
from ordersync.platforms.ticketscloud import TicketscloudExportRequest

EXPORT_STATUSES = ("executed", "in_progress", "done", "cancelled", "canceled", "expired", "refunded")


class CreatedAtRange(BaseModel):
    """A creation-time range; either side may be open. Times must carry a zone."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: UtcDatetime | None = Field(default=None, alias="from")
    to: UtcDatetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ is None and self.to is None:
            raise ValueError("give from, to or both")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("from must not be after to")
        return self


class TicketscloudExportBody(BaseModel):
    """``POST /exports/ticketscloud``: the platform e-mails the matching orders to ``email``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    email: ContactText = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    created_at: CreatedAtRange | None = Field(
        default=None, description='{"from": ..., "to": ...}, or the platform\'s "from,to" string'
    )
    status: list[str] = Field(default_factory=list, max_length=len(EXPORT_STATUSES))
    events: list[str] = Field(default_factory=list, max_length=100)
    only_with_customer: StrictBool | None = Field(default=None, description="JSON true or false; nothing else")

    @field_validator("created_at", mode="before")
    @classmethod
    def _range_string(cls, value: Any) -> Any:
        """The platform writes the range as ``from,to``: accept that too."""
        if isinstance(value, str):
            start, separator, end = value.partition(",")
            if not separator:
                raise ValueError('a string range is "from,to"')
            return {"from": start.strip() or None, "to": end.strip() or None}
        return value

    @field_validator("status")
    @classmethod
    def _known_statuses(cls, value: list[str]) -> list[str]:
        unknown = [item for item in value if item not in EXPORT_STATUSES]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r}; one of {', '.join(EXPORT_STATUSES)}")
        return value

    def to_request(self) -> TicketscloudExportRequest:
        return TicketscloudExportRequest(
            email=self.email,
            created_from=self.created_at.from_ if self.created_at else None,
            created_to=self.created_at.to if self.created_at else None,
            statuses=tuple(self.status),
            events=tuple(self.events),
            only_with_customer=self.only_with_customer,
        )
