"""Ticketscloud's actions, as the worker sends them: PATCH of one order, an export to e-mail, and the reseller's
order lifecycle (create, reservation and tariffs, finish or cancel, refund requests and their decisions), each
with its effect check: how to tell, after an unknown outcome, whether it already took effect."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionError, ActionKind
from ordersync.actions.ports import EffectCheck
from ordersync.actions.runner import ActionHandler, parse_payload
from ordersync.errors import PermanentError
from ordersync.models import Order, RefundRequest, RefundStatus, utc_now
from ordersync.platform_port import RefundQuery
from ordersync.platforms.ticketscloud.client import TicketscloudClient
from ordersync.platforms.ticketscloud.models import (
    ACTION_REFERENCE_KEY,
    MAX_PAGE_SIZE,
    TicketscloudCreateOrder,
    TicketscloudExportRequest,
    TicketscloudOrder,
    TicketscloudOrderActions,
    TicketscloudOrderFilters,
    TicketscloudPatchResult,
    TicketscloudRefundCreate,
    TicketscloudRefundDecisionAction,
    TicketscloudRefundRequest,
    TicketscloudReservationChange,
    TicketscloudStatusChange,
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


# -- the order lifecycle -------------------------------------------------------------------------------------

LOOKUP_MARGIN = timedelta(minutes=10)
"""How far before its acceptance a create's order is looked for: the platform's clock (Moscow wall time, whole
seconds) may run behind ordersync's."""
MAX_LOOKUP_PAGES = 50


def _order_summary(result: TicketscloudPatchResult, **extra: Any) -> dict[str, Any]:
    order = result.order
    summary: dict[str, Any] = {
        "order_id": order.order_id,
        "order_status": order.status.value,
        "raw_status": order.raw_status,
        "tickets": _ticket_ids(order),
    }
    if result.raw is not None and result.raw.expired_after is not None:
        summary["expired_after"] = result.raw.expired_after
    return summary | extra


def _ticket_ids(order: Order) -> list[str]:
    tickets = order.raw.get("tickets") if isinstance(order.raw, dict) else None
    return [str(ticket["id"]) for ticket in tickets or [] if isinstance(ticket, dict) and "id" in ticket]


