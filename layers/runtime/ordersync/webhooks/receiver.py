"""The webhook receiver: checks the secret of the URL, reads which order the body names, and queues that order
for a read. It never trusts the body further: a forged body with a valid secret costs at most one extra read.

Answers: ``202`` queued (or coalesced with a read already queued), ``401`` wrong secret, ``400`` a body that is
not JSON or names no order id of the platform's shape, ``404`` a platform without webhooks, ``503`` when the
secret or the queue cannot be reached. Never ``500``: a platform that sees errors may stop calling.

Coalescing: hints of one order are grouped into windows of ``coalesce_seconds``; each window is one queue
message (its deduplication id names the window, and the queue drops repeats), delivered only after the window
has ended (the queue's delay is the window's length), so the one read it causes comes after every hint it
stands for. Within one container, repeats of a window are not even sent (counted as coalesced).
"""

from __future__ import annotations

import hmac
import json
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ordersync.models import Platform, utc_now
from ordersync.platform_port import PlatformProfile
from ordersync.webhooks.models import Receipt, WebhookHint, WebhookOutcome
from ordersync.webhooks.ports import HintQueue, HintReader
from ordersync.webhooks.telemetry import WebhookMetric, count

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

logger = Logger(child=True)

MAX_BODY_BYTES = 1024 * 1024
RECENT_WINDOWS = 10_000
"""How many order windows one container remembers to coalesce locally."""


class WebhookReceiver:
    def __init__(
        self,
        *,
        queue: HintQueue,
        secrets: Callable[[Platform], Sequence[str]],
        readers: Callable[[Platform], HintReader | None],
        profiles: Callable[[Platform], PlatformProfile],
        coalesce_seconds: float = 2.0,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.queue = queue
        self.secrets = secrets
        self.readers = readers
        self.profiles = profiles
        self.coalesce_seconds = max(0.001, coalesce_seconds)
        self.metrics = metrics
        self.clock = clock
        self._recent: OrderedDict[str, str] = OrderedDict()

    def receive(self, platform_name: str, secret: str, body: str | bytes | None) -> Receipt:
        count(self.metrics, WebhookMetric.RECEIVED)
        admitted = self._admit(platform_name, secret, body)
        return admitted if isinstance(admitted, Receipt) else self._queue(admitted)

    def _admit(self, platform_name: str, secret: str, body: str | bytes | None) -> WebhookHint | Receipt:
        """The hint of a call whose platform, secret and body are good; otherwise the refusal."""
        platform = next((p for p in Platform if p.value == platform_name), None)
        reader = self.readers(platform) if platform is not None else None
        if platform is None or reader is None:
            return self._refuse(WebhookOutcome.REFUSED_BODY, 404, f"no webhooks for {platform_name!r}")
        try:
            valid = self.secrets(platform)
        except Exception:
            logger.exception("webhook secret unavailable", extra={"platform": platform.value})
            return self._unavailable()
        if not secret_matches(secret, valid):
            logger.warning("webhook refused: wrong secret", extra={"platform": platform.value})
            return self._refuse(WebhookOutcome.REFUSED_SECRET, 401, "unknown webhook URL")
        return self._hint(platform, reader, body)

    def _queue(self, hint: WebhookHint) -> Receipt:
        window = math.floor(hint.received_at.timestamp() / self.coalesce_seconds)
        coalesce_id = f"{hint.key}:{window}"
        if self._recent.get(hint.key) == coalesce_id:
            count(self.metrics, WebhookMetric.COALESCED)
            return Receipt(WebhookOutcome.COALESCED, 202, "a read of this order is already queued")
        try:
            self.queue.send(hint, coalesce_id=coalesce_id)
        except Exception:
            logger.exception("webhook hint not queued", extra={"order_key": hint.key})
            return self._unavailable()
        self._remember(hint.key, coalesce_id)
        count(self.metrics, WebhookMetric.ACCEPTED)
        logger.info(
            "webhook accepted", extra={"order_key": hint.key, "event_type": hint.event_type, "window": coalesce_id}
        )
        return Receipt(WebhookOutcome.ACCEPTED, 202, "queued for a read of the order")

    def _unavailable(self) -> Receipt:
        count(self.metrics, WebhookMetric.UNAVAILABLE)
        return Receipt(WebhookOutcome.UNAVAILABLE, 503, "try again later")

    def _hint(self, platform: Platform, reader: HintReader, body: str | bytes | None) -> WebhookHint | Receipt:
        if body is None or len(body) > MAX_BODY_BYTES:
            return self._refuse(WebhookOutcome.REFUSED_BODY, 400, "the body must be a JSON object")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._refuse(WebhookOutcome.REFUSED_BODY, 400, "the body is not JSON")
        order_id = reader.order_id_of(document)
        if order_id is None or not self.profiles(platform).is_order_id(order_id):
            return self._refuse(WebhookOutcome.REFUSED_BODY, 400, "the body names no order id")
        return WebhookHint(
            platform=platform,
            order_id=order_id,
            event_type=reader.event_type_of(document),
            received_at=self.clock(),
        )

    def _refuse(self, outcome: WebhookOutcome, status: int, message: str) -> Receipt:
        count(self.metrics, WebhookMetric.REFUSED)
        logger.info("webhook refused", extra={"outcome": outcome.value, "reason": message})
        return Receipt(outcome, status, message)

    def _remember(self, key: str, coalesce_id: str) -> None:
        self._recent[key] = coalesce_id
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT_WINDOWS:
            self._recent.popitem(last=False)


def secret_matches(given: str, valid: Sequence[str]) -> bool:
    """Whether ``given`` is one of the ``valid`` secrets, compared in constant time against every one of them
    (so that neither the match nor which one matched shows in the timing). Empty secrets never match."""
    given_bytes = given.encode()
    matched = False
    for candidate in valid:
        if candidate:
            matched |= hmac.compare_digest(given_bytes, candidate.encode())
    return matched and bool(given)
