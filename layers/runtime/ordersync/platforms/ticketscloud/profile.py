"""Ticketscloud's declaration for the pollers and its settings (``TICKETSCLOUD_*``)."""

from __future__ import annotations

from collections.abc import Mapping

from ordersync.models import Platform
from ordersync.platform_port import PlatformClient, PlatformProfile
from ordersync.platforms.settings import PlatformSettings
from ordersync.platforms.ticketscloud.models import MAX_PAGE_SIZE

PROFILE = PlatformProfile(
    platform=Platform.TICKETSCLOUD,
    list_strategy="window",
    page_size=MAX_PAGE_SIZE,
    end_of_list="empty_page",
    reads_order_by_id_when_cheaper=True,
    polls_refunds=True,
    order_id_pattern=r"[0-9a-f]{24}",
    order_id_shape="24 lowercase hexadecimal characters",
)
"""Its list filters on creation times. A refund is a refund request of its own (``/v2/resources/refund_requests``)
and the order stays ``done``: the refund poller reads them (``polls_refunds``).
Its ``pagination`` is only a hint (live pages shorter than asked that are not the last, ``pagination`` missing or
counting only its page): a window is read until an empty page. It answers one order at
``GET /v2/resources/orders/:id``, which the status poller uses when that takes fewer requests than the windows."""


class Settings(PlatformSettings):
    prefix = "TICKETSCLOUD"

    timezone: str = "Europe/Moscow"
    """The zone of its zone-less wall-clock times."""
    webhook_secret_name: str = ""
    """The Secrets Manager name holding its webhook URL's secrets (JSON ``{"current": ..., "previous": ...}``)."""


def settings(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings.from_env(environ)


def build_client(config: Settings, token: str, *, timeout_seconds: float) -> PlatformClient:
    from ordersync.platforms.http import timeout_of
    from ordersync.platforms.ticketscloud.client import TicketscloudClient

    return TicketscloudClient(
        config.required("base_url"), token, timezone=config.timezone, timeout=timeout_of(timeout_seconds)
    )
