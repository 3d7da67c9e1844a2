"""``ordersync state show|reset`` and the poll-state repository's ``list``/``reset`` against the poll-state table in
moto (server mode): what a poller's row shows, and a reset that never races a run holding the lease."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from ordersync_tools.cli import main

from ordersync.aws.poll_state_repository import LeaseHeldError, NoPollStateError, PollStateRepository
from ordersync.models import utc_now

POLLER = "poller#ticketscloud"


def finished_run(
    repository: PollStateRepository, poller: str = POLLER, *, cursor: str = "2026-12-01T10:00:00Z"
) -> None:
    """A run that took the lease, left a checkpoint on the way and completed with ``cursor``."""
    now = utc_now() - timedelta(minutes=10)
    repository.acquire(poller, "run-1", now=now, lease_for=timedelta(minutes=5))
    repository.checkpoint(
        poller, "run-1", checkpoint={"kind": "window", "next_page": 3}, now=now, lease_for=timedelta(minutes=5)
    )
    repository.complete(poller, "run-1", cursor=cursor, now=now, counters={"orders_seen": 7, "orders_written": 5})


def interrupted_run(repository: PollStateRepository, *, lease_for: timedelta) -> None:
    """A run that holds the lease (for ``lease_for`` from now; negative: expired) with a checkpoint."""
    now = utc_now()
    repository.acquire(POLLER, "run-2", now=now - timedelta(seconds=1), lease_for=lease_for)
    repository.checkpoint(POLLER, "run-2", checkpoint={"kind": "window", "next_page": 2}, now=now, lease_for=lease_for)


def state_cli(aws: str, table: str, *arguments: str) -> int:
    return main(["state", *arguments, "--table", table, "--endpoint-url", aws])


def test_show_prints_the_cursor_checkpoint_lease_and_counters(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)

    code = state_cli(aws, tables[1], "show", "ticketscloud")

    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == POLLER
    assert "cursor         2026-12-01T10:00:00Z" in out
    assert "checkpoint     (none)" in out
    assert "lease          free" in out
    assert "orders_seen 7, orders_written 5, runs_completed 1, runs_started 1" in out


def test_show_json_gives_the_row_and_whether_the_lease_is_held(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)
    interrupted_run(state_repository, lease_for=timedelta(minutes=5))

    code = state_cli(aws, tables[1], "show", "ticketscloud", "--json")

    shown = json.loads(capsys.readouterr().out)
    assert code == 0
    assert shown["poller"] == POLLER
    assert shown["cursor"] == "2026-12-01T10:00:00Z"
    assert shown["checkpoint"] == {"kind": "window", "next_page": 2}
    assert (shown["lease_owner"], shown["lease_held"]) == ("run-2", True)
    assert shown["counters"] == {"orders_seen": 7, "orders_written": 5, "runs_completed": 1, "runs_started": 2}


def test_show_without_a_name_lists_every_poller(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)
    finished_run(state_repository, "status#ecards")

    code = state_cli(aws, tables[1], "show", "--json")

    assert code == 0
    assert [state["poller"] for state in json.loads(capsys.readouterr().out)] == [POLLER, "status#ecards"]


def test_reset_forgets_cursor_and_checkpoint_and_keeps_the_counters(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)

    code = state_cli(aws, tables[1], "reset", "ticketscloud")

    assert code == 0
    assert "cursor 2026-12-01T10:00:00Z" in capsys.readouterr().out
    after = state_repository.get(POLLER)
    assert after is not None
    assert (after.cursor, after.checkpoint, after.lease_owner) == (None, None, None)
    assert after.counters["orders_seen"] == 7
    assert after.last_reset_at is not None


def test_reset_is_refused_in_one_line_with_exit_2_while_a_run_holds_the_lease(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)
    interrupted_run(state_repository, lease_for=timedelta(minutes=5))

    code = state_cli(aws, tables[1], "reset", "ticketscloud")

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "not reset: run run-2 holds its lease until" in err
    unchanged = state_repository.get(POLLER)
    assert unchanged is not None
    assert (unchanged.cursor, unchanged.lease_owner) == ("2026-12-01T10:00:00Z", "run-2")


def test_reset_takes_over_from_a_run_whose_lease_expired(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository
) -> None:
    interrupted_run(state_repository, lease_for=timedelta(seconds=-30))

    assert state_cli(aws, tables[1], "reset", "ticketscloud") == 0
    after = state_repository.get(POLLER)
    assert after is not None
    assert (after.checkpoint, after.lease_owner) == (None, None)


def test_reset_of_a_poller_without_state_names_those_with_state(
    aws: str, tables: tuple[str, str], state_repository: PollStateRepository, capsys: pytest.CaptureFixture[str]
) -> None:
    finished_run(state_repository)

    code = state_cli(aws, tables[1], "reset", "ecards")

    assert code == 2
    assert f"no state for poller#ecards (pollers with state: {POLLER})" in capsys.readouterr().err


def test_an_unknown_poller_name_is_refused(
    aws: str, tables: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert state_cli(aws, tables[1], "show", "tickets") == 2
    assert "unknown poller 'tickets'" in capsys.readouterr().err


def test_reset_is_one_conditional_write_not_a_read_then_a_write(
    state_repository: PollStateRepository, dynamodb: Any
) -> None:
    finished_run(state_repository)
    calls: list[str] = []
    dynamodb.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    state_repository.reset(POLLER, now=utc_now())

    assert calls == ["UpdateItem"]


def test_the_repository_tells_a_held_lease_from_a_missing_row(state_repository: PollStateRepository) -> None:
    interrupted_run(state_repository, lease_for=timedelta(minutes=5))

    with pytest.raises(LeaseHeldError) as held:
        state_repository.reset(POLLER, now=utc_now())
    with pytest.raises(NoPollStateError):
        state_repository.reset("poller#ecards", now=utc_now())
    assert held.value.state.lease_owner == "run-2"


def test_after_a_reset_the_next_run_takes_the_lease_and_starts_without_a_cursor(
    state_repository: PollStateRepository,
) -> None:
    finished_run(state_repository)
    state_repository.reset(POLLER, now=utc_now())

    taken = state_repository.acquire(POLLER, "run-3", now=utc_now(), lease_for=timedelta(minutes=5))

    assert taken is not None
    assert (taken.cursor, taken.checkpoint) == (None, None)
