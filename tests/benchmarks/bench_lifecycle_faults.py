"""Lifecycle fault benchmark: N order creates, then a finish of every order made, against a Ticketscloud that
answers some requests 5xx, some 429 with ``Retry-After``, some ``200`` with a body that cannot be read (after
making the change), and some slower than the client's timeout (making the change all the same, late).

Set up as ``bench_action_faults.py`` (moto in server mode in this process, the simulator over real HTTP, the
worker fed by the local runtime's FIFO event source, which honours the worker's backoff). It checks what the
lifecycle promises: every action final, no create sent twice after an unknown outcome (no two orders carry one
action's reference), every succeeded create's order id on its action, and every finish applied once. Run:

    python tests/benchmarks/bench_lifecycle_faults.py --creates 200
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "writepath"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_action_faults import FaultMix
from bench_actions import start_moto
from ordersync_tools.local.fifo import FifoEventSource, honour_visibility_changes
from ordersync_tools.local.functions import Invocation
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator
from writepath_support import WritePathAws, create_write_path_resources

from ordersync import platforms
from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.apply import ActionApplier, AttemptBudget
from ordersync.actions.models import Action, ActionKind, ActionState
from ordersync.actions.runner import PlatformActionRunner
from ordersync.actions.worker import ActionWorker
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.platforms.ticketscloud.models import ACTION_REFERENCE_KEY

CLIENT_TIMEOUT = 0.3
DONE = {"status": "done"}


def drain(resources: WritePathAws, make_worker: Callable[[], ActionWorker], *, speed: float, concurrency: int) -> float:
    """Run the worker over the queue until it is empty; the seconds it took."""
    local = threading.local()

    def invoke(event: dict[str, Any]) -> Invocation:
        if not hasattr(local, "worker"):
            local.worker = make_worker()
        try:
            return Invocation(True, dict(local.worker.handle(event)))
        except Exception as error:  # the event source fails the whole batch, as Lambda would
            return Invocation(False, None, type(error).__name__, str(error))

    source = FifoEventSource(
        resources.sqs,
        queue_url=resources.queue_url,
        queue_arn="arn:aws:sqs:us-east-1:123456789012:bench-lifecycle.fifo",
        invoke=invoke,
        batch_size=10,
        visibility_timeout=360.0,
        max_receive_count=1000,
        dead_letter_url=resources.dlq_url,
        report_batch_item_failures=True,
        speed=speed,
    )
    started = time.perf_counter()
    source.pump()
    stop = threading.Event()

    def drive() -> None:
        while not stop.is_set():
            if not source.step():
                stop.wait(0.02)

    threads = [threading.Thread(target=drive, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    while source.pending() and time.perf_counter() - started < 1800:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def run(*, creates: int, faults: FaultMix, speed: float = 2.0, concurrency: int = 10) -> list[str]:
    honour_visibility_changes()
    resources = create_write_path_resources(f"-lifecycle-{time.time_ns()}")
    events = max(5, creates // 25 + 1)  # each create takes a ticket of its event's first set (30 on sale)
    simulator = TicketscloudSimulator(orders=0, seed=13, processing_delay=0.01, events=events)
    with simulator.running():
        store = ActionRepository(resources.actions_table)
        queue = ActionQueue(resources.queue_url, dead_letter_queue_url=resources.dlq_url)
        acceptor = ActionAcceptor(store, queue)
        budget = AttemptBudget(max_attempts=10, base_seconds=2, max_seconds=16)

        def make_worker() -> ActionWorker:
            client = TicketscloudClient(
                simulator.base_url,
                DEFAULT_TOKEN,
                timeout=CLIENT_TIMEOUT,
                retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.5, max_retry_after=2.0),
            )
            runner = PlatformActionRunner(
                clients=lambda _platform: client, handlers=platforms.action_handlers, checks=platforms.effect_checks
            )
            applier = ActionApplier(store, runner, None, budget=budget, queue=queue)
            return ActionWorker(applier, queue=queue, min_remaining_ms=0)

        event_ids = simulator.event_ids
        create_actions: list[Action] = []
        for n in range(creates):
            event = event_ids[n % len(event_ids)]
            payload = {"event": event, "random": {simulator.set_ids(event)[0]: 1}}
            create_actions.append(
                acceptor.accept(
                    kind=ActionKind.TICKETSCLOUD_CREATE_ORDER, order_id=None, client_id="bench", payload=payload
                )
            )
        simulator.faults.server_error_share = faults.server_errors
        simulator.faults.rate_limit_share = faults.rate_limits
        simulator.faults.retry_after = faults.retry_after
        simulator.faults.garbled_share = faults.unreadable
        simulator.faults.timeout_share = faults.slow
        simulator.faults.timeout_hold = CLIENT_TIMEOUT + 0.2
        simulator.clear_requests()
        create_seconds = drain(resources, make_worker, speed=speed, concurrency=concurrency)
        created = [store.get(action.action_id) for action in create_actions]
        create_requests = sum(1 for request in simulator.requests if request.method == "POST")

        order_ids = [action.order_id for action in created if action is not None and action.order_id]
        finish_actions = [
            acceptor.accept(
                kind=ActionKind.TICKETSCLOUD_ORDER_STATUS,
                order_id=order_id,
                client_id="bench",
                payload={"status": "done"},
            )
            for order_id in order_ids
        ]
        simulator.clear_requests()
        finish_seconds = drain(resources, make_worker, speed=speed, concurrency=concurrency)
        finished = [store.get(action.action_id) for action in finish_actions]

        references = Counter(
            ((order.get("vendor_data") or {}).get("raw") or {}).get(ACTION_REFERENCE_KEY)
            for order in simulator.orders_snapshot()
        )
        create_states = Counter(a.state.value if a else "missing" for a in created)
        finish_states = Counter(a.state.value if a else "missing" for a in finished)
        done = sum(1 for order in simulator.orders_snapshot() if order["status"] == "done")
        applied_finishes = Counter(
            patch.order_id
            for patch in simulator.patch_history
            if patch.status == 200 and patch.body == {"status": "done"}
        )
        succeeded = [a for a in created if a is not None and a.state is ActionState.SUCCEEDED]
        return [
            f"creates                       {creates} over {len(event_ids)} events",
            f"creates: time to drain        {create_seconds:.1f} s",
            f"creates: final states         {dict(sorted(create_states.items()))}",
            f"creates sent twice            {sum(1 for count in references.values() if count > 1)}",
            f"orders made / creates ok      {len(simulator.order_ids())} / {len(succeeded)}",
            f"order id on succeeded creates {sum(1 for a in succeeded if a.order_id)}",
            f"creates confirmed by read     {sum(1 for a in created if a is not None and a.confirmed_by_read)}",
            f"create POSTs reaching it      {create_requests} (minimum {creates}; 5xx/429-answered included)",
            f"finishes: time to drain       {finish_seconds:.1f} s",
            f"finishes: final states        {dict(sorted(finish_states.items()))}",
            f"finishes applied twice        {sum(1 for count in applied_finishes.values() if count > 1)}",
            f"orders done                   {done} of {len(order_ids)}",
            f"finishes confirmed by read    {sum(1 for a in finished if a is not None and a.confirmed_by_read)}",
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--speed", type=float, default=2.0, help="divides every visibility wait (backoff)")
    args = parser.parse_args()
    server = start_moto()
    try:
        lines = run(creates=args.creates, faults=FaultMix(), speed=args.speed, concurrency=args.concurrency)
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
