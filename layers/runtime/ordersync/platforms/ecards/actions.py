"""E-cards' action, as the worker sends it: create an order, without ever creating it twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionKind
from ordersync.actions.ports import EffectCheck
from ordersync.actions.runner import ActionHandler, parse_payload
from ordersync.platforms.ecards.client import EcardsClient
from ordersync.platforms.ecards.models import EcardsCreateOrderRequest, OrderNotFoundError


def create_order(action: Action, client: Callable[[], EcardsClient]) -> ActionOutcome:
    """Within one attempt the client checks the status before it sends the create again; across attempts the
    worker does, through ``create_order_effect`` (an attempt whose outcome is unknown is read back first)."""
    request = parse_payload(EcardsCreateOrderRequest, action)
    result = client().create_order_safely(request)
    return ActionOutcome(
        summary={
            "order_id": str(result.order_id),
            "sends": result.sends,
            "confirmed_by_status": result.confirmed_by_status,
            "raw_status": result.raw_status,
        }
    )


def create_order_effect(action: Action, client: Callable[[], EcardsClient]) -> ActionOutcome | None:
    """The create took effect when the platform knows the order: its status is read (``404``: it does not)."""
    request = parse_payload(EcardsCreateOrderRequest, action)
    order_id = str(request.order_id or action.order_id)
    try:
        status = client().get_order_status(order_id)
    except OrderNotFoundError:
        return None
    return ActionOutcome(summary={"order_id": order_id, "raw_status": status.raw_status, "confirmed_by_status": True})


HANDLERS: Mapping[str, ActionHandler] = {ActionKind.ECARDS_CREATE_ORDER.value: create_order}
CHECKS: Mapping[str, EffectCheck] = {ActionKind.ECARDS_CREATE_ORDER.value: create_order_effect}
