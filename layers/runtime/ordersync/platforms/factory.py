"""Builds the client of a platform from the settings, so that handlers and the local runtime agree."""

from __future__ import annotations

import httpx

from ordersync.config import Settings
from ordersync.models import Platform
from ordersync.platforms.base import PlatformClient


def build_client(platform: Platform, settings: Settings, token: str) -> PlatformClient:
    """The client of ``platform`` pointed at its configured base URL, with ``token`` as its credentials."""
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=min(3.0, settings.http_timeout_seconds))
    match platform:
        case Platform.TICKETSCLOUD:
            from ordersync.platforms.ticketscloud import TicketscloudClient

            return TicketscloudClient(
                _required(settings.ticketscloud_base_url, "TICKETSCLOUD_BASE_URL"),
                token,
                timezone=settings.ticketscloud_timezone,
                timeout=timeout,
            )
        case Platform.BIZON365:
            from ordersync.platforms.bizon365 import Bizon365Client

            return Bizon365Client(
                _required(settings.bizon365_base_url, "BIZON365_BASE_URL"),
                token,
                project_id=_required(settings.bizon365_project_id, "BIZON365_PROJECT_ID"),
                timeout=timeout,
            )
        case Platform.ECARDS:
            from ordersync.platforms.ecards import EcardsClient

            return EcardsClient(_required(settings.ecards_base_url, "ECARDS_BASE_URL"), token, timeout=timeout)


def base_url_of(platform: Platform, settings: Settings) -> str:
    """``platform``'s base URL; empty when this deployment does not talk to it."""
    urls = {
        Platform.TICKETSCLOUD: settings.ticketscloud_base_url,
        Platform.BIZON365: settings.bizon365_base_url,
        Platform.ECARDS: settings.ecards_base_url,
    }
    return urls[platform]


def secret_name_of(platform: Platform, settings: Settings) -> str:
    """The Secrets Manager name holding ``platform``'s token."""
    names = {
        Platform.TICKETSCLOUD: settings.ticketscloud_secret_name,
        Platform.BIZON365: settings.bizon365_secret_name,
        Platform.ECARDS: settings.ecards_secret_name,
    }
    return _required(names[platform], f"{platform.value.upper()}_SECRET_NAME")


def _required(value: str, variable: str) -> str:
    if not value:
        raise ValueError(f"environment variable {variable} is not set")
    return value
