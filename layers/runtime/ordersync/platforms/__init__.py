"""Platform clients: one folder per partner platform, all behind ``ordersync.platform_port``, and the registry.

Each ``ordersync.platforms.<platform>`` package (named by its ``Platform`` value) holds its wire models
(``models``), their mapping to ``Order`` (``mapping``), its client (``client``), its declaration and settings
(``profile``) and, when it has actions, what sends them (``actions``). The registry below finds a platform's
modules by its ``Platform`` value and imports them on first use, so a cold start imports only the platforms its
function uses.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

from ordersync.models import Platform

if TYPE_CHECKING:
    from ordersync.actions.ports import EffectCheck
    from ordersync.actions.runner import ActionHandler
    from ordersync.config import Settings
    from ordersync.platform_port import PlatformClient, PlatformProfile
    from ordersync.platforms.settings import PlatformSettings

__all__ = [
    "action_handlers",
    "build_client",
    "configured_platforms",
    "effect_checks",
    "environment_names",
    "platform_settings",
    "profile",
    "secret_name",
    "webhook_module",
]


class _ProfileModule(Protocol):
    PROFILE: PlatformProfile
    Settings: type[PlatformSettings]

    def build_client(self, config: Any, token: str, *, timeout_seconds: float) -> PlatformClient: ...


class _WebhookModule(Protocol):
    def order_id_of(self, body: Any) -> str | None: ...

    def event_type_of(self, body: Any) -> str | None: ...

    def fetcher(self, client: Any) -> Any: ...


class _ActionsModule(Protocol):
    HANDLERS: Mapping[str, ActionHandler]


def _package(platform: Platform) -> str:
    return f"{__name__}.{platform.value}"


def _profile_module(platform: Platform) -> _ProfileModule:
    return cast("_ProfileModule", importlib.import_module(f"{_package(platform)}.profile"))


def profile(platform: Platform) -> PlatformProfile:
    """What ``platform`` declares to the pollers: how its list is read, its filters, its look-back..."""
    return _profile_module(platform).PROFILE


def platform_settings(platform: Platform, environ: Mapping[str, str] | None = None) -> PlatformSettings:
    """``platform``'s own settings, from its ``<PLATFORM>_*`` variables of ``environ`` (the process's by default)."""
    return _profile_module(platform).Settings.from_env(environ)


def environment_names(platform: Platform) -> list[str]:
    """The environment variables ``platform`` reads (``template.yaml`` sets them on every function)."""
    return _profile_module(platform).Settings.environment_names()


def configured_platforms(environ: Mapping[str, str] | None = None) -> list[Platform]:
    """The platforms this deployment talks to: those with a base URL."""
    return [platform for platform in Platform if platform_settings(platform, environ).base_url]


def secret_name(platform: Platform, environ: Mapping[str, str] | None = None) -> str:
    """The Secrets Manager name holding ``platform``'s token."""
    return platform_settings(platform, environ).required("secret_name")


def build_client(
    platform: Platform, settings: Settings, token: str, *, environ: Mapping[str, str] | None = None
) -> PlatformClient:
    """The client of ``platform`` pointed at its configured base URL, with ``token`` as its credentials and the
    deployment's HTTP timeout."""
    module = _profile_module(platform)
    return module.build_client(module.Settings.from_env(environ), token, timeout_seconds=settings.http_timeout_seconds)


def action_handlers(platform: Platform) -> Mapping[str, ActionHandler]:
    """What sends each kind of action of ``platform`` (by ``ActionKind`` value); empty when it has none."""
    name = f"{_package(platform)}.actions"
    if importlib.util.find_spec(name) is None:
        return {}
    return cast("_ActionsModule", importlib.import_module(name)).HANDLERS


def effect_checks(platform: Platform) -> Mapping[str, EffectCheck]:
    """How each kind of action of ``platform`` tells whether it already took effect (its ``CHECKS``)."""
    name = f"{_package(platform)}.actions"
    if importlib.util.find_spec(name) is None:
        return {}
    module = importlib.import_module(name)
    checks: Mapping[str, EffectCheck] = getattr(module, "CHECKS", {})
    return checks


def webhook_module(platform: Platform) -> _WebhookModule | None:
    """``platform``'s webhook reading (``platforms.<platform>.webhook``: ``order_id_of``, ``event_type_of`` and
    ``fetcher``, the read of one order by id); None when it sends no webhooks."""
    name = f"{_package(platform)}.webhook"
    if importlib.util.find_spec(name) is None:
        return None
    return cast("_WebhookModule", importlib.import_module(name))
