"""Benchmark of the write path against a modelled world: N actions over M orders, accepted through the API handler
and applied by the worker with W consumers, beside a baseline that sends every action straight to the platform.

Run: ``python tests/benchmarks/bench_write_path.py [--actions 1000] [--orders 100] [--workers 10]
[--platform-latency 0.05] [--dynamodb-latency 0.008] [--repeat 3]``.

What it models, as ``bench_sync.py`` does for the read path, so that the figures are about ordersync and not about
the emulators:

* the Ticketscloud simulator runs in a process of its own, with its latency fault set (seconds per request);
* DynamoDB and SQS are moto in server mode, in a process of their own, reached over HTTP;
* every DynamoDB call of this process (actions, idempotency and orders tables) goes through a botocore
  ``before-send`` hook that sleeps for the DynamoDB latency and counts the call by operation. SQS calls get no
  added latency.

Phases: *accept* (every action POSTed through the API handler behind a played API Gateway, from ``--clients``
threads, one request at a time as one Lambda container takes them), *apply* (the queued records through the
worker, fed by the in-test FIFO delivery loop with W consumers: per-group order, never two batches of one group
at once), and *baseline* (every action PATCHed straight to the platform from W threads, retried on 409).

The lower bound of *apply*, with one in-flight request per order and W workers:
``max(ceil(actions / min(W, orders)) * platform latency, ceil(2 * actions / W) * DynamoDB latency)``: the
platform calls, at most ``min(W, orders)`` at once, or the two writes exactly-once needs per action (``running``
before the call, the outcome after it) at W at once, whichever takes longer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "writepath"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_actions import ONE_REQUEST_PER_PROCESS, body_of, order_of
from bench_sync import DynamoLatency, MotoProcess, _spread, dynamodb_client
from template_tables import create_table_from_template
from writepath_support import FifoDelivery, WritePathAws, create_write_path_resources, records_from_sqs

from ordersync import platforms
from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.apply import ActionApplier, AttemptBudget
from ordersync.actions.models import ActionMessage
from ordersync.actions.runner import PlatformActionRunner
from ordersync.actions.worker import ActionWorker
from ordersync.api.idempotency import IdempotentAcceptance
from ordersync.api.resolver import ApiServices, OrdersyncApi
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.aws.orders_repository import OrderRepository
from ordersync.errors import RetryableError
from ordersync.models import Platform
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.http import NO_RETRY
from ordersync.platforms.ticketscloud import TicketscloudClient, TicketscloudOrderActions

MAX_ATTEMPTS = 5


# -- the platform, in a process of its own ----------------------------------------------------------------------
def _serve_simulator(latency: float, processing_delay: float) -> None:
    """The simulator's process: serve Ticketscloud and answer the benchmark's commands (JSON lines)."""
    from ordersync_tools.simulators.ticketscloud import DEFAULT_TOKEN, TicketscloudSimulator

    simulator = TicketscloudSimulator(orders=0, seed=3, processing_delay=processing_delay)
    simulator.faults.latency = latency

    def answer(value: Any) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    with simulator.running():
        answer({"base_url": simulator.base_url, "token": DEFAULT_TOKEN})
        for line in sys.stdin:
            command, argument = json.loads(line)
            if command == "stop":
                return
            if command == "add_orders":
                answer(simulator.add_orders(int(argument)))
            elif command == "patches":  # PATCHes applied, 409s, and orders whose PATCHes landed out of order
                expected: dict[str, list[str]] = argument
                history = sorted(simulator.patch_history, key=lambda patch: patch.started_at)
                applied = [patch for patch in history if patch.order_id in expected and patch.status == 200]
                wrong = 0
                for order_id, sent in expected.items():
                    steps = [p.body["vendor_data"]["order_id"] for p in applied if p.order_id == order_id]
                    wrong += steps != sent
                conflicts = sum(1 for record in simulator.conflicts if record.order_id in expected)
                answer({"applied": len(applied), "conflicts": conflicts, "out_of_order": wrong})


class SimulatorProcess:
    """The simulator in a child process (this file run with ``--serve-simulator``), driven by JSON lines."""

    def __init__(self, latency: float, processing_delay: float) -> None:
        command = [sys.executable, __file__, "--serve-simulator", str(latency), str(processing_delay)]
        self._process = subprocess.Popen(  # noqa: S603 - this very file, with arguments of its own making
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
        )
        self.info: dict[str, Any] = self._read()

    def _read(self) -> Any:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process ended")
        return json.loads(line)

    def ask(self, command: str, argument: Any = None) -> Any:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps([command, argument]) + "\n")
        self._process.stdin.flush()
        return self._read()

    def client(self, **options: Any) -> TicketscloudClient:
        return TicketscloudClient(self.info["base_url"], self.info["token"], timeout=10.0, **options)

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(["stop", None]) + "\n")
            self._process.stdin.close()
            self._process.wait(timeout=10)


# -- measurements ------------------------------------------------------------------------------------------------
@dataclass
class Repetition:
    accept_seconds: float = 0.0
    accept_calls: dict[str, int] = field(default_factory=dict)
    apply_seconds: float = 0.0
    apply_cpu: float = 0.0
    apply_calls: dict[str, int] = field(default_factory=dict)
    apply_patches: dict[str, int] = field(default_factory=dict)
    baseline_seconds: float = 0.0
    baseline_patches: dict[str, int] = field(default_factory=dict)


def expected_steps(order_ids: list[str], actions: int) -> dict[str, list[str]]:
    """Each order's PATCHes in the order they were sent (accepted)."""
    steps: dict[str, list[str]] = {order_id: [] for order_id in order_ids}
    for n in range(actions):
        steps[order_of(n, order_ids, actions)].append(body_of(n)["vendor_data"]["order_id"])
    return steps