def create_order(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    """``POST /v2/resources/orders`` with the action's id in ``vendor_data.raw`` (the lookup key of its check)."""
    request = parse_payload(TicketscloudCreateOrder, action)
    result = _refused(lambda: client().create_order(request.create_body(action.action_id)))
    return ActionOutcome(summary=_order_summary(result), order=result.order, order_id=result.order.order_id)


def create_order_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """The create took effect when an order of its event, created since shortly before the action was accepted,
    carries the action's id in ``vendor_data.raw``: read page after page until an empty one (the list's
    ``pagination`` is not to be trusted). None found: the create never landed, and sending it again is safe.
    (An order that landed but was never paid expires by itself after about 15 minutes, so even a miss here
    costs a reservation, never a sale.)"""
    request = parse_payload(TicketscloudCreateOrder, action)
    tc = client()
    filters = TicketscloudOrderFilters(
        created_from=action.accepted_at - LOOKUP_MARGIN, created_to=utc_now() + LOOKUP_MARGIN, events=(request.event,)
    )
    for page in range(1, MAX_LOOKUP_PAGES + 1):
        found = tc.search_orders(filters, page=page, page_size=MAX_PAGE_SIZE)
        if not found.orders and not found.quarantined:
            return None
        for order in found.orders:
            raw = ((order.raw.get("vendor_data") or {}).get("raw") or {}) if isinstance(order.raw, dict) else {}
            if raw.get(ACTION_REFERENCE_KEY) == action.action_id:
                summary = {
                    "order_id": order.order_id,
                    "order_status": order.status.value,
                    "raw_status": order.raw_status,
                    "tickets": _ticket_ids(order),
                    "confirmed_by_read": True,
                }
                return ActionOutcome(summary=summary, order=order, order_id=order.order_id)
    return None


def change_reservation(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    change = parse_payload(TicketscloudReservationChange, action)
    result = _refused(lambda: client().change_order(str(action.order_id), change.patch_body()))
    return ActionOutcome(summary=_order_summary(result, applied=sorted(change.patch_body())), order=result.order)


def change_reservation_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """Took effect when the order holds exactly the tickets sent (``tickets``), or the counts per set sent
    (``random``), and each ticket of ``tariffs`` has its tariff."""
    change = parse_payload(TicketscloudReservationChange, action)
    order = client().get_order(str(action.order_id))
    held = [ticket.id for ticket in order.tickets]
    if change.tickets is not None and sorted(held) != sorted(change.tickets):
        return None
    if change.random is not None and Counter(ticket.set for ticket in order.tickets) != Counter(change.random):
        return None
    if change.tariffs is not None:
        tariffs = {ticket.id: (ticket.model_extra or {}).get("tariff") for ticket in order.tickets}
        if any(tariffs.get(ticket) != tariff for ticket, tariff in change.tariffs.items()):
            return None
    summary = {"order_id": order.id, "raw_status": order.status, "tickets": held, "confirmed_by_read": True}
    return ActionOutcome(summary=summary | {"applied": sorted(change.patch_body())})


def change_status(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    change = parse_payload(TicketscloudStatusChange, action)
    result = _refused(lambda: client().change_order(str(action.order_id), {"status": change.status}))
    return ActionOutcome(summary=_order_summary(result), order=result.order)


def change_status_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """Took effect when the order, read by id, has the status sent."""
    change = parse_payload(TicketscloudStatusChange, action)
    order = client().get_order(str(action.order_id))
    if order.status != change.status:
        return None
    summary = {"order_id": order.id, "raw_status": order.status, "confirmed_by_read": True}
    return ActionOutcome(summary=summary)


def _refund_summary(refund: TicketscloudRefundRequest, **extra: Any) -> dict[str, Any]:
    return {
        "refund_id": refund.id,
        "refund_status": refund.status,
        "order_id": refund.order,
        "tickets": list(refund.tickets),
        "refund_nominal": str(refund.refund_nominal if refund.refund_nominal is not None else refund.delta),
    } | extra


def _refusal_messages(error: PermanentError) -> PermanentError:
    """A refusal keeps the platform's messages: ``{"errors": ["...", ...]}`` is the body ``GET /actions`` shows
    in ``errors[0].detail``, and the messages joined become the error's message."""
    body = error.body
    messages = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return error
    texts = [item if isinstance(item, str) else str(item.get("msg") or item) for item in messages if item]
    return PermanentError(error.platform, "; ".join(texts), status_code=error.status_code, body=body)


def _refused[T](call: Callable[[], T]) -> T:
    """Run one platform call; a refusal (``400``) fails the action with the platform's messages kept."""
    try:
        return call()
    except PermanentError as error:
        raise _refusal_messages(error) from error


def request_refund(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    request = parse_payload(TicketscloudRefundCreate, action)
    body: dict[str, Any] = {"order": str(action.order_id), "culprit": request.culprit, "tickets": request.tickets}
    if request.requested_at is not None:
        body["requested_at"] = request.requested_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    refund = _refused(lambda: client().create_refund_request(body))
    return ActionOutcome(summary=_refund_summary(refund))


def _refunds_since(action: Action, tc: TicketscloudClient, *, finished: bool = False) -> list[RefundRequest]:
    """Refund requests created (or, ``finished``, decided) since shortly before the action was accepted, read
    page after page until an empty one."""
    since, until = action.accepted_at - LOOKUP_MARGIN, utc_now() + LOOKUP_MARGIN
    found: list[RefundRequest] = []
    for page in range(1, MAX_LOOKUP_PAGES + 1):
        query = (
            RefundQuery(page=page, finished_from=since, finished_to=until)
            if finished
            else RefundQuery(page=page, created_from=since, created_to=until)
        )
        listed = tc.list_refund_requests(query)
        if not listed.refunds and not listed.quarantined:
            break
        found.extend(listed.refunds)
    return found


def _read_summary(refund: RefundRequest) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_id,
        "refund_status": refund.status.value,
        "order_id": refund.order_id,
        "tickets": list(refund.ticket_ids),
        "refund_nominal": str(refund.amount.amount),
        "confirmed_by_read": True,
    }


def request_refund_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """Took effect when a refund request of this order for exactly these tickets, not rejected, was created since
    shortly before the action was accepted (the order's refund requests, listed)."""
    request = parse_payload(TicketscloudRefundCreate, action)
    for refund in _refunds_since(action, client()):
        same = refund.order_id == action.order_id and sorted(refund.ticket_ids) == sorted(request.tickets)
        if same and refund.status is not RefundStatus.REJECTED:
            return ActionOutcome(summary=_read_summary(refund))
    return None


def decide_refund(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome:
    decision = parse_payload(TicketscloudRefundDecisionAction, action)
    refund = _refused(lambda: client().decide_refund_request(decision.refund_id, decision.status))
    return ActionOutcome(summary=_refund_summary(refund))


def decide_refund_effect(action: Action, client: Callable[[], TicketscloudClient]) -> ActionOutcome | None:
    """Took effect when the request, among those decided since shortly before the action, has the status sent."""
    decision = parse_payload(TicketscloudRefundDecisionAction, action)
    for refund in _refunds_since(action, client(), finished=True):
        if refund.refund_id == decision.refund_id and refund.status.value == decision.status:
            return ActionOutcome(summary=_read_summary(refund))
    return None


HANDLERS: Mapping[str, ActionHandler] = {
    ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value: order_actions,
    ActionKind.TICKETSCLOUD_EXPORT.value: export,
    ActionKind.TICKETSCLOUD_CREATE_ORDER.value: create_order,
    ActionKind.TICKETSCLOUD_RESERVATION.value: change_reservation,
    ActionKind.TICKETSCLOUD_ORDER_STATUS.value: change_status,
    ActionKind.TICKETSCLOUD_REFUND_REQUEST.value: request_refund,
    ActionKind.TICKETSCLOUD_REFUND_DECISION.value: decide_refund,
}
CHECKS: Mapping[str, EffectCheck] = {
    ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value: order_actions_effect,
    ActionKind.TICKETSCLOUD_CREATE_ORDER.value: create_order_effect,
    ActionKind.TICKETSCLOUD_RESERVATION.value: change_reservation_effect,
    ActionKind.TICKETSCLOUD_ORDER_STATUS.value: change_status_effect,
    ActionKind.TICKETSCLOUD_REFUND_REQUEST.value: request_refund_effect,
    ActionKind.TICKETSCLOUD_REFUND_DECISION.value: decide_refund_effect,
}
"""An export has no check: sending it again at worst e-mails a second export."""
