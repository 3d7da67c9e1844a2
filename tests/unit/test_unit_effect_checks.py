"""Each action kind's effect check (``CHECKS`` beside the platforms' action handlers): how the worker and the
reconciler tell, by reading the platform, whether an action whose outcome is unknown already took effect."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ordersync.actions.models import Action, ActionKind
from ordersync.models import Platform
from ordersync.platforms.ecards.actions import CHECKS as ECARDS_CHECKS
from ordersync.platforms.ecards.models import OrderNotFoundError
from ordersync.platforms.ticketscloud.actions import CHECKS as TICKETSCLOUD_CHECKS
from ordersync.platforms.ticketscloud.models import TicketscloudOrder

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ORDER_ID = "5bacf64ea0eb2f000c45160a"
ECARDS_ORDER = "0f6e2c1a-4b7d-4e0a-9c3b-5a1d8e7f6b20"


def wire_order(**fields: Any) -> TicketscloudOrder:
    return TicketscloudOrder.model_validate(
        {
            "id": ORDER_ID,
            "number": 7,
            "status": "executed",
            "created_at": "2026-11-22T15:00:00",
            "values": {"full": "100"},
        }
        | fields
    )


class ReadsOrder:
    def __init__(self, order: TicketscloudOrder) -> None:
        self.order = order

    def get_order(self, order_id: str) -> TicketscloudOrder:
        assert order_id == ORDER_ID
        return self.order


def order_action(payload: dict[str, Any]) -> Action:
    return Action.accept(
        kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS, order_id=ORDER_ID, client_id="crm", payload=payload, now=NOW
    )


check_order_actions = TICKETSCLOUD_CHECKS[ActionKind.TICKETSCLOUD_ORDER_ACTIONS.value]


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ({"vendor_data": {"order_id": "crm-1", "raw": {"source": "crm"}}}, True),
        ({"vendor_data": {"order_id": "crm-2"}}, False),
        ({"customer": {"name": "Anna Petrova", "email": "anna@example.com"}}, True),
        ({"customer": {"email": "other@example.com"}}, False),
        ({"send_tickets": True}, True),
        ({"send_tickets": False}, False),
        ({"promocodes": ["PROMO100"]}, True),
        ({"send_tickets": True, "vendor_data": {"order_id": "crm-2"}}, False),
    ],
)
def test_a_ticketscloud_order_action_took_effect_when_the_order_shows_everything_it_sets(
    payload: dict[str, Any], shown: bool
) -> None:
    order = wire_order(
        settings={"customer": {"name": "Anna Petrova", "email": "anna@example.com"}, "send_tickets": True},
        vendor_data={"order_id": "crm-1", "raw": {"source": "crm"}},
        promocodes=["promo-id-1"],
    )

    outcome = check_order_actions(order_action(payload), lambda: ReadsOrder(order))

    assert (outcome is not None) is shown


def test_a_promocode_not_applied_is_absent() -> None:
    outcome = check_order_actions(order_action({"promocodes": ["PROMO100"]}), lambda: ReadsOrder(wire_order()))

    assert outcome is None


def test_an_export_declares_no_check_since_sending_it_again_is_harmless() -> None:
    assert ActionKind.TICKETSCLOUD_EXPORT.value not in TICKETSCLOUD_CHECKS


class EcardsStatus:
    def __init__(self, known: bool) -> None:
        self.known = known

    def get_order_status(self, order_id: str) -> Any:
        if not self.known:
            raise OrderNotFoundError(Platform.ECARDS, "GET status: order not found", status_code=404)

        class Status:
            raw_status = "Created"

        return Status()


@pytest.mark.parametrize(("known", "shown"), [(True, True), (False, False)])
def test_an_ecards_create_took_effect_when_the_platform_knows_the_order(known: bool, shown: bool) -> None:
    action = Action.accept(
        kind=ActionKind.ECARDS_CREATE_ORDER,
        order_id=ECARDS_ORDER,
        client_id="shop",
        payload={
            "orderId": ECARDS_ORDER,
            "participant": {"email": "test@test.test", "name": "John Doe", "phone": "79251153242"},
            "ecards": [{"id": 1, "quantity": 1, "faceValue": "100 ₽"}],
        },
        now=NOW,
    )
    check = ECARDS_CHECKS[ActionKind.ECARDS_CREATE_ORDER.value]

    outcome = check(action, lambda: EcardsStatus(known))

    assert (outcome is not None) is shown