def queued_steps(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each order's PATCHes in the order the queue holds them (the order they were accepted in)."""
    steps: dict[str, list[str]] = {}
    for record in records:
        message = ActionMessage.model_validate_json(record["body"])
        steps.setdefault(str(message.order_id), []).append(message.payload["vendor_data"]["order_id"])
    return steps


def accept_all(
    resources: WritePathAws, client: Any, order_ids: list[str], actions: int, *, clients: int, tag: str
) -> float:
    """POST every action through the handler from ``clients`` threads (one request at a time in this process, as
    in one Lambda container); the seconds it took."""
    from writepath_support import ApiGateway

    registry = resources.clients()
    tokens = [
        registry.create(f"bench-{tag}-{n}", ["ticketscloud:act"], now=datetime.now(UTC))[1] for n in range(clients)
    ]
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    def send(number: int) -> int:
        actions_table = ActionRepository(resources.actions_table, dynamodb_client=client)
        services = ApiServices(
            acceptor=ActionAcceptor(actions_table, ActionQueue(resources.queue_url)),
            actions=actions_table,
            idempotency=IdempotentAcceptance(
                resources.idempotency_table,
                persistence=DynamoDBPersistenceLayer(table_name=resources.idempotency_table, boto3_client=client),
            ),
        )
        gateway = ApiGateway(OrdersyncApi(services), registry, cache_authorizer=True)
        with ONE_REQUEST_PER_PROCESS:  # the authorizer's policy cached before the clock runs
            gateway.call("GET", "/actions/warm-up", token=tokens[number])
        accepted = 0
        for n in range(number, actions, clients):
            with ONE_REQUEST_PER_PROCESS:
                answer = gateway.call(
                    "POST",
                    f"/orders/ticketscloud/{order_of(n, order_ids, actions)}/actions",
                    token=tokens[number],
                    body=body_of(n),
                    headers={"Idempotency-Key": f'"bench-{tag}-{n}"'},
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
        raise RuntimeError(f"{actions - accepted} of {actions} actions refused")
    return elapsed


def apply_all(
    records: list[dict[str, Any]],
    resources: WritePathAws,
    orders_table: str,
    client: Any,
    simulator: SimulatorProcess,
    *,
    workers: int,
) -> float:
    """Apply the queued records with ``workers`` consumers; the seconds it took."""
    local = threading.local()

    def handle(event: dict[str, Any]) -> Any:
        if not hasattr(local, "worker"):
            clients = {
                Platform.TICKETSCLOUD: simulator.client(),
                Platform.ECARDS: EcardsClient("http://127.0.0.1:9", "unused"),
            }
            runner = PlatformActionRunner(
                clients=clients.__getitem__, handlers=platforms.action_handlers, checks=platforms.effect_checks
            )
            applier = ActionApplier(
                ActionRepository(resources.actions_table, dynamodb_client=client),
                runner,
                OrderRepository(orders_table, dynamodb_client=client),
                budget=AttemptBudget(max_attempts=MAX_ATTEMPTS, base_seconds=0, max_seconds=0),
            )
            local.worker = ActionWorker(applier)
        return local.worker.handle(event)

    delivery = FifoDelivery(handle, batch_size=10, max_receive_count=MAX_ATTEMPTS)
    delivery.add(records)
    started = time.perf_counter()
    delivery.run(concurrency=workers, timeout=3600)
    elapsed = time.perf_counter() - started
    if delivery.dead_letters:
        raise RuntimeError(f"{len(delivery.dead_letters)} actions dead-lettered")
    return elapsed


def baseline(simulator: SimulatorProcess, order_ids: list[str], actions: int, workers: int) -> float:
    """Every action PATCHed straight to the platform from ``workers`` threads, retried on 409 after a pause."""
    client = simulator.client(retry=NO_RETRY)

    def send(n: int) -> None:
        request = TicketscloudOrderActions.model_validate(body_of(n))
        for _ in range(1000):
            try:
                client.patch_order(order_of(n, order_ids, actions), request)
            except RetryableError as error:
                if error.status_code != 409:
                    raise
                time.sleep(0.01)
            else:
                return

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(send, range(actions)))
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def repetition(
    number: int, args: argparse.Namespace, simulator: SimulatorProcess, client: Any, hook: DynamoLatency
) -> Repetition:
    result = Repetition()
    resources = create_write_path_resources(suffix=f"-bench-{number}")
    orders_table = create_table_from_template("OrdersTable", f"bench-orders-{number}", client)
    sqs = boto3.client("sqs")

    order_ids: list[str] = simulator.ask("add_orders", args.orders)
    hook.reset()
    result.accept_seconds = accept_all(
        resources, client, order_ids, args.actions, clients=args.clients, tag=str(number)
    )
    result.accept_calls = dict(hook.calls)

    records = records_from_sqs(sqs, resources.queue_url)
    if len(records) != args.actions:
        raise RuntimeError(f"{len(records)} of {args.actions} actions queued")
    hook.reset()
    cpu = time.process_time()
    result.apply_seconds = apply_all(records, resources, orders_table, client, simulator, workers=args.workers)
    result.apply_cpu = time.process_time() - cpu
    result.apply_calls = dict(hook.calls)
    result.apply_patches = simulator.ask("patches", queued_steps(records))

    if number < args.baseline_repeat:
        direct_ids: list[str] = simulator.ask("add_orders", args.orders)
        result.baseline_seconds = baseline(simulator, direct_ids, args.actions, args.workers)
        result.baseline_patches = simulator.ask("patches", expected_steps(direct_ids, args.actions))
    print(
        f"repetition {number + 1}: accept {result.accept_seconds:.2f} s, apply {result.apply_seconds:.2f} s "
        f"(CPU {result.apply_cpu:.2f} s), calls {result.apply_calls}, platform {result.apply_patches}; "
        f"baseline {result.baseline_seconds:.2f} s {result.baseline_patches}",
        file=sys.stderr,
    )
    return result


# -- the report --------------------------------------------------------------------------------------------------
def lower_bound(args: argparse.Namespace) -> float:
    platform = math.ceil(args.actions / min(args.workers, args.orders)) * args.platform_latency
    dynamodb = math.ceil(2 * args.actions / args.workers) * args.dynamodb_latency
    return max(platform, dynamodb)


def _per_action(runs: list[dict[str, int]], actions: int) -> str:
    total: Counter[str] = Counter()
    for calls in runs:
        total.update(calls)
    per_action = {op: count / len(runs) / actions for op, count in sorted(total.items())}
    text = " ".join(f"{op}={value:.2f}" for op, value in per_action.items())
    return f"{text} (total {sum(per_action.values()):.2f})"


def print_report(runs: list[Repetition], args: argparse.Namespace) -> None:
    median = statistics.median
    bound = lower_bound(args)
    accept = [args.actions / run.accept_seconds for run in runs]
    apply = [run.apply_seconds for run in runs]
    print(
        f"\n{args.actions} actions over {args.orders} orders (each order's actions sent as a burst); W = "
        f"{args.workers} workers; platform latency {args.platform_latency * 1000:.0f} ms per request; DynamoDB "
        f"latency {args.dynamodb_latency * 1000:.0f} ms per call; {len(runs)} repetition(s); min/median/max"
    )
    rows = [
        ("API acceptance", f"{_spread(accept, 0)} actions/s ({args.clients} clients, one request at a time)"),
        ("  DynamoDB calls per action", _per_action([run.accept_calls for run in runs], args.actions)),
        ("apply (queue + worker)", f"{_spread(apply)} s wall, CPU {_spread([run.apply_cpu for run in runs])} s"),
        ("  DynamoDB calls per action", _per_action([run.apply_calls for run in runs], args.actions)),
        (
            "  platform",
            f"applied {median([run.apply_patches['applied'] for run in runs]):.0f}, 409s "
            f"{median([run.apply_patches['conflicts'] for run in runs]):.0f}, orders out of order "
            f"{max(run.apply_patches['out_of_order'] for run in runs)}",
        ),
        ("  lower bound", f"{bound:.2f} s; apply / bound {_spread([value / bound for value in apply])}"),
    ]
    base = [run for run in runs if run.baseline_seconds]
    if base:
        rows += [
            (
                "baseline (straight to platform)",
                f"{_spread([run.baseline_seconds for run in base])} s wall; 409s "
                f"{median([run.baseline_patches['conflicts'] for run in base]):.0f}, orders out of order "
                f"{max(run.baseline_patches['out_of_order'] for run in base)}",
            )
        ]
    for label, value in rows:
        print(f"{label:<34}{value}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--workers", type=int, default=10, help="W: worker batches at once (event source maximum)")
    parser.add_argument("--clients", type=int, default=4, help="API clients sending at once")
    parser.add_argument("--platform-latency", type=float, default=0.05, help="seconds per platform request")
    parser.add_argument("--processing-delay", type=float, default=0.0, help="the platform's busy time per PATCH")
    parser.add_argument("--dynamodb-latency", type=float, default=0.008, help="seconds per DynamoDB call")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-simulator"]:
        _serve_simulator(float(argv[1]), float(argv[2]))
        return
    args = parse_args(argv)
    moto = MotoProcess()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": moto.endpoint,
        }
    )
    simulator = SimulatorProcess(args.platform_latency, args.processing_delay)
    hook = DynamoLatency(args.dynamodb_latency)
    try:
        client = dynamodb_client(moto.endpoint, hook, pool=max(16, 4 * args.workers))
        runs = [repetition(number, args, simulator, client, hook) for number in range(args.repeat)]
    finally:
        simulator.stop()
        moto.stop()
    print_report(runs, args)


if __name__ == "__main__":
    main()
