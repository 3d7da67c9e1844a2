"""EventBridge schedule expressions, run locally, ``speed`` times faster than real time.

``rate(...)`` and six-field ``cron(...)`` expressions are understood (``L``, ``W`` and ``#`` are not: they are
rejected at start-up rather than run at a wrong time).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}  # cron: 1 = Sunday


class ScheduleExpressionError(ValueError):
    """An expression this runtime cannot run faithfully."""


def rate_seconds(expression: str) -> float | None:
    """The period of a ``rate(...)`` expression in seconds, or None for a ``cron(...)`` one."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        if expression.strip().startswith("cron("):
            return None
        raise ScheduleExpressionError(f"unsupported schedule expression {expression!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows, or None for ``*``/``?`` (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        if any(mark in item for mark in ("L", "W", "#")) and not (names and _named(item, names)):
            raise ScheduleExpressionError(f"cron field {text!r}: L, W and # are not supported locally")
        part, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def _named(item: str, names: dict[str, int]) -> bool:
    """True when every name in a field item (``MON-FRI``, ``JUL``) is a known name, not an L/W/# mark."""
    words = re.split(r"[-/]", item.upper())
    return all(word.isdigit() or word in names for word in words)


def _number(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


class CronSchedule:
    """A six-field EventBridge cron expression: minutes hours day-of-month month day-of-week year (UTC)."""

    def __init__(self, expression: str) -> None:
        inner = expression.strip().removeprefix("cron(").removesuffix(")")
        fields = inner.split()
        if len(fields) != 6:
            raise ScheduleExpressionError(f"{expression!r}: cron needs six fields")
        self.minutes = _field(fields[0], 0, 59)
        self.hours = _field(fields[1], 0, 23)
        self.days = _field(fields[2], 1, 31)
        self.months = _field(fields[3], 1, 12, _MONTHS)
        self.weekdays = _field(fields[4], 1, 7, _DAYS)
        self.years = _field(fields[5], 1970, 2199)

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment`` (searched over at most four years)."""
        candidate = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(4 * 366 * 24 * 60):
            if self._matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise ScheduleExpressionError("cron expression never fires")

    def _matches(self, moment: datetime) -> bool:
        weekday = (moment.isoweekday() % 7) + 1  # Sunday = 1
        checks = (
            (self.minutes, moment.minute),
            (self.hours, moment.hour),
            (self.days, moment.day),
            (self.months, moment.month),
            (self.weekdays, weekday),
            (self.years, moment.year),
        )
        return all(allowed is None or value in allowed for allowed, value in checks)


class Timer:
    """When a schedule fires next, in local (sped-up) seconds from its start."""

    def __init__(self, expression: str, speed: float, start: datetime) -> None:
        self.speed = speed
        self.start = start
        self.period = rate_seconds(expression)
        self.cron = None if self.period is not None else CronSchedule(expression)

    def seconds_until_next(self, fired: int, elapsed: float) -> float:
        """Real seconds until firing number ``fired + 1``; the first firing of a rate is at once."""
        if self.period is not None:
            return max(0.0, fired * self.period / self.speed - elapsed)
        assert self.cron is not None  # noqa: S101
        virtual_now = self.start + timedelta(seconds=elapsed * self.speed)
        return max(0.0, (self.cron.next_after(virtual_now) - virtual_now).total_seconds() / self.speed)
