"""Sends each kind of action to its platform client and reduces the answer to an ``ActionOutcome``.

Clients are built lazily (a worker batch may touch one platform only) and reused across invocations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionError, ActionKind
from ordersync.errors import ValidationFailedError
from ordersync.platforms.ecards import (
    EcardsClient,
    EcardsCreateOrderRequest,
    OrderNotFoundError,
)
from ordersync.platforms.ticketscloud import (
    TicketscloudClient,
    TicketscloudExportRequest,
    TicketscloudOrderActions,
)


class PlatformActionRunner:
    def __init__(
        self,
        *,
        ticketscloud: Callable[[], TicketscloudClient],
        ecards: Callable[[], EcardsClient],
    ) -> None:
        self._ticketscloud_factory = ticketscloud
        self._ecards_factory = ecards
        self._ticketscloud: TicketscloudClient | None = None
        self._ecards: EcardsClient | None = None

    @property
    def ticketscloud(self) -> TicketscloudClient:
        if self._ticketscloud is None:
            self._ticketscloud = self._ticketscloud_factory()
        return self._ticketscloud

    @property
    def ecards(self) -> EcardsClient:
        if self._ecards is None:
            self._ecards = self._ecards_factory()
        return self._ecards

    def run(self, action: Action) -> ActionOutcome:
        match action.kind:
            case ActionKind.TICKETSCLOUD_ORDER_ACTIONS:
                return self._order_actions(action)
            case ActionKind.ECARDS_CREATE_ORDER:
                return self._create_ecards_order(action)
            case ActionKind.TICKETSCLOUD_EXPORT:
                return self._export(action)

    def _order_actions(self, action: Action) -> ActionOutcome:
        actions = _parse(TicketscloudOrderActions, action)
        result = self.ticketscloud.patch_order(str(action.order_id), actions)
        errors = tuple(
            ActionError(code=item.code, message=item.msg or item.code, status_code=200, detail=item.model_dump())
            for item in result.promocode_errors
        )
        summary: dict[str, Any] = {
            "order_status": result.order.status.value,
            "raw_status": result.order.raw_status,
            "applied": sorted(actions.model_dump(exclude_none=True)),
        }
        if actions.promocodes is not None:
            failed = len(errors)
            summary["promocodes"] = {"sent": len(actions.promocodes), "failed": failed}
        return ActionOutcome(summary=summary, errors=errors, order=result.order)

    def _create_ecards_order(self, action: Action) -> ActionOutcome:
        """On a redelivery the order may already exist (the answer to the earlier send was lost): the status
        endpoint is asked first, and the create is sent only when the platform does not know the order."""
        request = _parse(EcardsCreateOrderRequest, action)
        order_id = str(request.order_id or action.order_id)
        if action.attempts > 1:
            try:
                status = self.ecards.get_order_status(order_id)
            except OrderNotFoundError:
                pass
            else:
                return ActionOutcome(
                    summary={"order_id": order_id, "raw_status": status.raw_status, "confirmed_by_status": True}
                )
        result = self.ecards.create_order_safely(request)
        return ActionOutcome(
            summary={
                "order_id": str(result.order_id),
                "sends": result.sends,
                "confirmed_by_status": result.confirmed_by_status,
                "raw_status": result.raw_status,
            }
        )

    def _export(self, action: Action) -> ActionOutcome:
        request = _parse(TicketscloudExportRequest, action)
        self.ticketscloud.export_orders(request)
        return ActionOutcome(summary={"email": request.email, "requested": True})


def _parse[M: (TicketscloudOrderActions, EcardsCreateOrderRequest, TicketscloudExportRequest)](
    model: type[M], action: Action
) -> M:
    """A payload the API accepted but the client refuses now (a model changed between versions) fails for good."""
    try:
        return model.model_validate(action.payload)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise ValidationFailedError(action.platform, field, first["msg"]) from error
