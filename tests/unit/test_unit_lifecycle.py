"""The reseller's Ticketscloud order lifecycle as actions, on fakes: the routes (202, the FIFO group, the scope,
422 naming the field for each documented rule), and each kind's effect check against a fake client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from builders import NOW, order
from fakes import FakeActionSender, FakeActionStore
from test_unit_api import Api

from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.apply import ActionApplier, ActionOutcome
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.models import OrderPage, OrderStatus, Platform
from ordersync.platforms.ticketscloud.actions import CHECKS, HANDLERS
from ordersync.platforms.ticketscloud.models import ACTION_REFERENCE_KEY, TicketscloudOrder

ORDER = "5bacf64ea0eb2f000c45160a"
EVENT = "5b23b53b9c9b19000c6c4180"
SET = "5d6648306b23e8a5f90ef047"
TICKET = "5d664830b8a2cb5ce0576457"
OTHER_TICKET = "5d664830b8a2cb5ce0576458"
TARIFF = "5d664830e4c685ae48bd2d3d"
REFUND = "5e1f0c7d9e115bacf64ea0eb"
ACCEPTED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def api() -> Api:
    return Api()


def field_of(answer: Any) -> str:
    return str(answer.body["detail"][0]["field"])


# -- routes ---------------------------------------------------------------------------------------------------------
def test_a_create_is_accepted_202_without_an_order_id_in_a_group_of_its_own(api: Api) -> None:
    answer = api.post("/orders/ticketscloud", {"event": EVENT, "random": {SET: 2}, "all_or_nothing": True})

    assert answer.status == 202
    assert answer.body["order_id"] is None
    [queued] = api.queue.sent
    assert queued.group_id == f"ticketscloud#new#{answer.body['action_id']}"
    stored = api.actions.get(answer.body["action_id"])
    assert stored is not None
    assert stored.kind is ActionKind.TICKETSCLOUD_CREATE_ORDER


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": EVENT, "tickets": [TICKET], "random": {SET: 1}}, "body"),
        ({"event": EVENT}, "body"),
        ({"event": "evt-1", "random": {SET: 1}}, "event"),
        ({"event": EVENT, "random": {SET: 0}}, f"random.{SET}"),
        ({"event": EVENT, "tickets": [TICKET, TICKET]}, "tickets"),
        ({"event": EVENT, "random": {SET: 1}, "all_or_nothing": "yes"}, "all_or_nothing"),
        ({"event": EVENT, "random": {SET: 1}, "vendor_data": {"raw": {ACTION_REFERENCE_KEY: "x"}}}, "body"),
    ],
)
def test_a_create_breaking_a_documented_rule_is_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    answer = api.post("/orders/ticketscloud", body)

    assert answer.status == 422
    assert field_of(answer) == field
    assert api.queue.sent == []


def test_a_reservation_change_is_queued_in_the_orders_group(api: Api) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/reservation", {"tickets": [TICKET], "tariffs": {TICKET: TARIFF}})

    assert answer.status == 202
    [queued] = api.queue.sent
    assert queued.group_id == f"ticketscloud#{ORDER}"
    assert queued.payload == {"tickets": [TICKET], "tariffs": {TICKET: TARIFF}}


@pytest.mark.parametrize(
    "body",
    [{"tickets": [TICKET], "random": {SET: 1}}, {}, {"tariffs": {TICKET: "standard"}}],
)
def test_a_reservation_change_breaking_a_rule_is_422(api: Api, body: dict[str, Any]) -> None:
    assert api.post(f"/orders/ticketscloud/{ORDER}/reservation", body).status == 422


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_finish_and_cancel_are_queued_in_the_orders_group(api: Api, status: str) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/status", {"status": status})

    assert answer.status == 202
    [queued] = api.queue.sent
    assert (queued.kind, queued.payload) == (ActionKind.TICKETSCLOUD_ORDER_STATUS, {"status": status})


def test_a_status_other_than_done_or_cancelled_is_422_naming_status(api: Api) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/status", {"status": "expired"})

    assert answer.status == 422
    assert field_of(answer) == "status"


@pytest.mark.parametrize("raw_status", ["done", "cancelled", "expired"])
def test_a_change_of_an_order_stored_as_final_is_422_naming_order_id(api: Api, raw_status: str) -> None:
    api.orders.seed(order(ORDER, status=OrderStatus.FULFILLED, raw_status=raw_status), at=NOW)

    answer = api.post(f"/orders/ticketscloud/{ORDER}/status", {"status": "cancelled"})

    assert answer.status == 422
    assert field_of(answer) == "order_id"
    assert api.queue.sent == []


def test_a_refund_request_is_queued_in_the_orders_group(api: Api) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/refund-requests", {"culprit": "user", "tickets": [TICKET]})

    assert answer.status == 202
    [queued] = api.queue.sent
    assert queued.group_id == f"ticketscloud#{ORDER}"
    assert queued.payload == {"culprit": "user", "tickets": [TICKET]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"culprit": "buyer", "tickets": [TICKET]}, "culprit"),
        ({"culprit": "user", "tickets": []}, "tickets"),
        ({"culprit": "user"}, "tickets"),
    ],
)
def test_a_refund_request_breaking_a_rule_is_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/refund-requests", body)

    assert answer.status == 422
    assert field_of(answer) == field


def test_a_refund_decision_is_queued_in_the_orders_group_with_the_request_id(api: Api) -> None:
    answer = api.post(f"/orders/ticketscloud/{ORDER}/refund-requests/{REFUND}", {"status": "approved"})

    assert answer.status == 202
    [queued] = api.queue.sent
    assert queued.group_id == f"ticketscloud#{ORDER}"
    assert queued.payload == {"refund_id": REFUND, "status": "approved"}


def test_a_refund_decision_with_a_bad_request_id_or_status_is_422(api: Api) -> None:
    bad_id = api.post(f"/orders/ticketscloud/{ORDER}/refund-requests/r-1", {"status": "approved"})
    bad_status = api.post(f"/orders/ticketscloud/{ORDER}/refund-requests/{REFUND}", {"status": "new"})

    assert (bad_id.status, field_of(bad_id)) == (422, "refund_id")
    assert (bad_status.status, field_of(bad_status)) == (422, "status")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/orders/ticketscloud", {"event": EVENT, "random": {SET: 1}}),
        (f"/orders/ticketscloud/{ORDER}/status", {"status": "done"}),
        (f"/orders/ticketscloud/{ORDER}/refund-requests", {"culprit": "user", "tickets": [TICKET]}),
    ],
)
def test_each_lifecycle_action_needs_the_ticketscloud_act_scope(api: Api, path: str, body: dict[str, Any]) -> None:
    answer = api.post(path, body, client="reader")

    assert answer.status == 403
    assert "ticketscloud:act" in answer.body["message"]


# -- effect checks ----------------------------------------------------------------------------------------------------
def lifecycle_action(kind: ActionKind, payload: dict[str, Any], order_id: str | None = ORDER) -> Action:
    return Action.accept(kind=kind, order_id=order_id, client_id="crm", payload=payload, now=ACCEPTED_AT)


def wire_order(**fields: Any) -> TicketscloudOrder:
    return TicketscloudOrder.model_validate(
        {"id": ORDER, "number": 7, "status": "executed", "created_at": "2026-11-22 15:00:00", "values": {"full": "1"}}
        | fields
    )


def wire_ticket(ticket_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": ticket_id, "set": SET, "full": "1"} | fields


class FakeTicketscloud:
    """What the checks read: one order by id, and one page of the event's orders."""

    def __init__(self, order: TicketscloudOrder | None = None, listed: list[dict[str, Any]] | None = None) -> None:
        self.order = order
        self.listed = listed or []
        self.pages: list[int] = []

    def get_order(self, order_id: str) -> TicketscloudOrder:
        assert self.order is not None
        assert order_id == self.order.id
        return self.order

    def search_orders(self, filters: Any, *, page: int, page_size: int) -> OrderPage:
        del page_size
        assert filters.events == (EVENT,)
        self.pages.append(page)
        found = [order(item["id"]).model_copy(update={"raw": item}) for item in (self.listed if page == 1 else [])]
        return OrderPage(platform=Platform.TICKETSCLOUD, orders=tuple(found), page=page, page_size=200)


