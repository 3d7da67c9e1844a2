"""Write-path fault benchmark: N actions over M orders against a Ticketscloud that answers some requests 5xx,
some 429 with ``Retry-After``, some ``200`` with a body that cannot be read (after making the change), and some
slower than the client's timeout (making the change all the same, late).

Everything runs in this process: moto in server mode for DynamoDB and SQS, the simulator over real HTTP, and
the worker fed by the local runtime's FIFO event source (``ordersync_tools.local.fifo``), which honours the
worker's ``ChangeMessageVisibility`` backoff; ``--speed`` divides every visibility wait, as ``ordersync local
--speed`` does. It checks what issue 10 promises: every action final, none dead-lettered untried, none sent
again after an unknown outcome whose change had landed (no PATCH applied twice), every order's changes in
acceptance order, and no overlapping change of one order (409). Run:

    python tests/benchmarks/bench_action_faults.py --actions 1000 --orders 100
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "writepath"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_actions import body_of, order_of, start_moto
from ordersync_tools.local.fifo import FifoEventSource, honour_visibility_changes
from ordersync_tools.local.functions import Invocation
from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator
from writepath_support import create_write_path_resources

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


def out_of_order_applied(simulator: TicketscloudSimulator, expected: dict[str, list[str]]) -> int:
    """Orders whose applied PATCHes are not in acceptance order. An action dead-lettered after its budget is
    missing from what was applied, as designed (the rest of its order goes on): it is left out of the comparison."""
    wrong = 0
    for order_id, sent in expected.items():
        applied = [
            patch.body["vendor_data"]["order_id"]
            for patch in sorted(simulator.patch_history, key=lambda patch: patch.started_at)
            if patch.order_id == order_id and patch.status == 200
        ]
        wrong += applied != [step for step in sent if step in set(applied)]
    return wrong


@dataclass(frozen=True)
class FaultMix:
    server_errors: float = 0.15
    rate_limits: float = 0.10
    retry_after: float = 1.0
    unreadable: float = 0.05
    slow: float = 0.05


@dataclass(frozen=True)
class FaultReport:
    actions: int
    orders: int
    seconds: float
    states: dict[str, int]
    dead_lettered_untried: int
    applied_twice: int
    out_of_order: int
    conflicts: int
    confirmed_by_read: int
    platform_requests: int
    patches_sent: int

    @property
    def all_final(self) -> bool:
        """Every action succeeded, failed or was dead-lettered: none is left queued, running or missing."""
        ends = (ActionState.SUCCEEDED.value, ActionState.FAILED.value, ActionState.DEAD_LETTERED.value)
        return sum(self.states.get(state, 0) for state in ends) == self.actions

    def lines(self) -> list[str]:
        return [
            f"actions / orders              {self.actions} / {self.orders}",
            f"time to drain                 {self.seconds:.1f} s",
            f"final states                  {dict(sorted(self.states.items()))}",
            f"dead-lettered untried         {self.dead_lettered_untried}",
            f"applied twice (unknown out.)  {self.applied_twice}",
            f"orders out of order           {self.out_of_order}",
            f"overlapping changes (409)     {self.conflicts}",
            f"confirmed by read             {self.confirmed_by_read}",
            f"platform requests             {self.platform_requests} (PATCHes {self.patches_sent}; "
            f"minimum {self.actions}: one PATCH per action), {self.platform_requests / self.actions:.2f} per action",
        ]


def run(
    *,
    actions: int,
    orders: int,
    faults: FaultMix,
    concurrency: int = 10,
    speed: float = 2.0,
    client_timeout: float = 0.3,
    max_attempts: int = 10,
    deadline_seconds: float = 1800.0,
) -> FaultReport:
    """Accept ``actions`` actions over ``orders`` orders and drain them through the faulty platform. Needs moto
    in this process, with ``AWS_ENDPOINT_URL`` pointing at it (``start_moto``)."""
    honour_visibility_changes()
    resources = create_write_path_resources(f"-faults-{time.time_ns()}")
    simulator = TicketscloudSimulator(orders=0, seed=11, processing_delay=0.01)
    with simulator.running():
        order_ids = simulator.add_orders(orders)
        store = ActionRepository(resources.actions_table)
        queue = ActionQueue(resources.queue_url, dead_letter_queue_url=resources.dlq_url)
        acceptor = ActionAcceptor(store, queue)
        accepted: list[Action] = []
        expected: dict[str, list[str]] = {}
        for n in range(actions):
            order_id = order_of(n, order_ids, actions)
            accepted.append(
                acceptor.accept(
                    kind=ActionKind.TICKETSCLOUD_ORDER_ACTIONS, order_id=order_id, client_id="bench", payload=body_of(n)
                )
            )
            expected.setdefault(order_id, []).append(f"step-{n}")

        simulator.faults.server_error_share = faults.server_errors
        simulator.faults.rate_limit_share = faults.rate_limits
        simulator.faults.retry_after = faults.retry_after
        simulator.faults.garbled_share = faults.unreadable
        simulator.faults.timeout_share = faults.slow
        simulator.faults.timeout_hold = client_timeout + 0.2
        simulator.clear_requests()

        budget = AttemptBudget(max_attempts=max_attempts, base_seconds=2, max_seconds=16)
        local = threading.local()

        def invoke(event: dict[str, Any]) -> Invocation:
            if not hasattr(local, "worker"):
                client = TicketscloudClient(
                    simulator.base_url,
                    DEFAULT_TOKEN,
                    timeout=client_timeout,
                    retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.5, max_retry_after=2.0),
                )
                runner = PlatformActionRunner(
                    clients=lambda _platform: client, handlers=platforms.action_handlers, checks=platforms.effect_checks
                )
                local.worker = ActionWorker(
                    ActionApplier(store, runner, None, budget=budget, queue=queue), queue=queue, min_remaining_ms=0
                )
            try:
                return Invocation(True, dict(local.worker.handle(event)))
            except Exception as error:  # the event source fails the whole batch, as Lambda would
                return Invocation(False, None, type(error).__name__, str(error))

        source = FifoEventSource(
            resources.sqs,
            queue_url=resources.queue_url,
            queue_arn="arn:aws:sqs:us-east-1:123456789012:bench-actions.fifo",
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
        while source.pending() and time.perf_counter() - started < deadline_seconds:
            time.sleep(0.1)
        stop.set()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started

        final = [store.get(action.action_id) for action in accepted]
        states = Counter(action.state.value if action else "missing" for action in final)
        applied = Counter(
            patch.body["vendor_data"]["order_id"] for patch in simulator.patch_history if patch.status == 200
        )
        requests = simulator.requests
        return FaultReport(
            actions=actions,
            orders=orders,
            seconds=seconds,
            states=dict(states),
            dead_lettered_untried=sum(
                1 for a in final if a is not None and a.state is ActionState.DEAD_LETTERED and a.attempts == 0
            ),
            applied_twice=sum(1 for count in applied.values() if count > 1),
            out_of_order=out_of_order_applied(simulator, expected),
            conflicts=len(simulator.conflicts),
            confirmed_by_read=sum(1 for a in final if a is not None and a.confirmed_by_read),
            platform_requests=len(requests),
            patches_sent=sum(1 for request in requests if request.method == "PATCH"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10, help="worker batches at once (event source maximum)")
    parser.add_argument("--speed", type=float, default=2.0, help="divides every visibility wait (backoff)")
    args = parser.parse_args()
    server = start_moto()
    try:
        report = run(
            actions=args.actions, orders=args.orders, faults=FaultMix(), concurrency=args.concurrency, speed=args.speed
        )
    finally:
        server.stop()
        os.environ.pop("AWS_ENDPOINT_URL", None)
    print("\n".join(report.lines()))
    print(f"all final                     {report.all_final}")


if __name__ == "__main__":
    main()
