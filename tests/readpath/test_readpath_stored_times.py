"""The one stored time format (``ordersync.timefmt``): fixed width, UTC, and still able to read the
``isoformat()`` times that items written before it hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ordersync import timefmt
from ordersync.sync import records
from ordersync.timefmt import from_iso, to_iso

MOSCOW = timezone(timedelta(hours=3))


def test_times_are_written_fixed_width_in_utc() -> None:
    assert to_iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert to_iso(datetime(2026, 1, 2, 6, 4, 5, 7, tzinfo=MOSCOW)) == "2026-01-02T03:04:05.000007Z"


def test_string_order_is_time_order() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    times = [start, start + timedelta(microseconds=1), start + timedelta(seconds=1), start + timedelta(days=400)]

    assert sorted(to_iso(moment) for moment in reversed(times)) == [to_iso(moment) for moment in times]


def test_a_naive_time_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_iso(datetime(2026, 1, 2, 3, 4, 5))  # noqa: DTZ001 (the point of the test)
    with pytest.raises(ValueError, match="no zone"):
        from_iso("2026-01-02T03:04:05")


def test_written_times_read_back_exactly() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    assert from_iso(to_iso(moment)) == moment
    assert from_iso(to_iso(moment)).tzinfo is UTC


@pytest.mark.parametrize(
    "old",
    [
        "2026-01-02T03:04:05+00:00",  # datetime.isoformat() of a whole second
        "2026-01-02T03:04:05.000000+00:00",
        "2026-01-02T06:04:05+03:00",  # isoformat() of a time in another zone
        "2026-01-02T03:04:05Z",  # pydantic's JSON form, which model_dump(mode="json") wrote
    ],
)
def test_times_written_earlier_by_isoformat_are_still_read(old: str) -> None:
    parsed = from_iso(old)

    assert parsed == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    assert to_iso(parsed) == "2026-01-02T03:04:05.000000Z"


def test_the_read_path_uses_the_same_format() -> None:
    assert records.to_iso is timefmt.to_iso
    assert records.from_iso is timefmt.from_iso