def check(action: Action, client: FakeTicketscloud) -> ActionOutcome | None:
    return CHECKS[action.kind.value](action, lambda: client)


def test_a_create_took_effect_when_an_order_of_its_event_carries_its_action_id() -> None:
    action = lifecycle_action(ActionKind.TICKETSCLOUD_CREATE_ORDER, {"event": EVENT, "random": {SET: 1}}, None)
    client = FakeTicketscloud(
        listed=[
            {"id": "5bacf64ea0eb2f000c451600", "vendor_data": {"raw": {ACTION_REFERENCE_KEY: "another"}}},
            {"id": ORDER, "vendor_data": {"raw": {ACTION_REFERENCE_KEY: action.action_id}}},
        ]
    )

    found = check(action, client)

    assert found is not None
    assert found.order_id == ORDER
    assert found.order is not None


def test_a_create_whose_reference_is_nowhere_did_not_take_effect_and_the_list_is_read_to_an_empty_page() -> None:
    action = lifecycle_action(ActionKind.TICKETSCLOUD_CREATE_ORDER, {"event": EVENT, "random": {SET: 1}}, None)
    client = FakeTicketscloud(listed=[{"id": ORDER, "vendor_data": {}}])

    assert check(action, client) is None
    assert client.pages == [1, 2]


