"""E-cards' declaration for the pollers and its settings (``ECARDS_*``)."""

from __future__ import annotations

from collections.abc import Mapping

from ordersync.models import Platform
from ordersync.platform_port import PlatformClient, PlatformProfile
from ordersync.platforms.ecards.models import PAGE_SIZE
from ordersync.platforms.settings import PlatformSettings

PROFILE = PlatformProfile(
    platform=Platform.ECARDS,
    list_strategy="newest_first_scan",
    page_size=PAGE_SIZE,
    reads_status_by_id=True,
    order_id_pattern=r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    order_id_shape="a uuid",
)
"""Its list has no filters and shifts as orders arrive; it answers one order's status at
``GET /v1/orders/{id}/status``."""


class Settings(PlatformSettings):
    prefix = "ECARDS"

    timezone: str = "Europe/Moscow"
    """The zone of its zone-less times (``EcardsTimezone``)."""


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(environ)


def build_client(config: Settings, token: str, *, timeout_seconds: float) -> PlatformClient:
    from ordersync.platforms.ecards.client import EcardsClient
    from ordersync.platforms.http import timeout_of

    return EcardsClient(
        config.required("base_url"), token, timezone=config.timezone, timeout=timeout_of(timeout_seconds)
    )
