"""Ticketscloud's webhooks: how its notification names an order, and the read of that order by id.

The platform ``POST``s ``{"type": "order_created" | "order_in_progress" | "order_done" | "order_cancelled" |
"order_expired", "data": <the order>}``; no signature scheme is published. Only ``data.id`` is used: the order is
read again from the platform (``read_order``), never taken from the body.
"""

from __future__ import annotations

from typing import Any

from ordersync.models import Order
from ordersync.platforms.ticketscloud.client import TicketscloudClient

EVENT_TYPES = frozenset({"order_created", "order_in_progress", "order_done", "order_cancelled", "order_expired"})


def order_id_of(body: Any) -> str | None:
    """``data.id`` of a notification, when it is a string."""
    data = body.get("data") if isinstance(body, dict) else None
    order_id = data.get("id") if isinstance(data, dict) else None
    return order_id if isinstance(order_id, str) else None


def event_type_of(body: Any) -> str | None:
    """``type`` when it is one the platform sends (kept for the logs only)."""
    value = body.get("type") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value in EVENT_TYPES else None


class OrderByIdReader:
    """``webhooks.ports.OrderFetcher`` over the client: the order as the list poll would map it (same refs,
    same raw record), so that an unchanged order read on a webhook writes nothing."""

    def __init__(self, client: TicketscloudClient) -> None:
        self.client = client

    def get_order(self, order_id: str) -> Order:
        return self.client.fetch_order(order_id)

    def close(self) -> None:
        self.client.close()


def fetcher(client: Any) -> OrderByIdReader:
    """What the webhook consumer reads orders with, from the platform's client."""
    return OrderByIdReader(client)
