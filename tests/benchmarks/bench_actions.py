"""Write-path benchmark: accepted actions per second through the API handler, and the end-to-end time of
N actions over M orders through the FIFO queue and the worker, against a baseline that sends every action
straight to the platform in parallel (and so meets ``409 Conflict``).

Everything runs in this process: moto in server mode for DynamoDB and SQS, the Ticketscloud simulator with
a processing delay, the API handler behind a played API Gateway and the worker fed by the in-test FIFO
delivery loop (per-group order, ``--concurrency`` batches at a time, like the event source's maximum
concurrency). Run:  python tests/benchmarks/bench_actions.py --actions 1000 --orders 100 --delay 0.05
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "writepath"))

from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator
from writepath_support import (
    MAX_RECEIVE_COUNT,
    ApiGateway,
    FifoDelivery,
    WritePathAws,
    create_orders_table,
    create_write_path_resources,
    records_from_sqs,
    sqs_record,
)

from ordersync import platforms
from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.apply import ActionApplier, AttemptBudget
from ordersync.actions.models import Action, ActionMessage, ActionState
from ordersync.actions.runner import PlatformActionRunner
from ordersync.actions.worker import ActionWorker
from ordersync.api.idempotency import IdempotentAcceptance
from ordersync.api.resolver import ApiServices, OrdersyncApi
from ordersync.aws.actions_repository import ActionRepository
from ordersync.aws.orders_repository import OrderRepository
from ordersync.errors import RetryableError
from ordersync.models import Platform
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.http import NO_RETRY
from ordersync.platforms.ticketscloud import TicketscloudClient, TicketscloudOrderActions


def start_moto() -> ThreadedMotoServer:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
    )
    return server


def body_of(n: int) -> dict[str, Any]:
    return {"vendor_data": {"order_id": f"step-{n}"}, "send_tickets": n % 2 == 0}


def order_of(n: int, order_ids: list[str], actions: int) -> str:
    """Each order's actions arrive in a burst, one after another, as a partner's CRM sends them."""
    per_order = max(1, actions // len(order_ids))
    return order_ids[(n // per_order) % len(order_ids)]


def accept_all(
    resources: WritePathAws, order_ids: list[str], actions: int, clients: int, *, memory: InMemoryActions | None
) -> float:
    """POST every action through the handler from ``clients`` threads; returns the seconds it took."""
    registry = resources.clients()
    tokens = [
        registry.create(f"bench-{n}-{memory is None}", ["ticketscloud:act"], now=datetime.now(UTC))[1]
        for n in range(clients)
    ]

    def send(client: int) -> int:
        if memory is not None:
            services = ApiServices(acceptor=ActionAcceptor(memory, memory), actions=memory)
        else:
            services = ApiServices(
                acceptor=resources.acceptor(),
                actions=resources.actions(),
                idempotency=IdempotentAcceptance(resources.idempotency_table),
            )
        gateway = ApiGateway(OrdersyncApi(services), resources.clients(), cache_authorizer=True)
        accepted = 0
        for n in range(client, actions, clients):
            with ONE_REQUEST_PER_PROCESS:
                answer = gateway.call(
                    "POST",
                    f"/orders/ticketscloud/{order_of(n, order_ids, actions)}/actions",
                    token=tokens[client],
                    body=body_of(n),
                    headers={"Idempotency-Key": f'"bench-{n}-{memory is None}"'},
                )
            if answer.status == 202:
                accepted += 1
            else:
                print(f"action {n}: {answer.status} {answer.body}", file=sys.stderr)
        return accepted

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        accepted = sum(pool.map(send, range(clients)))
    elapsed = time.perf_counter() - started
    if accepted != actions:
        print(f"{actions - accepted} of {actions} refused (see above); a client would send them again", file=sys.stderr)
    return elapsed


ONE_REQUEST_PER_PROCESS = threading.Lock()
"""Powertools' resolver keeps the current event on its ``BaseRouter`` class: in one process two resolvers must not
resolve at once (a Lambda container never does), so the API figure is one container's."""


