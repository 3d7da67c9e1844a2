"""The reseller's Ticketscloud order lifecycle through the worker's applier: the actions table and the orders table
on moto, the real client against the simulator over HTTP. A create's order id lands on the action and the order is
stored at once; a create whose outcome is unknown is looked up, never sent twice blindly; refusals keep the
platform's messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator
from writepath_support import WritePathAws, create_orders_table

from ordersync import platforms as platform_registry
from ordersync.actions.apply import ActionApplier, AttemptBudget, RetryLaterError
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.actions.runner import PlatformActionRunner
from ordersync.aws.actions_repository import ActionRepository
from ordersync.aws.orders_repository import OrderRepository
from ordersync.models import Platform, utc_now
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.platforms.ticketscloud.models import TicketscloudCreateOrder


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    simulator = TicketscloudSimulator(orders=0, seed=11, processing_delay=0.0)
    with simulator.running() as running:
        yield running


class Lifecycle:
    """Accepts actions straight into the actions table and applies each delivery as the worker does."""

    def __init__(self, aws: WritePathAws, sim: TicketscloudSimulator) -> None:
        self.sim = sim
        self.actions = ActionRepository(aws.actions_table)
        self.orders = OrderRepository(create_orders_table())
        runner = PlatformActionRunner(
            clients=lambda _: TicketscloudClient(sim.base_url, DEFAULT_TOKEN, timeout=5.0),
            handlers=platform_registry.action_handlers,
            checks=platform_registry.effect_checks,
        )
        budget = AttemptBudget(max_attempts=4, base_seconds=0, max_seconds=0)
        self.applier = ActionApplier(self.actions, runner, self.orders, budget=budget)

    def accept(self, kind: ActionKind, order_id: str | None, payload: dict[str, Any]) -> Action:
        action = Action.accept(kind=kind, order_id=order_id, client_id="crm", payload=payload, now=utc_now())
        self.actions.create(action)
        return action

    def deliver(self, action: Action) -> Action:
        return self.applier.apply(action.to_message())

    def new_order(self, count: int = 1) -> str:
        event = self.sim.event_ids[0]
        created = self.deliver(
            self.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, {"event": event, "random": self.one_set(count)})
        )
        assert created.order_id is not None
        return created.order_id

    def one_set(self, count: int) -> dict[str, int]:
        return {self.sim.set_ids(self.sim.event_ids[0])[0]: count}


@pytest.fixture
def life(wp_aws: WritePathAws, sim: TicketscloudSimulator) -> Lifecycle:
    return Lifecycle(wp_aws, sim)


def test_a_create_puts_the_new_order_id_on_the_action_and_stores_the_order_at_once(life: Lifecycle) -> None:
    event = life.sim.event_ids[0]
    action = life.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, {"event": event, "random": life.one_set(2)})

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.order_id is not None
    assert done.result is not None
    assert done.result["order_id"] == done.order_id
    stored = life.orders.get(Platform.TICKETSCLOUD, done.order_id)
    assert stored is not None
    assert stored.order.raw_status == "executed"


def test_a_create_runs_in_a_message_group_of_its_own(life: Lifecycle) -> None:
    event = life.sim.event_ids[0]
    action = life.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, {"event": event, "random": life.one_set(1)})

    assert action.group_id == f"ticketscloud#new#{action.action_id}"


def test_a_create_whose_answer_was_lost_is_found_by_its_reference_and_never_sent_twice(life: Lifecycle) -> None:
    event = life.sim.event_ids[0]
    action = life.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, {"event": event, "random": life.one_set(1)})
    life.sim.faults.garbled_share = 1.0  # carried out, answered with a body that cannot be read
    with pytest.raises(RetryLaterError):
        life.deliver(action)
    life.sim.faults.garbled_share = 0.0

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.confirmed_by_read is True
    assert len(life.sim.creates) == 1
    assert done.order_id == life.sim.order_ids()[-1]
    assert life.orders.get(Platform.TICKETSCLOUD, str(done.order_id)) is not None


def test_a_create_that_never_landed_is_looked_up_then_sent_again_once(life: Lifecycle) -> None:
    event = life.sim.event_ids[0]
    action = life.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, {"event": event, "random": life.one_set(1)})
    life.sim.faults.malformed_share = 1.0  # answered with a body that cannot be read, not carried out
    with pytest.raises(RetryLaterError):
        life.deliver(action)
    life.sim.faults.malformed_share = 0.0

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.confirmed_by_read is False
    assert len(life.sim.creates) == 1


def test_a_reservation_change_and_tariffs_are_applied_and_stored(life: Lifecycle) -> None:
    order_id = life.new_order(1)
    held = [ticket["id"] for ticket in life.sim.order(order_id)["tickets"]]
    set_id = next(iter(life.one_set(1)))
    tariff = life.sim.tariff_ids(set_id)[0]

    change = {"random": {set_id: 2}, "tariffs": {held[0]: tariff}}

    done = life.deliver(life.accept(ActionKind.TICKETSCLOUD_RESERVATION, order_id, change))

    assert done.state is ActionState.SUCCEEDED
    tickets = life.sim.order(order_id)["tickets"]
    assert len(tickets) == 2
    assert {ticket["id"]: ticket.get("tariff") for ticket in tickets}[held[0]] == tariff


def test_finish_then_cancel_the_cancel_fails_with_the_platform_refusal(life: Lifecycle) -> None:
    order_id = life.new_order()

    finished = life.deliver(life.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, order_id, {"status": "done"}))
    cancelled = life.deliver(life.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, order_id, {"status": "cancelled"}))

    assert finished.state is ActionState.SUCCEEDED
    stored = life.orders.get(Platform.TICKETSCLOUD, order_id)
    assert stored is not None
    assert stored.order.raw_status == "done"
    assert cancelled.state is ActionState.FAILED
    assert cancelled.errors[0].status_code == 400


def test_a_finish_whose_answer_was_lost_is_confirmed_by_reading_the_order(life: Lifecycle) -> None:
    order_id = life.new_order()
    action = life.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, order_id, {"status": "done"})
    life.sim.faults.garbled_share = 1.0
    with pytest.raises(RetryLaterError):
        life.deliver(action)
    life.sim.faults.garbled_share = 0.0

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.confirmed_by_read is True
    assert len(life.sim.applied_patches(order_id)) == 1


def test_a_refund_request_then_its_approval_are_applied(life: Lifecycle) -> None:
    order_id = life.new_order(2)
    life.deliver(life.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, order_id, {"status": "done"}))
    ticket = life.sim.order(order_id)["tickets"][0]["id"]

    requested = life.deliver(
        life.accept(ActionKind.TICKETSCLOUD_REFUND_REQUEST, order_id, {"culprit": "user", "tickets": [ticket]})
    )
    assert requested.result is not None
    refund_id = requested.result["refund_id"]
    approved = life.deliver(
        life.accept(ActionKind.TICKETSCLOUD_REFUND_DECISION, order_id, {"refund_id": refund_id, "status": "approved"})
    )

    assert requested.state is ActionState.SUCCEEDED
    assert approved.state is ActionState.SUCCEEDED
    assert approved.result is not None
    assert approved.result["refund_status"] == "approved"
    assert [refund["status"] for refund in life.sim.refund_requests() if refund["id"] == refund_id] == ["approved"]


def test_a_refused_refund_request_keeps_the_platform_messages_on_the_action(life: Lifecycle) -> None:
    order_id = life.new_order()  # executed, not done: the platform refuses a refund
    ticket = life.sim.order(order_id)["tickets"][0]["id"]

    refused = life.deliver(
        life.accept(ActionKind.TICKETSCLOUD_REFUND_REQUEST, order_id, {"culprit": "user", "tickets": [ticket]})
    )

    assert refused.state is ActionState.FAILED
    [error] = refused.errors
    assert error.detail == {"errors": [f"Order {order_id} is executed: only a done order can be refunded"]}
    assert "only a done order can be refunded" in error.message


def test_a_refund_request_whose_answer_was_lost_is_found_among_the_refund_requests(life: Lifecycle) -> None:
    order_id = life.new_order(2)
    life.deliver(life.accept(ActionKind.TICKETSCLOUD_ORDER_STATUS, order_id, {"status": "done"}))
    ticket = life.sim.order(order_id)["tickets"][0]["id"]
    action = life.accept(ActionKind.TICKETSCLOUD_REFUND_REQUEST, order_id, {"culprit": "org", "tickets": [ticket]})
    life.sim.faults.garbled_share = 1.0
    with pytest.raises(RetryLaterError):
        life.deliver(action)
    life.sim.faults.garbled_share = 0.0

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.confirmed_by_read is True
    assert len([refund for refund in life.sim.refund_requests() if refund["order"] == order_id]) == 1


def test_a_create_whose_worker_died_mid_call_is_found_by_its_reference_on_the_next_delivery(life: Lifecycle) -> None:
    event = life.sim.event_ids[0]
    payload = {"event": event, "random": life.one_set(1)}
    action = life.accept(ActionKind.TICKETSCLOUD_CREATE_ORDER, None, payload)
    life.actions.start_attempt(action.action_id, now=utc_now())  # the killed worker's attempt: left running
    with TicketscloudClient(life.sim.base_url, DEFAULT_TOKEN, timeout=5.0) as client:
        landed = client.create_order(TicketscloudCreateOrder.model_validate(payload).create_body(action.action_id))

    done = life.deliver(action)

    assert done.state is ActionState.SUCCEEDED
    assert done.confirmed_by_read is True
    assert done.order_id == landed.order.order_id
    assert len(life.sim.creates) == 1
