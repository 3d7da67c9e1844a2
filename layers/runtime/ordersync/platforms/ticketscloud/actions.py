"""Ticketscloud's actions, as the worker sends them: PATCH of one order, and an export to e-mail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionError, ActionKind
from ordersync.actions.ports import EffectCheck
from ordersync.actions.runner import ActionHandler, parse_payload
from ordersync.platforms.ticketscloud.client import TicketscloudClient
from ordersync.platforms.ticketscloud.models import (
    TicketscloudExportRequest,
    TicketscloudOrder,
    TicketscloudOrderActions,
)


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


def order_actions_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """The PATCH took effect when the order, read by id, shows everything it sets: the customer's fields, the
    vendor data, ``send_tickets``, and a promocode applied (the order lists promocode ids, not codes, so any
    applied promocode counts; a code the platform refused leaves no trace, and sending it again only repeats
    the refusal). Anything missing: ``None``, and the worker sends the PATCH again."""
    actions = parse_payload(TicketscloudOrderActions, action)
    order = client().get_order(str(action.order_id))
    if not _shows(order, actions):
        return None
    return ActionOutcome(
        summary={
            "raw_status": order.status,
            "applied": sorted(actions.model_dump(exclude_none=True)),
            "confirmed_by_read": True,
        }
    )


def _shows(order: TicketscloudOrder, actions: TicketscloudOrderActions) -> bool:
    if actions.customer is not None:
        have = order.settings.customer.model_dump(exclude_none=True) if order.settings.customer else {}
        if any(have.get(key) != value for key, value in actions.customer.model_dump(exclude_none=True).items()):
            return False
    if actions.send_tickets is not None and order.settings.send_tickets != actions.send_tickets:
        return False
    if actions.vendor_data is not None:
        wanted = actions.vendor_data
        if wanted.order_id is not None and order.vendor_data.order_id != wanted.order_id:
            return False
        raw = order.vendor_data.raw or {}
        if wanted.raw is not None and any(raw.get(key) != value for key, value in wanted.raw.items()):
            return False
    return actions.promocodes is None or bool(order.promocodes)


def export(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    request = parse_payload(TicketscloudExportRequest, action)
    client().export_orders(request)
    return ActionOutcome(summary={"email": request.email, "requested": True})


HANDLERS: Mapping[str, ActionHandler] = {
    ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value: order_actions,
    ActionKind.TICKETSCLOUD_EXPORT.value: export,
}
CHECKS: Mapping[str, EffectCheck] = {ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value: order_actions_effect}
"""An export has no check: sending it again at worst e-mails a second export."""
