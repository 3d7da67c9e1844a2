"""The fakes keep the adapters' rules the services rely on (the same rules the slow suites check on moto)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from builders import NOW, order, with_status
from fakes import FakeActionStore, FakeOrderStore, FakePollStateStore

from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.models import OrderStatus
from ordersync.sync.ports import LeaseLostError

LEASE = timedelta(minutes=15)


def test_a_live_lease_of_another_owner_refuses_acquire_and_its_owner_may_take_it_again() -> None:
    state = FakePollStateStore()
    assert state.acquire("p", "run-1", now=NOW, lease_for=LEASE) is not None

    assert state.acquire("p", "run-2", now=NOW + timedelta(minutes=1), lease_for=LEASE) is None
    assert state.acquire("p", "run-1", now=NOW + timedelta(minutes=1), lease_for=LEASE) is not None
    assert state.acquire("p", "run-2", now=NOW + LEASE + timedelta(minutes=2), lease_for=LEASE) is not None


def test_checkpoint_and_complete_need_the_lease_and_release_leaves_anothers_lease_alone() -> None:
    state = FakePollStateStore()
    state.acquire("p", "run-1", now=NOW, lease_for=LEASE)

    with pytest.raises(LeaseLostError):
        state.checkpoint("p", "run-2", checkpoint={"n": 1}, now=NOW, lease_for=LEASE)
    with pytest.raises(LeaseLostError):
        state.complete("p", "run-2", cursor="c", now=NOW, counters={})
    state.release("p", "run-2")

    assert state.get("p").lease_owner == "run-1"  # type: ignore[union-attr]


def test_save_changed_writes_only_changed_orders_and_bumps_their_version() -> None:
    store = FakeOrderStore()
    placed = order("t1")
    store.save_changed([placed], seen_at=NOW)

    same = store.save_changed([placed], seen_at=NOW + timedelta(minutes=1))
    changed = store.save_changed([with_status(placed, OrderStatus.PAID)], seen_at=NOW + timedelta(minutes=2))

    assert (same.written, same.unchanged, changed.written) == (0, 1, 1)
    stored = store.stored(placed)
    assert (stored.version, stored.first_seen_at, stored.last_changed_at) == (2, NOW, NOW + timedelta(minutes=2))


def test_save_changed_leaves_an_order_changed_after_the_read_and_counts_a_conflict() -> None:
    store = FakeOrderStore()
    store.save_changed([order("t1", email="new@example.com")], seen_at=NOW)

    summary = store.save_changed(
        [order("t1", email="old@example.com")], seen_at=NOW + timedelta(seconds=1), observed_at=NOW - timedelta(1)
    )

    assert (summary.written, summary.conflicts, summary.conflict_keys) == (0, 1, frozenset({"ticketscloud#t1"}))


def test_only_open_orders_are_in_the_open_orders_index() -> None:
    store = FakeOrderStore()
    store.save_changed([order("open"), order("gone", status=OrderStatus.CANCELLED)], seen_at=NOW)

    due = store.open_orders(order("x").platform, NOW + timedelta(days=1), 10)

    assert [stored.order.order_id for stored in due] == ["open"]


def test_reschedule_refuses_an_order_changed_since_it_was_listed() -> None:
    store = FakeOrderStore()
    placed = order("t1")
    store.save_changed([placed], seen_at=NOW)
    listed = store.stored(placed)
    store.save_changed([order("t1", email="x@example.com")], seen_at=NOW + timedelta(minutes=1))

    assert not store.reschedule(listed, next_check_at=NOW + timedelta(hours=1))


def test_a_final_action_refuses_new_attempts_and_outcomes() -> None:
    actions = FakeActionStore()
    action = Action.accept(kind=ActionKind.TICKETSCLOUD_EXPORT, order_id=None, client_id="c", payload={}, now=NOW)
    actions.create(action)
    actions.finish(action.action_id, ActionState.SUCCEEDED, now=NOW)

    assert actions.start_attempt(action.action_id, now=NOW) is None
    assert actions.finish(action.action_id, ActionState.FAILED, now=NOW) is None
    assert actions.start_attempt("missing", now=NOW) is None
