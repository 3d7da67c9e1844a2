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
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

    from ordersync.actions.apply import AttemptBudget
    from ordersync.actions.reconcile import ActionReconciler
    from ordersync.actions.runner import PlatformActionRunner
    from ordersync.actions.worker import ActionWorker
    from ordersync.api.resolver import OrdersyncApi
    from ordersync.aws.clients_repository import ClientRepository
    from ordersync.aws.event_publisher import EventPublisher
    from ordersync.aws.orders_repository import OrderRepository
    from ordersync.aws.poll_state_repository import PollStateRepository
    from ordersync.config import Settings
    from ordersync.models import Platform
    from ordersync.platform_port import PlatformClient, PlatformProfile
    from ordersync.sync.engine import PollReport
    from ordersync.sync.events import ChangeEvent
    from ordersync.webhooks.consumer import WebhookConsumer
    from ordersync.webhooks.ports import OrderFetcher
    from ordersync.webhooks.receiver import WebhookReceiver

__all__ = [
    "Settings",
    "action_reconciler",
    "action_worker",
    "api",
    "attempt_budget",
    "change_events",
    "client_repository",
    "configured_platforms",
    "event_publisher",
    "metrics",
    "order_repository",
    "platform_client",
    "platform_profile",
    "poll_orders",
    "poll_refunds",
    "poll_state_repository",
    "poll_statuses",
    "reset",
    "settings",
    "subscriber_secret",
    "webhook_consumer",
    "webhook_receiver",
]


def settings() -> Settings:
    """The process-wide settings (``ordersync.config.settings``: read once per container). Imported on the first
    call, so that importing this module builds no pydantic model: a handler's cold start pays for them only when
    its first invocation needs them."""
    from ordersync import config

    return config.settings()


def __getattr__(name: str) -> Any:
    """``Settings``, still importable from here, imported when asked for."""
    if name == "Settings":
        from ordersync.config import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def poll_refunds(platform: Platform, *, remaining_time_ms: Callable[[], int], run_id: str) -> PollReport:
    """One run of ``platform``'s refund poller (a platform whose profile says ``polls_refunds``)."""
    from ordersync.sync.refund_poll import run_refund_poller

    return _poll(run_refund_poller, platform, remaining_time_ms=remaining_time_ms, run_id=run_id)


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
    from ordersync.aws.orders_repository import OrderRepository

    config = settings()
    # Reads and writes of a batch run on as many threads as the pollers fetch pages with (PollConcurrency).
    return OrderRepository(config.orders_table, write_concurrency=config.poll_concurrency)


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
            # The template sets at least one base URL (its AtLeastOnePlatform rule); none at all is not a deployment
            # of it (a test, a tool) and restricts nothing.
            configured=frozenset(configured_platforms()) or None,
        )
    )


@cache
def action_worker() -> ActionWorker:
    """The queue worker: applies each action with the platform clients, which it builds on first use."""
    from ordersync.actions.apply import ActionApplier
    from ordersync.actions.worker import ActionWorker
    from ordersync.aws.action_queue import ActionQueue
    from ordersync.aws.actions_repository import ActionRepository

    config = settings()
    queue = ActionQueue(config.actions_queue_url, dead_letter_queue_url=config.actions_dead_letter_queue_url)
    applier = ActionApplier(
        ActionRepository(config.actions_table),
        _action_runner(),
        order_repository() if config.orders_table else None,
        budget=attempt_budget(),
        queue=queue,
        metrics=metrics(),
    )
    return ActionWorker(applier, min_remaining_ms=int(config.http_timeout_seconds * 1000) + 5_000, queue=queue)


def attempt_budget() -> AttemptBudget:
    """The actions' attempt budget and backoff, from ``ACTION_*``."""
    from ordersync.actions.apply import AttemptBudget

    config = settings()
    return AttemptBudget(
        max_attempts=config.action_max_attempts,
        base_seconds=config.action_retry_base_seconds,
        max_seconds=config.action_retry_max_seconds,
    )


def _action_runner() -> PlatformActionRunner:
    from ordersync import platforms
    from ordersync.actions.runner import PlatformActionRunner

    return PlatformActionRunner(
        clients=_typed_client, handlers=platforms.action_handlers, checks=platforms.effect_checks
    )


@cache
def action_reconciler() -> ActionReconciler:
    """The reconciler: overdue actions read back on their platform, then finished or queued again."""
    from ordersync.actions.reconcile import ActionReconciler
    from ordersync.aws.action_queue import ActionQueue
    from ordersync.aws.actions_repository import ActionRepository

    config = settings()
    return ActionReconciler(
        ActionRepository(config.actions_table),
        _action_runner(),
        ActionQueue(config.actions_queue_url),
        budget=attempt_budget(),
        metrics=metrics(),
    )


def _typed_client(platform: Platform) -> Any:
    """The platforms' action handlers want their concrete client classes (actions are not on ``PlatformClient``)."""
    return platform_client(platform)


def reset() -> None:
    """Forget the settings and everything built from them (tests that change the environment call this)."""
    from ordersync import config

    config.settings.cache_clear()
    for cached in (metrics, order_repository, poll_state_repository, event_publisher, client_repository):
        cached.cache_clear()
    change_events.cache_clear()
    api.cache_clear()
    action_worker.cache_clear()
    action_reconciler.cache_clear()
    webhook_receiver.cache_clear()
    webhook_consumer.cache_clear()
    _webhook_fetcher.cache_clear()


# -- webhooks ----------------------------------------------------------------------------------------------
@cache
def webhook_receiver() -> WebhookReceiver:
    """The webhook route's service: secret check, body reading and queueing, per platform with webhooks."""
    from ordersync import platforms
    from ordersync.aws.webhook_queue import WebhookQueue
    from ordersync.webhooks.receiver import WebhookReceiver

    config = settings()
    return WebhookReceiver(
        queue=WebhookQueue(config.webhook_queue_url),
        secrets=_webhook_secrets,
        readers=_configured_webhook_module,
        profiles=platforms.profile,
        coalesce_seconds=config.webhook_coalesce_seconds,
        metrics=metrics(),
    )


def _configured_webhook_module(platform: Platform) -> Any:
    """The platform's webhook reading, or None when it sends none or is left out of this deployment (404)."""
    from ordersync import platforms

    configured = configured_platforms()
    if configured and platform not in configured:
        return None
    return platforms.webhook_module(platform)


def _webhook_secrets(platform: Platform) -> tuple[str, ...]:
    from ordersync import platforms
    from ordersync.aws.secrets import webhook_secrets

    name = str(getattr(platforms.platform_settings(platform), "webhook_secret_name", ""))
    return webhook_secrets(name) if name else ()


@cache
def webhook_consumer() -> WebhookConsumer:
    """The hints queue's consumer: reads each hinted order by id, writes it like a poll. Its platform clients
    are built on first use and kept for the container."""
    from ordersync.webhooks.consumer import WebhookConsumer

    return WebhookConsumer(fetchers=_webhook_fetcher, store=order_repository(), metrics=metrics())


@cache
def _webhook_fetcher(platform: Platform) -> OrderFetcher:
    from ordersync import platforms

    module = platforms.webhook_module(platform)
    if module is None:
        raise ValueError(f"{platform.value} sends no webhooks")
    fetcher: OrderFetcher = module.fetcher(platform_client(platform))
    return fetcher


def subscriber_secret() -> str:
    """The signing secret of the partner subscription (``whsec_...``), from Secrets Manager."""
    from ordersync.aws.secrets import subscriber_signing_secret

    return subscriber_signing_secret(settings().subscriber_secret_name)
