"""Bizon365: its wire models, their mapping to ``Order``, its client, its profile and settings."""

from ordersync.platforms.bizon365.client import (
    Bizon365Client,
)
from ordersync.platforms.bizon365.mapping import (
    to_order,
)
from ordersync.platforms.bizon365.models import (
    DEFAULT_DAYS,
    DEFAULT_RETRY,
    MAX_LIMIT,
    PLATFORM,
    RAW_PAID,
    RAW_PARTIALLY_PAID,
    RAW_UNPAID,
    Bizon365Good,
    Bizon365Order,
    Bizon365OrdersQuery,
    Bizon365OrdersResponse,
    Bizon365PaidFilter,
    Bizon365Payment,
    build_query,
    iso_currency,
)

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_RETRY",
    "MAX_LIMIT",
    "PLATFORM",
    "RAW_PAID",
    "RAW_PARTIALLY_PAID",
    "RAW_UNPAID",
    "Bizon365Client",
    "Bizon365Good",
    "Bizon365Order",
    "Bizon365OrdersQuery",
    "Bizon365OrdersResponse",
    "Bizon365PaidFilter",
    "Bizon365Payment",
    "build_query",
    "iso_currency",
    "to_order",
]
