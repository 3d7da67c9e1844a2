"""What the read-path handlers share: a platform's client with its token, and the adapters built once per
Lambda container (boto3 clients are reused across invocations)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from ordersync import config
from ordersync.config import Settings
from ordersync.models import Platform

if TYPE_CHECKING:
    from ordersync.aws.event_publisher import EventPublisher
    from ordersync.aws.orders_repository import OrderRepository
    from ordersync.aws.poll_state_repository import PollStateRepository
    from ordersync.platforms.base import PlatformClient


def base_url_for(platform: Platform, settings: Settings) -> str:
    urls = {
        Platform.TICKETSCLOUD: settings.ticketscloud_base_url,
        Platform.BIZON365: settings.bizon365_base_url,
        Platform.ECARDS: settings.ecards_base_url,
    }
    return urls[platform]


def open_client(platform: Platform, settings: Settings) -> PlatformClient:
    """A client for ``platform`` with its token from Secrets Manager (cached by Powertools parameters)."""
    from ordersync.aws.secrets import platform_token
    from ordersync.platforms.factory import build_client, secret_name_of

    return build_client(platform, settings, platform_token(secret_name_of(platform, settings)))


@cache
def order_repository(table_name: str) -> OrderRepository:
    from ordersync.aws.orders_repository import OrderRepository

    return OrderRepository(table_name, refund_watch=timedelta(days=config.settings().refund_watch_days))


@cache
def poll_state_repository(table_name: str) -> PollStateRepository:
    from ordersync.aws.poll_state_repository import PollStateRepository

    return PollStateRepository(table_name)


@cache
def event_publisher(bus_name: str) -> EventPublisher:
    from ordersync.aws.event_publisher import EventPublisher

    return EventPublisher(bus_name)