def apply_all(
    records: list[dict[str, Any]],
    store: Any,
    orders: OrderRepository | None,
    simulator: TicketscloudSimulator,
    concurrency: int,
) -> tuple[float, dict[str, list[str]]]:
    """Apply the queued records; returns the seconds it took and each order's steps in queue order."""
    queued: dict[str, list[str]] = {}
    for record in records:
        message = ActionMessage.model_validate_json(record["body"])
        queued.setdefault(str(message.order_id), []).append(message.payload["vendor_data"]["order_id"])
    local = threading.local()

    def handle(event: dict[str, Any]) -> Any:
        if not hasattr(local, "worker"):
            clients = {
                Platform.TICKETSCLOUD: TicketscloudClient(simulator.base_url, DEFAULT_TOKEN, timeout=10.0),
                Platform.ECARDS: EcardsClient("http://127.0.0.1:9", "unused"),
            }
            runner = PlatformActionRunner(
                clients=clients.__getitem__, handlers=platforms.action_handlers, checks=platforms.effect_checks
            )
            applier = ActionApplier(
                store(),
                runner,
                orders,
                budget=AttemptBudget(max_attempts=MAX_RECEIVE_COUNT, base_seconds=0, max_seconds=0),
            )
            local.worker = ActionWorker(applier)
        return local.worker.handle(event)

    delivery = FifoDelivery(handle, batch_size=10)
    delivery.add(records)
    started = time.perf_counter()
    delivery.run(concurrency=concurrency, timeout=3600)
    elapsed = time.perf_counter() - started
    assert not delivery.dead_letters, f"{len(delivery.dead_letters)} actions dead-lettered"
    return elapsed, queued


def baseline(
    simulator: TicketscloudSimulator, order_ids: list[str], actions: int, concurrency: int
) -> tuple[float, int]:
    """Every action PATCHed at once from ``concurrency`` threads, retried on 409 after a short pause."""
    client = TicketscloudClient(simulator.base_url, DEFAULT_TOKEN, timeout=10.0, retry=NO_RETRY)
    conflicts = 0
    lock = threading.Lock()

    def send(n: int) -> None:
        nonlocal conflicts
        request = TicketscloudOrderActions.model_validate(body_of(n))
        for _ in range(1000):
            try:
                client.patch_order(order_of(n, order_ids, actions), request)
            except RetryableError as error:
                if error.status_code != 409:
                    raise
                with lock:
                    conflicts += 1
                time.sleep(simulator.processing_delay / 2)
            else:
                return

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(send, range(actions)))
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed, conflicts


class InMemoryActions:
    """The actions table and the FIFO queue in memory (same rules: final actions are never restarted), to time
    ordersync's own work without moto."""

    def __init__(self) -> None:
        self.actions: dict[str, Action] = {}
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def create(self, action: Action) -> None:
        with self.lock:
            self.actions[action.action_id] = action

    put = create

    def get(self, action_id: str) -> Action | None:
        with self.lock:
            return self.actions.get(action_id)

    def send(self, action: Action) -> str:
        with self.lock:
            self.records.append(
                sqs_record(action.to_message().model_dump_json(), group=action.group_id, dedup_id=action.action_id)
            )
        return action.action_id

    def start_attempt(self, action_id: str, *, now: datetime, overdue_at: datetime | None = None) -> Action | None:
        with self.lock:
            action = self.actions.get(action_id)
            if action is None or action.state.is_final or action.state is ActionState.DEAD_LETTERED:
                return None
            updated = action.model_copy(
                update={"state": ActionState.RUNNING, "attempts": action.attempts + 1, "started_at": now}
            )
            self.actions[action_id] = updated
            return updated

    def begin_attempt(
        self, action_id: str, *, now: datetime, overdue_at: datetime | None = None, max_attempts: int
    ) -> tuple[Action, Action] | None:
        with self.lock:
            before = self.actions.get(action_id)
        if before is None or before.budget_from or before.budget_spent(max_attempts):
            return None
        after = self.start_attempt(action_id, now=now, overdue_at=overdue_at)
        return None if after is None else (before, after)

    def finish(self, action_id: str, state: ActionState, *, now: datetime, **changes: Any) -> Action | None:
        with self.lock:
            action = self.actions.get(action_id)
            if action is None or action.state.is_final:
                return None
            values = {name: value for name, value in changes.items() if value not in (None, ())}
            updated = action.model_copy(update={"state": state, "updated_at": now, **values})
            self.actions[action_id] = updated
            return updated


