"""Sends each kind of action to its platform and reduces the answer to an ``ActionOutcome``.

What sends a kind is the platform's (``ordersync.platforms.<platform>.actions``): the runner is given, by the
composition root, where to find the handlers of a platform and how to build its client. Clients are built lazily
(a worker batch may touch one platform only) and reused across invocations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action
from ordersync.actions.ports import EffectCheck
from ordersync.errors import ValidationFailedError
from ordersync.models import Platform

type ActionHandler = Callable[[Action, Callable[[], Any]], ActionOutcome]
"""Sends one action: given the action and a getter of its platform's client (built on first use)."""


class PlatformActionRunner:
    def __init__(
        self,
        *,
        clients: Callable[[Platform], Any],
        handlers: Callable[[Platform], Mapping[str, ActionHandler]],
        checks: Callable[[Platform], Mapping[str, EffectCheck]] | None = None,
    ) -> None:
        self._client_factory = clients
        self._handlers_of = handlers
        self._checks_of = checks
        self._clients: dict[Platform, Any] = {}

    def client(self, platform: Platform) -> Any:
        if platform not in self._clients:
            self._clients[platform] = self._client_factory(platform)
        return self._clients[platform]

    def run(self, action: Action) -> ActionOutcome:
        platform = action.kind.platform
        handler = self._handlers_of(platform)[action.kind.value]
        return handler(action, lambda: self.client(platform))

    def check(self, action: Action) -> ActionOutcome | None:
        """Read whether the action already took effect (its kind's ``EffectCheck``); ``None`` without one."""
        platform = action.kind.platform
        check = None if self._checks_of is None else self._checks_of(platform).get(action.kind.value)
        return None if check is None else check(action, lambda: self.client(platform))


def parse_payload[M: BaseModel](model: type[M], action: Action) -> M:
    """A payload the API accepted but the client refuses now (a model changed between versions) fails for good."""
    try:
        return model.model_validate(action.payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationFailedError(action.platform, field, first["msg"]) from error