@pytest.mark.parametrize(
    ("payload", "tickets", "shown"),
    [
        ({"tickets": [TICKET]}, [wire_ticket(TICKET)], True),
        ({"tickets": [TICKET]}, [wire_ticket(TICKET), wire_ticket(OTHER_TICKET)], False),
        ({"random": {SET: 2}}, [wire_ticket(TICKET), wire_ticket(OTHER_TICKET)], True),
        ({"random": {SET: 1}}, [wire_ticket(TICKET), wire_ticket(OTHER_TICKET)], False),
        ({"tariffs": {TICKET: TARIFF}}, [wire_ticket(TICKET, tariff=TARIFF)], True),
        ({"tariffs": {TICKET: TARIFF}}, [wire_ticket(TICKET)], False),
    ],
)
def test_a_reservation_change_took_effect_when_the_order_holds_exactly_what_it_sent(
    payload: dict[str, Any], tickets: list[dict[str, Any]], shown: bool
) -> None:
    action = lifecycle_action(ActionKind.TICKETSCLOUD_RESERVATION, payload)

    assert (check(action, FakeTicketscloud(wire_order(tickets=tickets))) is not None) is shown


@pytest.mark.parametrize(("wanted", "status", "shown"), [("done", "done", True), ("cancelled", "executed", False)])
def test_a_finish_or_cancel_took_effect_when_the_order_has_that_status(wanted: str, status: str, shown: bool) -> None:
    action = lifecycle_action(ActionKind.TICKETSCLOUD_ORDER_STATUS, {"status": wanted})

    assert (check(action, FakeTicketscloud(wire_order(status=status))) is not None) is shown


def test_every_lifecycle_kind_has_a_handler_and_an_effect_check() -> None:
    lifecycle = {
        ActionKind.TICKETSCLOUD_CREATE_ORDER,
        ActionKind.TICKETSCLOUD_RESERVATION,
        ActionKind.TICKETSCLOUD_ORDER_STATUS,
        ActionKind.TICKETSCLOUD_REFUND_REQUEST,
        ActionKind.TICKETSCLOUD_REFUND_DECISION,
    }

    assert {kind.value for kind in lifecycle} <= set(HANDLERS) & set(CHECKS)


# -- the applier records a create's order id --------------------------------------------------------------------------
class CreatesOrder:
    def run(self, action: Action) -> ActionOutcome:
        del action
        return ActionOutcome(summary={"order_id": ORDER}, order=order(ORDER), order_id=ORDER)

    def check(self, action: Action) -> ActionOutcome | None:
        del action
        return None


def test_the_order_a_create_made_is_recorded_on_the_action() -> None:
    store = FakeActionStore()
    ActionAcceptor(store, FakeActionSender())
    action = lifecycle_action(ActionKind.TICKETSCLOUD_CREATE_ORDER, {"event": EVENT, "random": {SET: 1}}, None)
    store.create(action)

    done = ActionApplier(store, CreatesOrder(), None).apply(action.to_message())

    assert done.state is ActionState.SUCCEEDED
    assert done.order_id == ORDER
