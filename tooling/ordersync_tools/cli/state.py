"""``ordersync state show|reset``: each poller's row of the poll-state table (cursor, checkpoint, lease, counters),
and resetting one so that its next run starts a first window again, from ``SyncStartDate`` (a backfill).

A poller is named by its platform (``ticketscloud``: the list poller ``poller#ticketscloud``) or by its row key
(``status#ticketscloud``: the status poller's run for that platform). Without flags the commands act on the
running ``ordersync local`` of this checkout; ``--stack-name`` picks a deployed stack; ``--table`` names the
poll-state table directly.

``reset`` is one conditional write: it refuses (exit 2) while a run holds an unexpired lease, so it never races a
run; try again when that run has finished (``state show`` tells until when the lease lasts).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ordersync.models import Platform, utc_now
from ordersync_tools.cli.errors import CliError
from ordersync_tools.cli.target import POLL_STATE_TABLE, add_target_options, resolve_target

if TYPE_CHECKING:
    from ordersync.aws.poll_state_repository import PollStateRepository
    from ordersync.sync.ports import PollState


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "state",
        help="show or reset the pollers' cursors, checkpoints, leases and counters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="state_command", required=True, metavar="{show,reset}")
    show = commands.add_parser(
        "show",
        help="print a poller's cursor, checkpoint, lease and counters (every poller without a name)",
        description="Print a poller's cursor, checkpoint, lease and counters; without a name, every poller's.",
    )
    show.add_argument("poller", nargs="?", help="a platform (its list poller) or a row key such as status#ecards")
    _add_common_options(show)
    show.set_defaults(run=run_show)
    reset = commands.add_parser(
        "reset",
        help="forget a poller's cursor and checkpoint: its next run starts from SyncStartDate",
        description=(
            "Forget a poller's cursor and checkpoint, so that its next run reads a first window again, from the "
            "stack's SyncStartDate (counters and run history stay). Refused, exit 2, while a run holds the lease."
        ),
    )
    reset.add_argument("poller", help="a platform (its list poller) or a row key such as status#ecards")
    _add_common_options(reset)
    reset.set_defaults(run=run_reset)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_target_options(parser)
    parser.add_argument("--table", help="the poll-state table (default: the deployment's PollStateTable)")


def poller_key(name: str) -> str:
    """The row key of ``name``: a platform names its list poller; a key with ``#`` is taken as it is."""
    from ordersync.sync.engine import poller_name

    if "#" in name:
        return name
    known = {platform.value: platform for platform in Platform}
    if name not in known:
        raise CliError(
            f"unknown poller {name!r}: name a platform ({', '.join(known)}) or a row key such as status#{name}"
        )
    return poller_name(known[name])


def _repository(args: argparse.Namespace) -> PollStateRepository:
    from ordersync.aws.poll_state_repository import PollStateRepository

    target = resolve_target(args, explicit=bool(args.table))
    table = args.table or target.require(POLL_STATE_TABLE, "--table")
    return PollStateRepository(table, dynamodb_client=target.client("dynamodb"))


def run_show(args: argparse.Namespace) -> int:
    repository = _repository(args)
    now = utc_now()
    if args.poller is None:
        states = repository.list()
    else:
        key = poller_key(args.poller)
        found = repository.get(key)
        if found is None:
            raise CliError(_no_state(key, repository))
        states = [found]
    if args.json:
        documents = [as_json(state, now) for state in states]
        print(json.dumps(documents[0] if args.poller else documents, indent=2))
    elif not states:
        print("no poller has run yet")
    else:
        print("\n\n".join(as_text(state, now) for state in states))
    return 0


def run_reset(args: argparse.Namespace) -> int:
    from ordersync.aws.poll_state_repository import LeaseHeldError, NoPollStateError

    repository = _repository(args)
    key = poller_key(args.poller)
    now = utc_now()
    try:
        before = repository.reset(key, now=now)
    except LeaseHeldError as error:
        state = error.state
        until = f" until {_time(state.lease_expires_at)}" if state.lease_expires_at else ""
        raise CliError(
            f"{key} not reset: run {state.lease_owner or '(unknown)'} holds its lease{until}; "
            "try again when that run has finished"
        ) from None
    except NoPollStateError:
        raise CliError(_no_state(key, repository)) from None
    if args.json:
        print(json.dumps({"reset": key, "before": as_json(before, now)}, indent=2))
    else:
        print(
            f"{key} reset: cursor {before.cursor or '(none)'} and checkpoint "
            f"{'(none)' if before.checkpoint is None else json.dumps(before.checkpoint, sort_keys=True)} forgotten; "
            "its next run starts from SyncStartDate"
        )
    return 0


def _no_state(key: str, repository: PollStateRepository) -> str:
    known = [state.poller for state in repository.list()]
    listed = ", ".join(known) if known else "none has run yet"
    return f"no state for {key} (pollers with state: {listed})"


def as_json(state: PollState, now: datetime) -> dict[str, Any]:
    document: dict[str, Any] = state.model_dump(mode="json")
    document["lease_held"] = state.lease_held(now)
    return document


def as_text(state: PollState, now: datetime) -> str:
    if state.lease_held(now):
        lease = f"held by run {state.lease_owner} until {_time(state.lease_expires_at)}"
    elif state.lease_expires_at is not None:
        lease = f"free (run {state.lease_owner}'s lease expired {_time(state.lease_expires_at)})"
    else:
        lease = "free"
    counters = ", ".join(f"{name} {value}" for name, value in sorted(state.counters.items())) or "(none)"
    rows = [
        ("cursor", state.cursor or "(none: the next run starts from SyncStartDate)"),
        ("checkpoint", "(none)" if state.checkpoint is None else json.dumps(state.checkpoint, sort_keys=True)),
        ("lease", lease),
        ("last run", f"{state.last_run_id or '(none)'} started {_time(state.last_run_started_at)}"),
        ("last completed", _time(state.last_complete_run_at)),
        ("counters", counters),
    ]
    if state.last_reset_at is not None:
        rows.append(("last reset", _time(state.last_reset_at)))
    return "\n".join([state.poller, *(f"  {label:<15}{value}" for label, value in rows)])


def _time(value: datetime | None) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else "(never)"