def out_of_order(simulator: TicketscloudSimulator, expected: dict[str, list[str]]) -> int:
    """Orders whose PATCHes were applied in another order than the actions were accepted (sent)."""
    wrong = 0
    for order_id, sent in expected.items():
        applied = [
            patch.body["vendor_data"]["order_id"]
            for patch in sorted(simulator.patch_history, key=lambda patch: patch.started_at)
            if patch.order_id == order_id and patch.status == 200
        ]
        wrong += applied != sent
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.05, help="the platform's processing time per PATCH (s)")
    parser.add_argument("--concurrency", type=int, default=10, help="worker batches at once (event source maximum)")
    parser.add_argument("--clients", type=int, default=4, help="API clients sending at once")
    args = parser.parse_args()

    server = start_moto()
    try:
        resources = create_write_path_resources()
        orders_table = create_orders_table()
        memory_platform = TicketscloudSimulator(orders=0, seed=3, processing_delay=args.delay)
        queued_platform = TicketscloudSimulator(orders=0, seed=3, processing_delay=args.delay)
        direct_platform = TicketscloudSimulator(orders=0, seed=3, processing_delay=args.delay)
        with memory_platform.running(), queued_platform.running(), direct_platform.running():
            memory_ids = memory_platform.add_orders(args.orders)
            order_ids = queued_platform.add_orders(args.orders)
            direct_ids = direct_platform.add_orders(args.orders)

            memory = InMemoryActions()
            handler_seconds = accept_all(resources, memory_ids, args.actions, args.clients, memory=memory)
            memory_apply, memory_queued = apply_all(
                memory.records, lambda: memory, None, memory_platform, args.concurrency
            )
            accept_seconds = accept_all(resources, order_ids, args.actions, args.clients, memory=None)
            apply_seconds, queued = apply_all(
                records_from_sqs(resources.sqs, resources.queue_url),
                lambda: ActionRepository(resources.actions_table),
                OrderRepository(orders_table),
                queued_platform,
                args.concurrency,
            )
            direct_seconds, direct_conflicts = baseline(direct_platform, direct_ids, args.actions, args.concurrency)
            steps = range(args.actions)
            sent = {
                order: [f"step-{n}" for n in steps if order_of(n, direct_ids, args.actions) == order]
                for order in direct_ids
            }

            rows = [
                ("platform processing delay", f"{args.delay * 1000:.0f} ms per PATCH"),
                ("actions / orders", f"{args.actions} / {args.orders}, each order's actions sent as a burst"),
                (
                    "API handler, in-memory stores",
                    f"{args.actions / handler_seconds:.0f} accepted actions/s ({args.clients} clients)",
                ),
                (
                    "API handler on moto",
                    f"{args.actions / accept_seconds:.0f} accepted actions/s ({args.clients} clients; "
                    "record + idempotency key + queue)",
                ),
                (
                    "queue + worker, in-memory",
                    f"{memory_apply:.2f} s to apply all ({args.concurrency} batches at once), "
                    f"409s: {len(memory_platform.conflicts)}, "
                    f"orders out of order: {out_of_order(memory_platform, memory_queued)}",
                ),
                (
                    "queue + worker on moto",
                    f"{apply_seconds:.2f} s, 409s: {len(queued_platform.conflicts)}, "
                    f"orders out of order: {out_of_order(queued_platform, queued)}",
                ),
                ("end to end on moto", f"{accept_seconds + apply_seconds:.2f} s (accept all, then apply all)"),
                (
                    "baseline, straight to platform",
                    f"{direct_seconds:.2f} s ({args.concurrency} threads, retry on 409), 409s: {direct_conflicts}, "
                    f"orders out of order: {out_of_order(direct_platform, sent)}",
                ),
                (
                    "platform-bound minimum",
                    f"{max(args.actions / args.concurrency, args.actions / args.orders) * args.delay:.2f} s "
                    "(the longer of: actions x delay / concurrency, one order's chain)",
                ),
            ]
            for label, value in rows:
                print(f"{label:<32}{value}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
