"""Webhooks in ``ordersync local``: the platform simulators call the local API's webhook routes on every order
change (the runtime reads each route's secret from the embedded Secrets Manager), and change events on the bus
are delivered to a subscriber URL (``--subscriber-url``) signed per Standard Webhooks, with retries, as the
template's EventBridge API destination delivers them in AWS.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ordersync.sync.events import ChangeType
from ordersync.webhooks.signing import new_secret, sign_event
from ordersync_tools.local.resources import client

CHANGE_EVENT_TYPES = tuple(change.value for change in ChangeType)  # as the template's default subscription
FAULT_NAMES = frozenset({"lost", "repeated", "repeat_times", "out_of_order", "delay_seconds", "bad_secret"})
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)
"""Seconds between the attempts of one delivery (EventBridge retries with backoff for up to 24 hours)."""


def webhook_secret(endpoint: str, secret_name: str) -> str | None:
    """The ``current`` secret of a platform's webhook URL, as the template's secret holds it in the embedded AWS."""
    sm = client("secretsmanager", endpoint)
    try:
        value = json.loads(sm.get_secret_value(SecretId=secret_name)["SecretString"])
    except Exception:
        return None
    current = value.get("current") if isinstance(value, dict) else None
    return current if isinstance(current, str) and current else None


def parse_faults(text: str | None) -> dict[str, float]:
    """``lost=0.1,repeated=0.2,out_of_order=0.1,bad_secret=0.05`` into a dict (``--webhook-faults``)."""
    faults: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if name.strip() not in FAULT_NAMES:
            raise ValueError(f"unknown webhook fault {name.strip()!r} (known: {', '.join(sorted(FAULT_NAMES))})")
        faults[name.strip()] = float(value)
    return faults


@dataclass
class SubscriberStats:
    delivered: int = 0
    attempts: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    by_type: collections.Counter[str] = field(default_factory=collections.Counter)


class LocalSubscriber:
    """Delivers change events to ``url``: each signed once (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``) and posted until a ``2xx``, at most ``1 + len(retry_delays)`` attempts, then counted as
    dead-lettered. One background thread, events in the order they were published."""

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        event_types: Iterable[str] = CHANGE_EVENT_TYPES,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.secret = secret or new_secret()
        self.event_types = frozenset(event_types)
        self.retry_delays = retry_delays
        self.on_error = on_error
        self.stats = SubscriberStats()
        self._queue: queue.Queue[Mapping[str, Any] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-subscriber", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def offer(self, event: Mapping[str, Any]) -> None:
        """Queue a bus event for delivery when it is a change event of a wanted type."""
        if event.get("source") == "ordersync" and event.get("detail-type") in self.event_types:
            self._queue.put(event)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as http:
            while True:
                event = self._queue.get()
                try:
                    if event is None:
                        return
                    self._deliver(http, event)
                finally:
                    self._queue.task_done()

    def _deliver(self, http: httpx.Client, event: Mapping[str, Any]) -> None:
        delivery = sign_event(event, self.secret, timestamp=int(time.time()))
        for delay in (*self.retry_delays, None):
            self.stats.attempts += 1
            try:
                answer = http.post(self.url, content=delivery.body.encode(), headers=delivery.headers)
                if answer.is_success:
                    self.stats.delivered += 1
                    self.stats.by_type[str(event.get("detail-type"))] += 1
                    return
                reason = f"HTTP {answer.status_code}"
            except httpx.HTTPError as error:
                reason = type(error).__name__
            self.stats.failed_attempts += 1
            if delay is None or self._stopping.wait(delay):
                break
        self.stats.dead_lettered += 1
        if self.on_error is not None:
            self.on_error(f"subscriber: {delivery.message_id} not delivered to {self.url} ({reason})")


def render_webhooks(summary: Mapping[str, Any]) -> list[str]:
    """The live summary's webhook lines (none when nothing webhook-related runs)."""
    lines: list[str] = []
    inbound = summary.get("webhooks")
    if inbound:
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(inbound["answers"].items()))
        lines.append(
            f"webhooks in   sent {inbound['sent']}"
            + (f" ({answers})" if answers else "")
            + (f", lost {inbound['lost']}" if inbound["lost"] else "")
            + f" · orders read {inbound['reads']}, arrived by webhook {inbound['changed']}"
        )
    outbound = summary.get("subscriber")
    if outbound:
        lines.append(
            f"webhooks out  delivered {outbound['delivered']} to {outbound['url']}, "
            f"failed attempts {outbound['failed_attempts']}, dead-lettered {outbound['dead_lettered']}"
        )
    return lines
