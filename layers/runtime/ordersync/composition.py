"""The composition root: the one place that reads the environment and builds every client, repository and
service the handlers use.

Handlers in ``functions/<name>/app.py`` call these builders and nothing else. Each builder is cached, so a Lambda
container builds its boto3 and httpx clients once and reuses them across invocations, and imports lazily, so a
cold start pays only for what its own handler uses. Platform clients are built one way for every caller (the
pollers, the status poller and the action worker): same timeouts, same token lookup, same checks. Everything
platform-specific comes through the registry of ``ordersync.platforms``: this module names no platform.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from ordersync.config import Settings, settings
from ordersync.models import Platform

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from ordersync.actions.worker import ActionWorker
    from ordersync.api.resolver import OrdersyncApi
    from ordersync.aws.clients_repository import ClientRepository
    from ordersync.aws.event_publisher import EventPublisher
    from ordersync.aws.orders_repository import OrderRepository
    from ordersync.aws.poll_state_repository import PollStateRepository
    from ordersync.platform_port import PlatformClient, PlatformProfile
    from ordersync.sync.engine import PollReport
    from ordersync.sync.events import ChangeEvent

__all__ = [
    "Settings",
    "action_worker",
    "api",
    "change_events",
    "client_repository",
    "configured_platforms",
    "event_publisher",
    "metrics",
    "order_repository",
    "platform_client",
    "platform_profile",
    "poll_orders",
    "poll_state_repository",
    "poll_statuses",
    "reset",
    "settings",
]


def configured_platforms() -> list[Platform]:
    """The platforms this deployment talks to: those with a base URL."""
    from ordersync import platforms

    return platforms.configured_platforms()


def platform_profile(platform: Platform) -> PlatformProfile:
    """What ``platform`` declares to the pollers (how its list is read, its filters, its look-back...)."""
    from ordersync import platforms

    return platforms.profile(platform)


def platform_client(platform: Platform) -> PlatformClient:
    """A new client of ``platform`` with its token from Secrets Manager (cached by Powertools parameters).

    Not cached: a poller closes its client at the end of each run; the worker keeps its own for the container.
    """
    from ordersync import platforms
    from ordersync.aws.secrets import platform_token

    return platforms.build_client(platform, settings(), platform_token(platforms.secret_name(platform)))


def poll_orders(platform: Platform, *, remaining_time_ms: Callable[[], int], run_id: str) -> PollReport:
    """One run of ``platform``'s list poller, with its profile and a client closed at the end of the run."""
    from ordersync.sync.engine import run_poller

    return _poll(run_poller, platform, remaining_time_ms=remaining_time_ms, run_id=run_id)


def poll_statuses(platform: Platform, *, remaining_time_ms: Callable[[], int], run_id: str) -> PollReport:
    """One run of the status poller for ``platform``, with its profile and a client closed at the end of the run."""
    from ordersync.sync.status import run_status_poller

    return _poll(run_status_poller, platform, remaining_time_ms=remaining_time_ms, run_id=run_id)


def _poll(
    runner: Callable[..., PollReport], platform: Platform, *, remaining_time_ms: Callable[[], int], run_id: str
) -> PollReport:
    client = platform_client(platform)
    try:
        return runner(
            platform_profile(platform),
            settings=settings(),
            client=client,
            repository=order_repository(),
            state_repository=poll_state_repository(),
            remaining_time_ms=remaining_time_ms,
            run_id=run_id,
        )
    finally:
        client.close()


@cache
def metrics() -> Metrics:
    """The functions' metrics, with the namespace set here: Powertools flushes by itself after 100 values of a
    metric (when a handler's ``log_metrics`` is not there yet) and needs a namespace to do it."""
    from aws_lambda_powertools import Metrics

    from ordersync.actions.telemetry import NAMESPACE

    return Metrics(namespace=NAMESPACE)


@cache
def order_repository() -> OrderRepository:
    from ordersync import platforms
    from ordersync.aws.orders_repository import OrderRepository
    from ordersync.sync.records import RefundWatch

    config = settings()
    watch = RefundWatch(timedelta(days=config.refund_watch_days), still_moving=platforms.still_moving())
    # Reads and writes of a batch run on as many threads as the pollers fetch pages with (PollConcurrency).
    return OrderRepository(config.orders_table, refund_watch=watch, write_concurrency=config.poll_concurrency)


@cache
def poll_state_repository() -> PollStateRepository:
    from ordersync.aws.poll_state_repository import PollStateRepository

    return PollStateRepository(settings().poll_state_table)


@cache
def event_publisher() -> EventPublisher:
    from ordersync.aws.event_publisher import EventPublisher

    return EventPublisher(settings().event_bus_name)


@cache
def change_events() -> Callable[[DynamoDBRecord], ChangeEvent | None]:
    """What turns one stream record into its change event, at the configured ``EVENT_DETAIL``."""
    from functools import partial

    from ordersync.sync.events import EventDetail, record_to_event

    return partial(record_to_event, detail_level=EventDetail(settings().event_detail))


@cache
def client_repository() -> ClientRepository:
    from ordersync.aws.clients_repository import ClientRepository

    return ClientRepository(settings().clients_table)


@cache
def api() -> OrdersyncApi:
    """The REST API's resolver with the acceptor, the stores and idempotency behind it."""
    from ordersync.actions.accept import ActionAcceptor
    from ordersync.api.idempotency import IdempotentAcceptance
    from ordersync.api.resolver import ApiServices, OrdersyncApi
    from ordersync.aws.action_queue import ActionQueue
    from ordersync.aws.actions_repository import ActionRepository

    config = settings()
    actions = ActionRepository(config.actions_table)
    return OrdersyncApi(
        ApiServices(
            acceptor=ActionAcceptor(actions, ActionQueue(config.actions_queue_url), metrics=metrics()),
            actions=actions,
            orders=order_repository() if config.orders_table else None,
            idempotency=IdempotentAcceptance(config.idempotency_table) if config.idempotency_table else None,
        )
    )


@cache
def action_worker() -> ActionWorker:
    """The queue worker: applies each action with the platform clients, which it builds on first use."""
    from ordersync import platforms
    from ordersync.actions.apply import ActionApplier
    from ordersync.actions.runner import PlatformActionRunner
    from ordersync.actions.worker import ActionWorker
    from ordersync.aws.actions_repository import ActionRepository

    config = settings()
    runner = PlatformActionRunner(clients=_typed_client, handlers=platforms.action_handlers)
    applier = ActionApplier(
        ActionRepository(config.actions_table),
        runner,
        order_repository() if config.orders_table else None,
        max_receive_count=config.actions_max_receive_count,
        metrics=metrics(),
    )
    return ActionWorker(applier, min_remaining_ms=int(config.http_timeout_seconds * 1000) + 5_000)


def _typed_client(platform: Platform) -> Any:
    """The platforms' action handlers want their concrete client classes (actions are not on ``PlatformClient``)."""
    return platform_client(platform)


def reset() -> None:
    """Forget the settings and everything built from them (tests that change the environment call this)."""
    for cached in (settings, metrics, order_repository, poll_state_repository, event_publisher, client_repository):
        cached.cache_clear()
    change_events.cache_clear()
    api.cache_clear()
    action_worker.cache_clear()
