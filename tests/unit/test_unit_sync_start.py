"""``SYNC_START_DATE`` (the template's ``SyncStartDate``): where a poller's first window starts, the backfill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from builders import NOW, Clock, orders
from fakes import FakeOrderStore, FakePlatformClient, FakePollStateStore
from pydantic import ValidationError

from ordersync import platforms
from ordersync.config import SYNC_START_DEFAULT, Settings
from ordersync.models import Platform
from ordersync.sync.engine import INITIAL_FROM, PollOptions, run_poller


def test_without_a_start_date_a_first_window_starts_before_any_order() -> None:
    assert (
        Settings.from_env({}).sync_start_date == SYNC_START_DEFAULT == INITIAL_FROM == datetime(2000, 1, 1, tzinfo=UTC)
    )


def test_a_start_date_alone_means_midnight_utc() -> None:
    settings = Settings.from_env({"SYNC_START_DATE": "2024-03-01"})

    assert settings.sync_start_date == datetime(2024, 3, 1, tzinfo=UTC)


def test_a_start_time_with_a_zone_is_kept_as_that_instant_in_utc() -> None:
    settings = Settings.from_env({"SYNC_START_DATE": "2024-03-01T10:00:00+03:00"})

    assert settings.sync_start_date == datetime(2024, 3, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2024-03-01T10:00:00", "yesterday", "2024-13-01"])
def test_a_start_time_without_a_zone_or_not_a_date_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="sync_start_date"):
        Settings.from_env({"SYNC_START_DATE": value})


def test_the_poll_options_take_the_start_date_from_the_settings() -> None:
    settings = Settings.from_env({"SYNC_START_DATE": "2024-03-01"})

    options = PollOptions.from_settings(platforms.profile(Platform.TICKETSCLOUD), settings)

    assert options.initial_from == datetime(2024, 3, 1, tzinfo=UTC)


def test_a_first_window_starts_at_the_start_date_and_a_later_one_at_the_cursor() -> None:
    start = NOW - timedelta(days=30)
    client = FakePlatformClient(Platform.TICKETSCLOUD, orders(5), max_page_size=10)
    state = FakePollStateStore()
    clock = Clock()

    def run(run_id: str) -> None:
        settings = Settings.from_env({"SYNC_START_DATE": start.isoformat(), "POLL_LOOKBACK_MINUTES": "60"})
        options = PollOptions.from_settings(platforms.profile(Platform.TICKETSCLOUD), settings, clock=clock)
        run_poller(
            platforms.profile(Platform.TICKETSCLOUD),
            settings=settings,
            client=client,
            repository=FakeOrderStore(),
            state_repository=state,
            remaining_time_ms=lambda: 900_000,
            run_id=run_id,
            options=options,
        )

    run("first")
    assert {query.created_from for query in client.queries} == {start}

    client.queries.clear()
    clock.advance(timedelta(minutes=5))
    run("second")
    assert {query.created_from for query in client.queries} != {start}
