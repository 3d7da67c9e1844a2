"""E-cards' action, as the worker sends it: create an order, without ever creating it twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionKind
from ordersync.actions.runner import ActionHandler, parse_payload
from ordersync.platforms.ecards.client import EcardsClient
from ordersync.platforms.ecards.models import EcardsCreateOrderRequest, OrderNotFoundError


def create_order(action: Action, client: Callable[[], EcardsClient]) -> ActionOutcome:
    """On a redelivery the order may already exist (the answer to the earlier send was lost): the status
    endpoint is asked first, and the create is sent only when the platform does not know the order."""
    request = parse_payload(EcardsCreateOrderRequest, action)
    order_id = str(request.order_id or action.order_id)
    if action.attempts > 1:
        try:
            status = client().get_order_status(order_id)
        except OrderNotFoundError:
            pass
        else:
            return ActionOutcome(
                summary={"order_id": order_id, "raw_status": status.raw_status, "confirmed_by_status": True}
            )
    result = client().create_order_safely(request)
    return ActionOutcome(
        summary={
            "order_id": str(result.order_id),
            "sends": result.sends,
            "confirmed_by_status": result.confirmed_by_status,
            "raw_status": result.raw_status,
        }
    )


HANDLERS: Mapping[str, ActionHandler] = {ActionKind.ECARDS_CREATE_ORDER.value: create_order}
