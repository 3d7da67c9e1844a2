"""What the write-path handlers build once per Lambda container: the API, the authorizer's client lookup and
the queue worker, wired to the tables, the queue and the platforms named by the environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from ordersync.config import Settings, settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from ordersync.actions.worker import ActionWorker
    from ordersync.api.resolver import OrdersyncApi
    from ordersync.aws.clients_repository import ClientRepository
    from ordersync.platforms.ecards import EcardsClient
    from ordersync.platforms.ticketscloud import TicketscloudClient


@cache
def metrics() -> Metrics:
    """The functions' metrics, with the namespace set here: Powertools flushes by itself after 100 values of a
    metric (when a handler's ``log_metrics`` is not there yet) and needs a namespace to do it."""
    from aws_lambda_powertools import Metrics

    from ordersync.actions.telemetry import NAMESPACE

    return Metrics(namespace=NAMESPACE)


@cache
def api_handler() -> OrdersyncApi:
    # Imported here: a cold start pays only for what the handler of this function uses.
    from ordersync.actions.accept import ActionAcceptor
    from ordersync.api.idempotency import IdempotentAcceptance
    from ordersync.api.resolver import ApiServices, OrdersyncApi
    from ordersync.aws.action_queue import ActionQueue
    from ordersync.aws.actions_repository import ActionRepository
    from ordersync.aws.orders_repository import OrderRepository

    config = settings()
    actions = ActionRepository(config.actions_table)
    return OrdersyncApi(
        ApiServices(
            acceptor=ActionAcceptor(actions, ActionQueue(config.actions_queue_url), metrics=metrics()),
            actions=actions,
            orders=OrderRepository(config.orders_table, refund_watch=timedelta(days=config.refund_watch_days))
            if config.orders_table
            else None,
            idempotency=IdempotentAcceptance(config.idempotency_table) if config.idempotency_table else None,
        )
    )


@cache
def client_repository() -> ClientRepository:
    from ordersync.aws.clients_repository import ClientRepository

    return ClientRepository(settings().clients_table)


def ticketscloud_client(config: Settings) -> TicketscloudClient:
    from ordersync.aws.secrets import platform_token
    from ordersync.platforms.ticketscloud import TicketscloudClient

    return TicketscloudClient(
        config.ticketscloud_base_url,
        platform_token(config.ticketscloud_secret_name),
        timezone=config.ticketscloud_timezone,
        timeout=config.http_timeout_seconds,
    )


def ecards_client(config: Settings) -> EcardsClient:
    from ordersync.aws.secrets import platform_token
    from ordersync.platforms.ecards import EcardsClient

    return EcardsClient(
        config.ecards_base_url, platform_token(config.ecards_secret_name), timeout=config.http_timeout_seconds
    )


@cache
def action_worker() -> ActionWorker:
    from ordersync.actions.apply import ActionApplier
    from ordersync.actions.runner import PlatformActionRunner
    from ordersync.actions.worker import ActionWorker
    from ordersync.aws.actions_repository import ActionRepository
    from ordersync.aws.orders_repository import OrderRepository

    config = settings()
    runner = PlatformActionRunner(
        ticketscloud=lambda: ticketscloud_client(config), ecards=lambda: ecards_client(config)
    )
    applier = ActionApplier(
        ActionRepository(config.actions_table),
        runner,
        OrderRepository(config.orders_table, refund_watch=timedelta(days=config.refund_watch_days))
        if config.orders_table
        else None,
        max_receive_count=config.actions_max_receive_count,
        metrics=metrics(),
    )
    return ActionWorker(applier, min_remaining_ms=int(config.http_timeout_seconds * 1000) + 5_000)
