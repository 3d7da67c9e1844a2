"""The poll-state table: one row per poller with its cursor, the checkpoint of an unfinished run, counters,
and the lease that keeps two runs of the same poller from overlapping.

The lease is a conditional write with an expiry, not reserved concurrency: the local runtime and tests run
pollers outside Lambda, a manual invocation must not race the schedule, and an expiry lets the next run take
over from a run that was killed without releasing. Every checkpoint is conditional on still holding the
lease, so a run that lost it can never move another run's cursor.

``ordersync state show|reset`` reads rows with ``get``/``list`` and resets one with ``reset``: a conditional write
that refuses while a run holds an unexpired lease, so it cannot race a run that is taking or renewing it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ordersync.aws.dynamodb import DynamoDBRepository, from_item, is_conditional_check_failure
from ordersync.sync.ports import LeaseLostError, PollState
from ordersync.timefmt import from_iso, to_iso

COUNTER_PREFIX = "n_"


class LeaseHeldError(RuntimeError):
    """A reset was refused: a run holds the poller's lease until ``state.lease_expires_at``."""

    def __init__(self, state: PollState) -> None:
        super().__init__(f"poller {state.poller!r}: a run ({state.lease_owner}) holds the lease")
        self.state = state


class NoPollStateError(LookupError):
    """The poller has no row: it never ran (or the name is wrong)."""


class PollStateRepository(DynamoDBRepository):
    """Adapter of ``PollStateTable`` (key ``poller``)."""

    def get(self, poller: str) -> PollState | None:
        response = self.client.get_item(TableName=self.table_name, Key={"poller": {"S": poller}}, ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else _to_state(item)

    def list(self) -> list[PollState]:
        """Every poller's row, by name (the table holds one row per poller: a few dozen at most)."""
        states: list[PollState] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self.table_name, ConsistentRead=True):
            states.extend(_to_state(item) for item in page.get("Items", []))
        return sorted(states, key=lambda state: state.poller)

    def reset(self, poller: str, *, now: datetime) -> PollState:
        """Forget the poller's cursor and checkpoint, so that its next run starts a first window again (from
        ``SYNC_START_DATE``); counters and run history stay. One conditional write: refused with
        ``LeaseHeldError`` while a run holds an unexpired lease, ``NoPollStateError`` when there is no row.
        Returns the state as it was before the reset."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"poller": {"S": poller}},
                UpdateExpression="SET last_reset_at = :now "
                "REMOVE poll_cursor, checkpoint, lease_owner, lease_expires_at",
                ConditionExpression="attribute_exists(poller) AND "
                "(attribute_not_exists(lease_expires_at) OR lease_expires_at < :now)",
                ExpressionAttributeValues={":now": {"S": to_iso(now)}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise
            current = self.get(poller)
            if current is None:
                raise NoPollStateError(poller) from error
            raise LeaseHeldError(current) from error
        return _to_state(response["Attributes"])

    def acquire(self, poller: str, owner: str, *, now: datetime, lease_for: timedelta) -> PollState | None:
        """Take the lease unless another owner holds an unexpired one; the state as it is after taking it."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"poller": {"S": poller}},
                UpdateExpression="SET lease_owner = :owner, lease_expires_at = :expires, last_run_id = :owner, "
                "last_run_started_at = :now ADD n_runs_started :one",
                ConditionExpression="attribute_not_exists(lease_expires_at) OR lease_expires_at < :now "
                "OR lease_owner = :owner",
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":expires": {"S": to_iso(now + lease_for)},
                    ":now": {"S": to_iso(now)},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return None
            raise
        return _to_state(response["Attributes"])

    def checkpoint(
        self,
        poller: str,
        owner: str,
        *,
        checkpoint: dict[str, Any] | None,
        now: datetime,
        lease_for: timedelta,
    ) -> None:
        """Record an unfinished run's progress and renew the lease; ``LeaseLostError`` if it is gone."""
        values: dict[str, Any] = {":owner": {"S": owner}, ":expires": {"S": to_iso(now + lease_for)}}
        if checkpoint is None:
            expression = "SET lease_expires_at = :expires REMOVE checkpoint"
        else:
            expression = "SET lease_expires_at = :expires, checkpoint = :checkpoint"
            values[":checkpoint"] = {"S": json.dumps(checkpoint, sort_keys=True)}
        self._conditional_update(poller, expression, values)

    def complete(self, poller: str, owner: str, *, cursor: str | None, now: datetime, counters: dict[str, int]) -> None:
        """Finish a run: move the cursor, drop the checkpoint, add the run's counters, release the lease."""
        values: dict[str, Any] = {":owner": {"S": owner}, ":now": {"S": to_iso(now)}, ":one": {"N": "1"}}
        sets = ["last_complete_run_at = :now"]
        removes = ["checkpoint", "lease_owner", "lease_expires_at"]
        if cursor is None:
            removes.append("poll_cursor")
        else:
            sets.append("poll_cursor = :cursor")
            values[":cursor"] = {"S": cursor}
        adds = ["n_runs_completed :one"]
        for index, (_name, amount) in enumerate(sorted(counters.items())):
            adds.append(f"#c{index} :c{index}")
            values[f":c{index}"] = {"N": str(int(amount))}
        names = {f"#c{index}": f"{COUNTER_PREFIX}{name}" for index, name in enumerate(sorted(counters))}
        expression = f"SET {', '.join(sets)} REMOVE {', '.join(removes)} ADD {', '.join(adds)}"
        self._conditional_update(poller, expression, values, names)

    def release(self, poller: str, owner: str) -> None:
        """Give the lease back early (a run that failed); a lease already taken over is left alone."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"poller": {"S": poller}},
                UpdateExpression="REMOVE lease_owner, lease_expires_at",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_check_failure(error):
                raise

    def _conditional_update(
        self, poller: str, expression: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> None:
        try:
            if names:
                self.client.update_item(
                    TableName=self.table_name,
                    Key={"poller": {"S": poller}},
                    UpdateExpression=expression,
                    ConditionExpression="lease_owner = :owner",
                    ExpressionAttributeValues=values,
                    ExpressionAttributeNames=names,
                )
            else:
                self.client.update_item(
                    TableName=self.table_name,
                    Key={"poller": {"S": poller}},
                    UpdateExpression=expression,
                    ConditionExpression="lease_owner = :owner",
                    ExpressionAttributeValues=values,
                )
        except ClientError as error:
            if is_conditional_check_failure(error):
                raise LeaseLostError(f"poller {poller!r}: lease lost") from error
            raise


def _to_state(item: dict[str, Any]) -> PollState:
    plain = from_item(item)
    checkpoint = plain.get("checkpoint")
    return PollState(
        poller=str(plain["poller"]),
        cursor=str(plain["poll_cursor"]) if plain.get("poll_cursor") is not None else None,
        checkpoint=json.loads(checkpoint) if checkpoint else None,
        last_complete_run_at=from_iso(plain["last_complete_run_at"]) if plain.get("last_complete_run_at") else None,
        last_run_id=plain.get("last_run_id"),
        lease_owner=plain.get("lease_owner"),
        lease_expires_at=from_iso(plain["lease_expires_at"]) if plain.get("lease_expires_at") else None,
        last_run_started_at=from_iso(plain["last_run_started_at"]) if plain.get("last_run_started_at") else None,
        last_reset_at=from_iso(plain["last_reset_at"]) if plain.get("last_reset_at") else None,
        counters={
            name.removeprefix(COUNTER_PREFIX): int(value)
            for name, value in plain.items()
            if name.startswith(COUNTER_PREFIX)
        },
    )
