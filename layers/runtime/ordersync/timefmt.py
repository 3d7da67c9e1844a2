"""The one time format of every table: fixed-width UTC with microseconds (``2026-01-02T03:04:05.000006Z``).

Fixed width makes string order time order, which the tables' sort keys and string conditions rely on.
Reading also accepts any ISO 8601 time with a zone, such as the ``datetime.isoformat()`` times
(``2026-01-02T03:04:05.000006+00:00``, no fraction when it is zero) that older items hold.
"""

from __future__ import annotations

from datetime import UTC, datetime

STORED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(value: datetime) -> str:
    """A fixed-width UTC timestamp, so that string order is time order (GSI sort keys rely on it)."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC).strftime(STORED_TIME_FORMAT)


def from_iso(value: str) -> datetime:
    """The UTC time of a stored timestamp, in this format or any ISO 8601 form with a zone."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no zone")
    return parsed.astimezone(UTC)
