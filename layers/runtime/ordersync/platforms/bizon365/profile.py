"""Bizon365's declaration for the pollers and its settings (``BIZON365_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from ordersync.models import Platform
from ordersync.platform_port import PlatformClient, PlatformProfile
from ordersync.platforms.bizon365.models import MAX_LIMIT
from ordersync.platforms.settings import PlatformSettings

MIN_LOOKBACK = timedelta(days=3)
"""Bizon365 orders are paid late (bank transfers, instalments): its window always looks back this far. Later
payments of orders still open are found by the status poller, so the window need not cover them all."""

LIST_FILTERS = {"free": "1"}
"""Filters every list read sends: Bizon365 leaves free orders out unless asked for them."""

PROFILE = PlatformProfile(
    platform=Platform.BIZON365,
    list_strategy="window",
    page_size=MAX_LIMIT,
    list_filters=LIST_FILTERS,
    min_lookback=MIN_LOOKBACK,
    order_id_pattern=r"[0-9]{1,20}",
    order_id_shape="digits",
)


class Settings(PlatformSettings):
    prefix = "BIZON365"

    project_id: str = ""


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(environ)


def build_client(config: Settings, token: str, *, timeout_seconds: float) -> PlatformClient:
    from ordersync.platforms.bizon365.client import Bizon365Client
    from ordersync.platforms.http import timeout_of

    return Bizon365Client(
        config.required("base_url"),
        token,
        project_id=config.required("project_id"),
        timeout=timeout_of(timeout_seconds),
    )
