"""Ticketscloud's actions, as the worker sends them: PATCH of one order, and an export to e-mail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionError, ActionKind
from ordersync.actions.runner import ActionHandler, parse_payload
from ordersync.platforms.ticketscloud.client import TicketscloudClient
from ordersync.platforms.ticketscloud.models import TicketscloudExportRequest, TicketscloudOrderActions


def order_actions(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    actions = parse_payload(TicketscloudOrderActions, action)
    result = client().patch_order(str(action.order_id), actions)
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


def export(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    request = parse_payload(TicketscloudExportRequest, action)
    client().export_orders(request)
    return ActionOutcome(summary={"email": request.email, "requested": True})


HANDLERS: Mapping[str, ActionHandler] = {
    ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value: order_actions,
    ActionKind.TICKETSCLOUD_EXPORT.value: export,
}
