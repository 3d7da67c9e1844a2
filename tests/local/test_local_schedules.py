"""Schedule expressions, run locally and sped up by ``--speed``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ordersync_tools.local.schedules import CronSchedule, ScheduleExpressionError, Timer, rate_seconds


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rates_are_read_in_seconds(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


def test_a_rate_fires_at_once_then_every_period_divided_by_speed() -> None:
    timer = Timer("rate(5 minutes)", speed=60, start=datetime(2026, 1, 1, tzinfo=UTC))

    assert timer.seconds_until_next(fired=0, elapsed=0) == 0
    assert timer.seconds_until_next(fired=1, elapsed=1) == pytest.approx(4)


def test_cron_finds_the_next_matching_minute() -> None:
    schedule = CronSchedule("cron(0/15 9-17 ? * MON-FRI *)")

    after = schedule.next_after(datetime(2026, 11, 21, 12, 7, tzinfo=UTC))  # a Saturday

    assert after == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_a_cron_timer_runs_faster_with_speed() -> None:
    timer = Timer("cron(0 * * * ? *)", speed=60, start=datetime(2026, 1, 1, 0, 30, tzinfo=UTC))

    assert timer.seconds_until_next(fired=0, elapsed=0) == pytest.approx(30)


@pytest.mark.parametrize("expression", ["every 5 minutes", "rate(5 seconds)", "cron(0 12 L * ? *)"])
def test_an_expression_that_cannot_run_faithfully_is_refused(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        Timer(expression, speed=1, start=datetime(2026, 1, 1, tzinfo=UTC))
