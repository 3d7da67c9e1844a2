"""Publishes change events to the ordersync EventBridge bus.

``PutEvents`` takes ten entries a call and can fail some entries of a call that succeeds: those entries are
sent again with backoff, and if they still fail ``PublishError`` is raised so that the stream batch is
retried. An event is never dropped; it may be published twice, which is why events carry a version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger

from ordersync.backoff import Backoff
from ordersync.sync.events import ChangeEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

logger = Logger(child=True)

PUT_EVENTS_LIMIT = 10


class PublishError(RuntimeError):
    """Some events could not be published after every attempt."""

    def __init__(self, failed: Sequence[dict[str, Any]]) -> None:
        codes = sorted({str(entry.get("ErrorCode")) for entry in failed})
        super().__init__(f"{len(failed)} event(s) not published: {', '.join(codes)}")
        self.failed = list(failed)


class EventPublisher:
    """``publish(events)`` sends every event or raises ``PublishError``."""

    def __init__(
        self,
        bus_name: str,
        *,
        events_client: EventBridgeClient | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bus_name = bus_name
        self._client: EventBridgeClient = events_client or boto3.client("events")
        self._backoff = Backoff(attempts=max(1, max_attempts), base=base_delay, cap=max_delay)
        self._sleep = sleep

    def publish(self, events: Sequence[ChangeEvent]) -> int:
        """Publish ``events`` in calls of ten; returns how many were published."""
        entries = [event.entry(self.bus_name) for event in events]
        for start in range(0, len(entries), PUT_EVENTS_LIMIT):
            self._put(entries[start : start + PUT_EVENTS_LIMIT])
        return len(entries)

    def _put(self, entries: list[dict[str, Any]]) -> None:
        pending = entries
        failed: list[dict[str, Any]] = []
        for attempt in range(1, self._backoff.attempts + 1):
            response = self._client.put_events(Entries=pending)  # type: ignore[arg-type]
            if not response.get("FailedEntryCount"):
                return
            results = response.get("Entries", [])
            failed = [dict(result) for result in results if result.get("ErrorCode")]
            pending = [entry for entry, result in zip(pending, results, strict=True) if result.get("ErrorCode")]
            codes = sorted({str(result.get("ErrorCode")) for result in failed})
            logger.warning(
                "some events were not accepted; sending them again",
                extra={"failed": len(pending), "attempt": attempt, "codes": codes},
            )
            self._backoff.pause(attempt, self._sleep)
        raise PublishError(failed)
