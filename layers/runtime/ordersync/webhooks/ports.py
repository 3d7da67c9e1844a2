"""The ports of the webhook services, each defined once: the adapters in ``ordersync.aws`` and the platforms
implement them, the unit tests' fakes substitute them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ordersync.models import Order
from ordersync.webhooks.models import WebhookHint


class HintQueue(Protocol):
    """Queues a hint for one read of its order. ``coalesce_id`` names the window of hints it stands for: a hint
    of the same order with the same id within the queue's deduplication window is dropped by the queue."""

    def send(self, hint: WebhookHint, *, coalesce_id: str) -> None: ...


class WebhookSecrets(Protocol):
    """The secrets a platform's webhook URL may carry now: the current one and, while a rotation lasts, the
    previous one."""

    def valid_secrets(self) -> Sequence[str]: ...


class HintReader(Protocol):
    """A platform's reading of its webhook body: the order id it names, and its event type, or None."""

    def order_id_of(self, body: Any) -> str | None: ...

    def event_type_of(self, body: Any) -> str | None: ...


class OrderFetcher(Protocol):
    """A platform client that reads one order by id (a 404 raises ``PermanentError`` with ``status_code`` 404)."""

    def get_order(self, order_id: str) -> Order: ...
