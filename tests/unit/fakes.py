"""In-memory fakes of the ports the domain and services depend on, mirroring the semantics of the boto3
adapters in ``ordersync.aws`` (conditions, what is written and when) without touching AWS or a socket.

All fakes live in this one module so that an import path that moves (``platforms/``, ``aws/``) is fixed here once.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ordersync.actions.apply import ActionOutcome
from ordersync.actions.models import Action, ActionError, ActionMessage, ActionState
from ordersync.clients_auth import ApiClient, hash_token, new_client
from ordersync.errors import PermanentError
from ordersync.models import (
    Order,
    OrderPage,
    OrderStatus,
    Platform,
    QuarantinedRecord,
    RefundPage,
    RefundRequest,
    order_key,
)
from ordersync.platform_port import ListQuery, RefundQuery
from ordersync.sync.ports import LeaseLostError, PollState, RefundSaveResult
from ordersync.sync.records import (
    OrderTooLargeError,
    SaveSummary,
    StoredOrder,
    content_hash,
    encode_order,
    next_status_check,
)
from ordersync.sync.refunds import apply_refunds


# -- the orders table ---------------------------------------------------------------------------------------------
class FakeOrderStore:
    """``sync.ports.OrderStore`` (and the API's ``OrderReader``, and ``actions.apply.OrderStore``) over a dict.

    Like ``OrderRepository``: only orders whose content hash differs are written, each write bumps the version
    and keeps ``first_seen_at``; an item changed after ``observed_at`` is left alone and counted as a conflict;
    the open-orders index is ``next_check_at`` (set by ``records.next_status_check``); the stored refunds are
    folded into every order written (``sync.refunds.apply_refunds``)."""

    def __init__(self) -> None:
        self.items: dict[str, StoredOrder] = {}
        self.writes: list[str] = []
        """Every key written, in order (a content write, not a reschedule)."""
        self.reschedules: list[tuple[str, datetime | None]] = []
        self.fail_saves: Exception | None = None
        self.watch_migrations = 0
        self._lock = threading.Lock()

    # writes
    def save_changed(
        self, orders: Sequence[Order], *, seen_at: datetime, observed_at: datetime | None = None
    ) -> SaveSummary:
        if self.fail_saves is not None:
            raise self.fail_saves
        latest = {order.key: order for order in orders}
        written = created = unchanged = too_large = 0
        new_keys: set[str] = set()
        stale: set[str] = set()
        with self._lock:
            for key, read in latest.items():
                head = self.items.get(key)
                order = apply_refunds(read, None if head is None else head.order.refunds)
                digest = content_hash(order)
                if head is not None and head.content_hash == digest:
                    unchanged += 1
                    continue
                if head is not None and observed_at is not None and head.last_changed_at > observed_at:
                    stale.add(key)
                    continue
                try:
                    raw_dropped = bool(encode_order(order).get("raw_dropped", False))
                except OrderTooLargeError:
                    too_large += 1
                    continue
                self.items[key] = self._stored(order, digest, head, seen_at, raw_dropped)
                self.writes.append(key)
                written += 1
                if head is None:
                    created += 1
                    new_keys.add(key)
        return SaveSummary(
            written=written,
            created=created,
            unchanged=unchanged,
            conflicts=len(stale),
            too_large=too_large,
            read_units=0.5 * len(latest),
            write_units=float(written),
            new_keys=frozenset(new_keys),
            conflict_keys=frozenset(stale),
        )

    def _stored(
        self, order: Order, digest: str, head: StoredOrder | None, seen_at: datetime, raw_dropped: bool
    ) -> StoredOrder:
        next_check = next_status_check(order, seen_at)
        return StoredOrder(
            order=order,
            content_hash=digest,
            version=1 if head is None else head.version + 1,
            first_seen_at=seen_at if head is None else head.first_seen_at,
            last_changed_at=seen_at,
            last_seen_at=seen_at,
            next_check_at=next_check,
            raw_dropped=raw_dropped,
        )

    def reschedule(self, stored: StoredOrder, *, next_check_at: datetime | None) -> bool:
        """Conditional on the version read and on the order still being in the open-orders index."""
        with self._lock:
            current = self.items.get(stored.order.key)
            if current is None or current.version != stored.version or current.next_check_at is None:
                return False
            update: dict[str, Any] = {"next_check_at": next_check_at}
            self.items[stored.order.key] = current.model_copy(update=update)
            self.reschedules.append((stored.order.key, next_check_at))
            return True

    # refunds (``sync.ports.RefundStore``)
    def save_refunds(
        self, platform: Platform, requests: Sequence[RefundRequest], *, seen_at: datetime
    ) -> RefundSaveResult:
        by_key: dict[str, list[RefundRequest]] = {}
        for request in requests:
            by_key.setdefault(order_key(platform, request.order_id), []).append(request)
        missing = {group[0].order_id for key, group in by_key.items() if key not in self.items}
        orders = [
            apply_refunds(self.items[key].order, incoming=group) for key, group in by_key.items() if key in self.items
        ]
        return RefundSaveResult(
            summary=self.save_changed(orders, seen_at=seen_at), missing_order_ids=frozenset(missing)
        )

    def end_refund_watch(self, platform: Platform) -> int:
        """Takes final orders of ``platform`` out of the index (what the retired refund watch left there)."""
        with self._lock:
            left = [
                stored
                for stored in self.items.values()
                if stored.order.platform is platform
                and stored.next_check_at is not None
                and stored.order.status.is_final
            ]
            for stored in left:
                self.items[stored.order.key] = stored.model_copy(update={"next_check_at": None})
        self.watch_migrations += 1
        return len(left)

    # reads
    def open_orders(self, platform: Platform, due_before: datetime, limit: int) -> list[StoredOrder]:
        """The sparse ``open-orders`` index: a platform's indexed orders due by ``due_before``, most overdue first."""
        with self._lock:
            due = [
                stored
                for stored in self.items.values()
                if stored.order.platform is platform
                and stored.next_check_at is not None
                and stored.next_check_at <= due_before
            ]
        due.sort(key=lambda stored: (stored.next_check_at, stored.order.key))
        return due[:limit]

    def get(self, platform: Platform, order_id: str) -> StoredOrder | None:
        return self.items.get(order_key(platform, order_id))

    def list(
        self,
        platform: Platform | None = None,
        status: OrderStatus | None = None,
        changed_since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[StoredOrder], str | None]:
        """Most recently changed first; the cursor is the offset, opaque-ish like the real one. A cursor this
        store did not hand out raises ``ValueError`` (the real ``InvalidCursorError`` is a ``ValueError``)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        start = 0
        if cursor is not None:
            if not cursor.startswith("offset:") or not cursor.removeprefix("offset:").isdigit():
                raise ValueError("cursor is not one this API handed out")
            start = int(cursor.removeprefix("offset:"))
        found = [
            stored
            for stored in self.items.values()
            if (platform is None or stored.order.platform is platform)
            and (status is None or stored.order.status is status)
            and (changed_since is None or stored.last_changed_at >= changed_since)
        ]
        found.sort(key=lambda stored: (stored.last_changed_at, stored.order.key), reverse=True)
        page = found[start : start + limit]
        more = start + limit < len(found)
        return page, (f"offset:{start + limit}" if more else None)

    # test helpers
    def seed(self, *orders: Order, at: datetime) -> None:
        """Store orders as a poll at ``at`` would (not counted in ``writes``)."""
        self.save_changed(orders, seen_at=at)
        self.writes.clear()

    def stored(self, order: Order) -> StoredOrder:
        return self.items[order.key]


# -- the poll-state table -----------------------------------------------------------------------------------------
@dataclass
class _StateRow:
    poller: str
    cursor: str | None = None
    checkpoint: str | None = None  # JSON, as the real table stores it
    last_complete_run_at: datetime | None = None
    last_run_id: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    counters: dict[str, int] = field(default_factory=dict)

    def state(self) -> PollState:
        return PollState(
            poller=self.poller,
            cursor=self.cursor,
            checkpoint=json.loads(self.checkpoint) if self.checkpoint else None,
            last_complete_run_at=self.last_complete_run_at,
            last_run_id=self.last_run_id,
            lease_owner=self.lease_owner,
            lease_expires_at=self.lease_expires_at,
            counters=dict(self.counters),
        )


class FakePollStateStore:
    """``sync.ports.PollStateStore`` with ``PollStateRepository``'s conditions: ``acquire`` refuses while another
    owner's lease has not expired; ``checkpoint`` and ``complete`` need the caller to own the lease (else
    ``LeaseLostError``); ``release`` leaves a lease that another owner took alone."""

    def __init__(self) -> None:
        self.rows: dict[str, _StateRow] = {}
        self.checkpoints: list[dict[str, Any] | None] = []
        """Every checkpoint written, in order."""
        self._lock = threading.Lock()

    def get(self, poller: str) -> PollState | None:
        row = self.rows.get(poller)
        return None if row is None else row.state()

    def acquire(self, poller: str, owner: str, *, now: datetime, lease_for: timedelta) -> PollState | None:
        with self._lock:
            row = self.rows.setdefault(poller, _StateRow(poller))
            held = row.lease_expires_at is not None and not (row.lease_expires_at < now or row.lease_owner == owner)
            if held:
                return None
            row.lease_owner, row.lease_expires_at, row.last_run_id = owner, now + lease_for, owner
            row.counters["runs_started"] = row.counters.get("runs_started", 0) + 1
            return row.state()

    def checkpoint(
        self,
        poller: str,
        owner: str,
        *,
        checkpoint: dict[str, Any] | None,
        now: datetime,
        lease_for: timedelta,
    ) -> None:
        with self._lock:
            row = self._owned(poller, owner)
            row.lease_expires_at = now + lease_for
            row.checkpoint = None if checkpoint is None else json.dumps(checkpoint, sort_keys=True)
            self.checkpoints.append(copy.deepcopy(checkpoint))

    def complete(self, poller: str, owner: str, *, cursor: str | None, now: datetime, counters: dict[str, int]) -> None:
        with self._lock:
            row = self._owned(poller, owner)
            row.last_complete_run_at = now
            row.cursor = cursor
            row.checkpoint = None
            row.lease_owner = row.lease_expires_at = None
            row.counters["runs_completed"] = row.counters.get("runs_completed", 0) + 1
            for name, amount in counters.items():
                row.counters[name] = row.counters.get(name, 0) + int(amount)

    def release(self, poller: str, owner: str) -> None:
        with self._lock:
            row = self.rows.get(poller)
            if row is not None and row.lease_owner == owner:
                row.lease_owner = row.lease_expires_at = None

    def _owned(self, poller: str, owner: str) -> _StateRow:
        row = self.rows.get(poller)
        if row is None or row.lease_owner != owner:
            raise LeaseLostError(f"poller {poller!r}: lease lost")
        return row

    # test helpers
    def hold(self, poller: str, owner: str, *, until: datetime) -> None:
        """Another run holds the lease until ``until``."""
        row = self.rows.setdefault(poller, _StateRow(poller))
        row.lease_owner, row.lease_expires_at = owner, until

    def set_state(self, poller: str, *, cursor: str | None = None, checkpoint: dict[str, Any] | None = None) -> None:
        row = self.rows.setdefault(poller, _StateRow(poller))
        row.cursor = cursor
        row.checkpoint = None if checkpoint is None else json.dumps(checkpoint, sort_keys=True)


# -- a platform ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatusReading:
    """What ``EcardsClient.get_order_status`` answers, as much as the status poller reads of it."""

    raw_status: str
    status: OrderStatus


class FakePlatformClient:
    """``platform_port.PlatformClient`` over a list of canonical orders.

    ``newest_first=False`` (Ticketscloud, Bizon365): ``created_from``/``created_to`` filter (both inclusive), oldest
    first, ``total`` given. ``newest_first=True`` (e-cards): no filters, newest first, ``total_pages`` given.
    ``fault`` makes every request raise it (``faults`` makes the n-th request, 1-based, raise); ``before_request``
    runs before each request is answered (to change the orders under a running scan)."""

    def __init__(
        self,
        platform: Platform,
        orders: Iterable[Order] = (),
        *,
        max_page_size: int = 10,
        newest_first: bool = False,
        quarantined: dict[int, tuple[QuarantinedRecord, ...]] | None = None,
    ) -> None:
        self.platform = platform
        self.max_page_size = max_page_size
        self.newest_first = newest_first
        self.orders: list[Order] = list(orders)
        self.quarantined = quarantined or {}
        self.fault: Exception | None = None
        self.faults: dict[int, Exception] = {}
        self.before_request: Callable[[ListQuery], None] | None = None
        self.queries: list[ListQuery] = []
        self.closed = False
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        return len(self.queries)

    def add(self, *orders: Order) -> None:
        with self._lock:
            self.orders.extend(orders)

    def replace(self, order: Order) -> None:
        """The platform's copy of an order changed."""
        with self._lock:
            self.orders = [order if known.key == order.key else known for known in self.orders]

    def list_orders(self, query: ListQuery) -> OrderPage:
        with self._lock:
            self.queries.append(query)
            number = len(self.queries)
        if self.before_request is not None:
            self.before_request(query)
        if self.fault is not None:
            raise self.fault
        if number in self.faults:
            raise self.faults[number]
        size = query.page_size or self.max_page_size
        with self._lock:
            matching = [order for order in self.orders if self.newest_first or _in_window(order, query)]
        matching.sort(key=lambda order: (order.created_at, order.order_id), reverse=self.newest_first)
        start = (query.page - 1) * size
        pages = max(1, -(-len(matching) // size))
        return OrderPage(
            platform=self.platform,
            orders=tuple(matching[start : start + size]),
            quarantined=self.quarantined.get(query.page, ()),
            page=query.page,
            page_size=size,
            total=None if self.newest_first else len(matching),
            total_pages=pages if self.newest_first else None,
        )

    def close(self) -> None:
        self.closed = True


def _in_window(order: Order, query: ListQuery) -> bool:
    if query.created_from is not None and order.created_at < query.created_from:
        return False
    return not (query.created_to is not None and order.created_at > query.created_to)


class FakeStatusClient(FakePlatformClient):
    """A client that also reads one order's status (``platform_port.StatusReader``, the e-cards shape). An order it
    does not know answers ``404`` as a ``PermanentError``; ``status_faults`` makes reads of an order id fail."""

    def __init__(self, platform: Platform, orders: Iterable[Order] = (), **kwargs: Any) -> None:
        super().__init__(platform, orders, newest_first=True, **kwargs)
        self.statuses: dict[str, StatusReading] = {}
        self.status_faults: dict[str, Exception] = {}
        self.status_reads: list[str] = []

    def get_order_status(self, order_id: str) -> StatusReading:
        with self._lock:
            self.status_reads.append(order_id)
        if order_id in self.status_faults:
            raise self.status_faults[order_id]
        if order_id in self.statuses:
            return self.statuses[order_id]
        known = next((order for order in self.orders if order.order_id == order_id), None)
        if known is None:
            raise PermanentError(self.platform, f"GET /v1/orders/{order_id}/status: HTTP 404", status_code=404)
        return StatusReading(raw_status=known.raw_status, status=known.status)


class FakeRefundClient(FakePlatformClient):
    """A client that also lists refund requests (``platform_port.RefundReader``) and reads one order by id
    (``platform_port.OrderFetcher``; an order it does not know answers ``404``). Refund pages are read as the live
    platform pages them: ``short_pages`` makes every page hold fewer than asked (the list still goes on), and
    there is no total: the list ends with an empty page."""

    def __init__(self, platform: Platform, orders: Iterable[Order] = (), **kwargs: Any) -> None:
        super().__init__(platform, orders, **kwargs)
        self.refunds: list[RefundRequest] = []
        self.refund_queries: list[RefundQuery] = []
        self.order_reads: list[str] = []
        self.short_pages = False
        self.refund_fault: Exception | None = None

    def add_refunds(self, *refunds: RefundRequest) -> None:
        with self._lock:
            self.refunds = [known for known in self.refunds if known.refund_id not in {r.refund_id for r in refunds}]
            self.refunds.extend(refunds)

    def list_refund_requests(self, query: RefundQuery) -> RefundPage:
        with self._lock:
            self.refund_queries.append(query)
        if self.refund_fault is not None:
            raise self.refund_fault
        size = query.page_size or self.max_page_size
        served = max(1, size // 2) if self.short_pages else size
        with self._lock:
            matching = sorted(
                (refund for refund in self.refunds if _refund_in_window(refund, query)), key=lambda r: r.refund_id
            )
        start = (query.page - 1) * served
        return RefundPage(
            platform=self.platform, refunds=tuple(matching[start : start + served]), page=query.page, page_size=size
        )

    def fetch_order(self, order_id: str) -> Order:
        with self._lock:
            self.order_reads.append(order_id)
            known = next((order for order in self.orders if order.order_id == order_id), None)
        if known is None:
            raise PermanentError(self.platform, f"GET /orders/{order_id}: HTTP 404", status_code=404)
        return known


def _refund_in_window(refund: RefundRequest, query: RefundQuery) -> bool:
    if query.created_from is not None or query.created_to is not None:
        low, high, moment = query.created_from, query.created_to, refund.created_at
    else:
        low, high, moment = query.finished_from, query.finished_to, refund.finished_at
        if moment is None:
            return False
    return not ((low is not None and moment < low) or (high is not None and moment > high))


# -- the actions table and queue ----------------------------------------------------------------------------------
class FakeActionStore:
    """``ActionRecorder`` + ``ActionStore`` + ``ActionReader`` in one, as ``ActionRepository`` is: ``start_attempt``
    and ``finish`` refuse (``None``) a missing or final (succeeded/failed) action; ``create`` refuses a taken id."""

    def __init__(self) -> None:
        self.actions: dict[str, Action] = {}
        self.fail_create: Exception | None = None
        self.fail_get: Exception | None = None
        self._lock = threading.Lock()

    def create(self, action: Action) -> None:
        if self.fail_create is not None:
            raise self.fail_create
        with self._lock:
            if action.action_id in self.actions:
                raise ValueError(f"action {action.action_id} already exists")
            self.actions[action.action_id] = action

    def put(self, action: Action) -> None:
        with self._lock:
            self.actions[action.action_id] = action

    def get(self, action_id: str) -> Action | None:
        if self.fail_get is not None:
            raise self.fail_get
        return self.actions.get(action_id)

    def start_attempt(self, action_id: str, *, now: datetime, overdue_at: datetime | None = None) -> Action | None:
        current = self.actions.get(action_id)
        if current is not None and current.state is ActionState.DEAD_LETTERED:
            return None
        return self._update(
            action_id,
            lambda action: (
                {
                    "state": ActionState.RUNNING,
                    "started_at": now,
                    "updated_at": now,
                    "attempts": action.attempts + 1,
                }
                | ({} if overdue_at is None else {"overdue_at": overdue_at})
            ),
        )

    def begin_attempt(
        self, action_id: str, *, now: datetime, overdue_at: datetime | None = None, max_attempts: int
    ) -> tuple[Action, Action] | None:
        """As ``ActionRepository``: refused (``None``) unless open, not dead-lettered, in its first budget
        (``budget_from`` 0) with attempts left."""
        with self._lock:
            before = self.actions.get(action_id)
        if before is None or before.budget_from or before.budget_spent(max_attempts):
            return None
        after = self.start_attempt(action_id, now=now, overdue_at=overdue_at)
        return None if after is None else (before, after)

    def finish(
        self,
        action_id: str,
        state: ActionState,
        *,
        now: datetime,
        result: dict[str, Any] | None = None,
        errors: tuple[ActionError, ...] = (),
        last_error: ActionError | None = None,
        outcome_unknown: bool = False,
        confirmed_by_read: bool = False,
        overdue_at: datetime | None = None,
        order_id: str | None = None,
    ) -> Action | None:
        values: dict[str, Any] = {
            "state": state,
            "updated_at": now,
            "outcome_unknown": outcome_unknown,
            "confirmed_by_read": confirmed_by_read,
        }
        if state.is_final or state is ActionState.DEAD_LETTERED:
            values["finished_at"] = now
            values["overdue_at"] = None
        elif overdue_at is not None:
            values["overdue_at"] = overdue_at
        if order_id is not None:
            values["order_id"] = order_id
        if result is not None:
            values["result"] = json.loads(json.dumps(result, default=str))
        if errors:
            values["errors"] = errors
        if last_error is not None:
            values["last_error"] = last_error
        return self._update(action_id, lambda _: values)

    def requeue(
        self,
        action_id: str,
        *,
        now: datetime,
        overdue_at: datetime | None = None,
        fresh_budget: bool = True,
        outcome_unknown: bool | None = None,
    ) -> Action | None:
        def values(action: Action) -> dict[str, Any]:
            changed: dict[str, Any] = {"state": ActionState.QUEUED, "updated_at": now, "finished_at": None}
            if fresh_budget:
                changed["budget_from"] = action.attempts
            if overdue_at is not None:
                changed["overdue_at"] = overdue_at
            if outcome_unknown is not None:
                changed["outcome_unknown"] = outcome_unknown
            return changed

        return self._update(action_id, values)

    def overdue(self, platform: Platform, *, now: datetime, limit: int = 100) -> list[Action]:
        """Like the ``open-actions`` index: open actions with an ``overdue_at`` that has passed, oldest first."""
        found = [
            action
            for action in self.actions.values()
            if action.platform is platform
            and action.state.is_open
            and action.overdue_at is not None
            and action.overdue_at <= now
        ]
        return sorted(found, key=lambda action: action.overdue_at or now)[:limit]

    def _update(self, action_id: str, values: Callable[[Action], dict[str, Any]]) -> Action | None:
        with self._lock:
            action = self.actions.get(action_id)
            if action is None or action.state.is_final:
                return None
            updated = action.model_copy(update=values(action))
            self.actions[action_id] = updated
            return updated


class FakeActionSender:
    """``ActionSender``: keeps what was queued, in order; ``fail`` makes sends raise."""

    def __init__(self) -> None:
        self.sent: list[Action] = []
        self.fail: Exception | None = None
        self._ids = itertools.count(1)

    def send(self, action: Action) -> str:
        if self.fail is not None:
            raise self.fail
        self.sent.append(action)
        return f"message-{next(self._ids)}"

    def resend(self, action: Action, *, attempt: int) -> str:
        return self.send(action)


class FakeQueueControl:
    """``QueueControl``: records each backoff (receipt handles, seconds) and each dead-lettered message."""

    def __init__(self) -> None:
        self.delays: list[tuple[list[str], int]] = []
        self.dead_letters: list[ActionMessage] = []

    def delay(self, receipt_handles: Sequence[str], seconds: int) -> None:
        self.delays.append((list(receipt_handles), seconds))

    def dead_letter(self, message: ActionMessage) -> None:
        self.dead_letters.append(message)


Script = Callable[[Action], ActionOutcome]


class FakeActionRunner:
    """``ActionRunner`` answering each action from its script (a list of steps, the last one repeating);
    an action without a script succeeds with ``default``. Every call is recorded. ``check`` answers from
    ``effects`` (action id -> a step returning the outcome read, or ``None``: not applied); checks are recorded
    in ``checks``."""

    def __init__(self, default: Script | None = None) -> None:
        self.default: Script = default or (lambda action: ActionOutcome(summary={"ok": True}))
        self.scripts: dict[str, list[Script]] = {}
        self.calls: list[str] = []
        self.effects: dict[str, Callable[[Action], ActionOutcome | None]] = {}
        self.checks: list[str] = []

    def check(self, action: Action) -> ActionOutcome | None:
        self.checks.append(action.action_id)
        effect = self.effects.get(action.action_id)
        return None if effect is None else effect(action)

    def script(self, action_id: str, *steps: Script) -> None:
        self.scripts[action_id] = list(steps)

    def run(self, action: Action) -> ActionOutcome:
        self.calls.append(action.action_id)
        steps = self.scripts.get(action.action_id, [self.default])
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        return step(action)


# -- API clients --------------------------------------------------------------------------------------------------
class FakeClientLookup:
    """``api.authorizer.ClientLookup`` like ``ClientRepository.find_by_token``: found by the token's hash, then
    verified (a revoked client's token finds nothing)."""

    def __init__(self) -> None:
        self.clients: dict[str, ApiClient] = {}

    def create(self, name: str, scopes: Iterable[str], *, now: datetime | None = None) -> str:
        client, token = new_client(name, scopes, now=now or datetime.now(UTC))
        self.clients[name] = client
        return token

    def revoke(self, name: str, *, now: datetime | None = None) -> None:
        self.clients[name] = self.clients[name].model_copy(update={"revoked_at": now or datetime.now(UTC)})

    def find_by_token(self, token: str) -> ApiClient | None:
        digest = hash_token(token)
        for client in self.clients.values():
            if client.token_hash == digest and client.verifies(token):
                return client
        return None


# -- webhooks -----------------------------------------------------------------------------------------------------
class FakeHintQueue:
    """``webhooks.ports.HintQueue`` with SQS FIFO's deduplication: a repeated ``coalesce_id`` is dropped."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.coalesce_ids: set[str] = set()
        self.fail: Exception | None = None

    def send(self, hint: Any, *, coalesce_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        if coalesce_id in self.coalesce_ids:
            return
        self.coalesce_ids.add(coalesce_id)
        self.sent.append(hint)


class FakeOrderFetcher:
    """``webhooks.ports.OrderFetcher``: orders by id, each read counted; an unknown id is a 404."""

    def __init__(self, *orders: Order) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.reads: list[str] = []
        self.fail: Exception | None = None

    def get_order(self, order_id: str) -> Order:
        self.reads.append(order_id)
        if self.fail is not None:
            raise self.fail
        if order_id not in self.orders:
            raise PermanentError(Platform.TICKETSCLOUD, f"order {order_id} not found", status_code=404)
        return self.orders[order_id]
