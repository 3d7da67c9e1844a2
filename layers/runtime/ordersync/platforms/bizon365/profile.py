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

LIST_PASSES: tuple[Mapping[str, str], ...] = ({}, {"free": "1"})
"""Each window is read twice, without ``free`` and with ``free=1``, and the two merged by ``_id``. Bizon365 leaves
free orders out unless asked for them, and its doc ("show free orders") does not say whether ``free=1`` adds them
to the rest or answers them alone: under either reading the union of the two reads is every order. Reading only
with ``free=1`` would miss every paid order under the second reading; reading once and guessing the reading from
the answer would be wrong for a window that happens to hold free orders only."""

PROFILE = PlatformProfile(
    platform=Platform.BIZON365,
    list_strategy="window",
    page_size=MAX_LIMIT,
    list_passes=LIST_PASSES,
    min_lookback=MIN_LOOKBACK,
    order_id_pattern=r"[0-9]{1,20}",
    order_id_shape="digits",
)


class Settings(PlatformSettings):
    prefix = "BIZON365"

    project_id: str = ""
    token_header: str = "X-Token"  # noqa: S105 - a header name, not a secret
    """The header that carries its token (``Bizon365TokenHeader``): every public client sends ``X-Token``."""


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(environ)


def build_client(config: Settings, token: str, *, timeout_seconds: float) -> PlatformClient:
    from ordersync.platforms.bizon365.client import Bizon365Client
    from ordersync.platforms.http import timeout_of

    return Bizon365Client(
        config.required("base_url"),
        token,
        project_id=config.required("project_id"),
        auth_header=config.token_header,
        timeout=timeout_of(timeout_seconds),
    )
