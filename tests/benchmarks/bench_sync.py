"""Benchmark of the read path against a modelled world: a full, a no-change and a 1%-changed sync of N orders.

Run: ``python tests/benchmarks/bench_sync.py [N ...] [--platform ticketscloud|bizon365|ecards] [--repeat 3]
[--platform-latency 0.15] [--dynamodb-latency 0.008] [--concurrency 4]`` (N: 2000, 20000 or 50000; default 2000).

What it models, so that the figures are about ordersync and not about the emulators:

* the platform simulator runs in a process of its own, with its latency fault set (seconds per request);
* DynamoDB is moto in server mode, in a process of its own, reached over HTTP;
* every DynamoDB call of the poller's process goes through a botocore ``before-send`` hook that sleeps for the
  DynamoDB latency and counts the call by operation, for ordersync and the baseline alike.

So the CPU time printed (``time.process_time`` of this process over the phase) is the poller's own, and the wall
time is what latency and concurrency make of it. Beside ordersync, in the same run and against the same
simulator, a naive baseline reads one page at a time at the platform's default page size and writes every order
with ``PutItem`` whether it changed or not.

Per phase it prints wall and CPU seconds (min/median/max over the repetitions), platform requests against the
minimum, DynamoDB calls by operation, items written, write and read units (DynamoDB's rounding per item), bytes
per stored item, peak RSS of this process, and the physical lower bound
``max(ceil(minimum requests / concurrency) * platform latency, ceil(writes / concurrency) * DynamoDB latency)``
with the ratio of the median wall time to it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "readpath"))
from readpath_support import create_orders_table, create_poll_state_table

from ordersync.aws.orders_repository import OrderRepository, item_size, write_units
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import Order, Platform
from ordersync.platform_port import ListQuery, PlatformClient
from ordersync.platforms import profile
from ordersync.platforms.bizon365 import Bizon365Client
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.sync.engine import PollOptions, run_poller
from ordersync.sync.records import to_iso

DEFAULT_PAGE_SIZE = {Platform.TICKETSCLOUD: 50, Platform.BIZON365: 100, Platform.ECARDS: 20}
"""What each platform returns when no page size is asked for (its documented default): the baseline's page."""
WHOLE_HISTORY = timedelta(days=365 * 30)
CHANGED_SHARE = 0.01
PHASES = ("full", "no-change", "1% changed")


# -- the platform, in a process of its own ----------------------------------------------------------------------
def _serve_simulator(platform_value: str, orders: int, latency: float) -> None:
    """The simulator's process: build it on a frozen clock, serve it, and answer the benchmark's commands."""
    from ordersync_tools.simulators.base import SimClock
    from ordersync_tools.simulators.bizon365 import Bizon365Simulator
    from ordersync_tools.simulators.ecards import EcardsSimulator
    from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator

    class FrozenClock(SimClock):
        """No order expires or gets paid between phases: a no-change sync meets a platform where nothing changed."""

        def __init__(self) -> None:
            super().__init__()
            self._frozen = datetime.now(UTC)

        def now(self) -> datetime:
            return self._frozen

    platform = Platform(platform_value)
    clock = FrozenClock()
    simulator: Any
    if platform is Platform.TICKETSCLOUD:
        simulator = TicketscloudSimulator(orders=orders, seed=3, processing_delay=0.0, clock=clock)
    elif platform is Platform.BIZON365:
        simulator = Bizon365Simulator(orders=orders, seed=3, history_days=max(21, orders // 50), clock=clock)
    else:
        simulator = EcardsSimulator(orders=orders, seed=3, clock=clock)
    simulator.faults.latency = latency

    def answer(value: Any) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    with simulator.running():
        answer(
            {
                "base_url": simulator.base_url,
                "token": simulator.token,
                "project_id": getattr(simulator, "project_id", None),
                "orders": len(simulator.orders) if platform is Platform.BIZON365 else orders,
            }
        )
        rounds = 0
        for line in sys.stdin:
            command, argument = json.loads(line)
            if command == "stop":
                return
            if command == "clear":
                simulator.clear_requests()
                answer(None)
            elif command == "requests":
                answer(len(simulator.requests))
            elif command == "change":
                rounds += 1
                answer(_change_orders(simulator, platform, argument, rounds))


def _change_orders(simulator: Any, platform: Platform, share: float, rounds: int) -> int:
    """Change ``share`` of the orders in a way the platform's list shows; how many changed (0: not supported)."""
    if platform is not Platform.TICKETSCLOUD:
        return 0
    ids = simulator.order_ids()
    step = max(1, round(1 / share))
    with simulator.lock:
        for order_id in ids[::step]:
            simulator._order(order_id).vendor_data = {"benchmark_round": rounds}
    return len(ids[::step])


class SimulatorProcess:
    """The simulator in a child process (this file run with ``--serve-simulator``), driven by JSON lines."""

    def __init__(self, platform: Platform, orders: int, latency: float) -> None:
        command = [sys.executable, __file__, "--serve-simulator", platform.value, str(orders), str(latency)]
        self._process = subprocess.Popen(  # noqa: S603 - this very file, with arguments of its own making
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
        )
        self.info: dict[str, Any] = self._read()
        self.platform = platform

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

    def client(self) -> PlatformClient:
        base_url, token = self.info["base_url"], self.info["token"]
        if self.platform is Platform.TICKETSCLOUD:
            return TicketscloudClient(base_url, token)
        if self.platform is Platform.BIZON365:
            return Bizon365Client(base_url, token, project_id=self.info["project_id"])
        return EcardsClient(base_url, token)

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(["stop", None]) + "\n")
            self._process.stdin.close()
            self._process.wait(timeout=10)


# -- DynamoDB: moto server in a process of its own, latency per call in this one --------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoProcess:
    def __init__(self) -> None:
        self.port = _free_port()
        self._process = subprocess.Popen(  # noqa: S603 - moto's own server module
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.1)
            else:
                return
        raise RuntimeError("moto server did not start")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a busy moto server can be slow to finish its threads
            self._process.kill()
            self._process.wait(timeout=10)


class DynamoLatency:
    """A botocore ``before-send`` handler: count the call by operation, then sleep for the modelled latency."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.calls[event_name.rsplit(".", 1)[-1]] += 1
        if self.latency:
            time.sleep(self.latency)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


def dynamodb_client(endpoint: str, hook: DynamoLatency, pool: int) -> Any:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=pool, retries={"max_attempts": 3, "mode": "standard"}),
    )
    client.meta.events.register("before-send.dynamodb", hook)
    return client


# -- measurements ------------------------------------------------------------------------------------------------
@dataclass
class Run:
    wall: float
    cpu: float
    requests: int
    calls: dict[str, int]
    written: int
    write_units: float
    read_units: float
    bytes_per_item: float
    peak_rss_mb: float


@dataclass
class Row:
    variant: str
    phase: str
    orders: int
    minimum_requests: int
    must_write: int
    runs: list[Run] = field(default_factory=list)


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(
    simulator: SimulatorProcess, hook: DynamoLatency, body: Callable[[], tuple[int, float, float]]
) -> tuple[float, float, int, dict[str, int], int, float, float, float]:
    simulator.ask("clear")
    hook.reset()
    _reset_peak_rss()
    cpu, wall = time.process_time(), time.perf_counter()
    written, wcu, rcu = body()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, simulator.ask("requests"), dict(hook.calls), written, wcu, rcu, _peak_rss_mb()


def _mean_item_bytes(client: Any, table: str) -> float:
    """Average size of the stored items, read back outside the timed phase (``item_bytes`` or computed)."""
    sizes: list[int] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            sizes.append(int(item["item_bytes"]["N"]) if "item_bytes" in item else item_size(item))
    return statistics.fmean(sizes) if sizes else 0.0


def _fresh_tables(client: Any, *names: str) -> None:
    existing = set(client.list_tables()["TableNames"])
    for name in names:
        if name in existing:
            client.delete_table(TableName=name)
    create_orders_table(client, names[0])
    if len(names) > 1:
        create_poll_state_table(client, names[1])


# -- the two variants --------------------------------------------------------------------------------------------
def ordersync_repetition(
    platform: Platform,
    simulator: SimulatorProcess,
    client: Any,
    hook: DynamoLatency,
    rows: dict[str, Row],
    *,
    settings: Settings,
    repeat: int,
) -> None:
    orders_table, state_table = "bench-orders", "bench-poll-state"
    _fresh_tables(client, orders_table, state_table)
    concurrency = settings.poll_concurrency
    repository = OrderRepository(orders_table, dynamodb_client=client, write_concurrency=concurrency)
    state = PollStateRepository(state_table, dynamodb_client=client)
    platform_client = simulator.client()
    try:
        for number, phase in enumerate(PHASES, start=1):
            if phase == "1% changed" and not simulator.ask("change", CHANGED_SHARE):
                continue

            def body(run_id: str = f"bench-{repeat}-{number}", phase: str = phase) -> tuple[int, float, float]:
                report = run_poller(
                    profile(platform),
                    settings=settings,
                    client=platform_client,
                    repository=repository,
                    state_repository=state,
                    remaining_time_ms=lambda: 900_000,
                    run_id=run_id,
                    options=PollOptions.from_settings(profile(platform), settings, lookback=WHOLE_HISTORY),
                )
                if not report.completed:
                    raise RuntimeError(f"ordersync run did not complete: {report.outcome} {report.error}")
                # The run's page budget: ceil(N / page size) per window read, + 1 where a list ends on an empty page.
                rows[phase].minimum_requests = report.page_budget or rows[phase].minimum_requests
                return report.written, report.write_units, report.read_units

            wall, cpu, requests, calls, written, wcu, rcu, peak = _measure(simulator, hook, body)
            size = _mean_item_bytes(client, orders_table) if phase == "full" else 0.0
            rows[phase].runs.append(Run(wall, cpu, requests, calls, written, wcu, rcu, size, peak))
            _progress(rows[phase])
    finally:
        platform_client.close()


def baseline_repetition(
    platform: Platform,
    simulator: SimulatorProcess,
    client: Any,
    hook: DynamoLatency,
    rows: dict[str, Row],
    *,
    phases: Sequence[str] = PHASES,
) -> None:
    """Page by page at the default page size; ``PutItem`` for every order, changed or not (so its three phases
    do the same work: ``--baseline-phases full`` runs only the first on a busy machine)."""
    table = "bench-baseline"
    _fresh_tables(client, table)
    platform_client = simulator.client()
    page_size = DEFAULT_PAGE_SIZE[platform]
    passes = profile(platform).list_passes  # Bizon365: without free and with free=1
    now = datetime.now(UTC)
    created_from, created_to = now - WHOLE_HISTORY, now
    sizes: list[int] = []

    def body() -> tuple[int, float, float]:
        written, units = 0, 0.0
        for extra in passes:
            page = 1
            while True:
                query = ListQuery(
                    page=page, page_size=page_size, created_from=created_from, created_to=created_to, extra=extra
                )
                result = platform_client.list_orders(query)
                if not result.orders and not result.quarantined:  # a short page is not the end: an empty one is
                    break
                for order in result.orders:
                    item = _baseline_item(order)
                    client.put_item(TableName=table, Item=item)
                    written += 1
                    size = item_size(item)
                    sizes.append(size)
                    units += write_units(size)
                page += 1
        return written, units, 0.0

    try:
        for phase in phases:
            if phase == "1% changed" and not simulator.ask("change", CHANGED_SHARE):
                continue
            sizes.clear()
            wall, cpu, requests, calls, written, wcu, rcu, peak = _measure(simulator, hook, body)
            size = statistics.fmean(sizes) if sizes else 0.0
            rows[phase].runs.append(Run(wall, cpu, requests, calls, written, wcu, rcu, size, peak))
            _progress(rows[phase])
    finally:
        platform_client.close()


def _progress(row: Row) -> None:
    """One line per phase on stderr, so that a long run shows (and keeps) its figures as it goes."""
    run = row.runs[-1]
    print(
        f"N={row.orders} {row.variant} {row.phase}: wall {run.wall:.2f} s, CPU {run.cpu:.2f} s, "
        f"requests {run.requests}, written {run.written}, calls {run.calls}",
        file=sys.stderr,
    )


def _baseline_item(order: Order) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": order.key},
        "platform": {"S": order.platform.value},
        "status": {"S": order.status.value},
        "last_changed_at": {"S": to_iso(order.created_at)},
        "order": {"S": order.model_dump_json()},
    }
    return item


# -- the report --------------------------------------------------------------------------------------------------
def _spread(values: Sequence[float], digits: int = 2) -> str:
    if not values:
        return "-"
    return "/".join(f"{value:.{digits}f}" for value in (min(values), statistics.median(values), max(values)))


def lower_bound(row: Row, *, concurrency: int, platform_latency: float, dynamodb_latency: float) -> float:
    """The physical floor of the phase's work: the platform pages at ``concurrency`` in flight, or the writes
    at ``concurrency`` threads, whichever takes longer."""
    fetching = math.ceil(row.minimum_requests / concurrency) * platform_latency
    writing = math.ceil(row.must_write / concurrency) * dynamodb_latency
    return max(fetching, writing)


def print_report(rows: list[Row], args: argparse.Namespace) -> None:
    print(
        f"\nplatform {args.platform}; platform latency {args.platform_latency * 1000:.0f} ms per request; DynamoDB "
        f"latency {args.dynamodb_latency * 1000:.0f} ms per call; PollConcurrency {args.concurrency}; "
        f"{args.repeat} repetition(s) (baseline: {args.baseline_repeat}); wall and CPU as min/median/max"
    )
    header = (
        f"{'N':>6} {'variant':<9} {'phase':<10} {'wall s':>17} {'CPU s':>17} {'req/min':>11} {'written':>7} "
        f"{'WCU':>7} {'RCU':>7} {'B/item':>6} {'peak MB':>7} {'bound s':>7} {'x bound':>7}  DynamoDB calls"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if not row.runs:
            continue
        runs = row.runs
        median = statistics.median
        bound = lower_bound(
            row,
            concurrency=args.concurrency,
            platform_latency=args.platform_latency,
            dynamodb_latency=args.dynamodb_latency,
        )
        wall = median([run.wall for run in runs])
        calls: Counter[str] = Counter()
        for run in runs:
            calls.update(run.calls)
        calls_text = " ".join(f"{op}={round(count / len(runs))}" for op, count in sorted(calls.items()))
        sizes = [run.bytes_per_item for run in runs if run.bytes_per_item]
        print(
            f"{row.orders:>6} {row.variant:<9} {row.phase:<10} {_spread([r.wall for r in runs]):>17} "
            f"{_spread([r.cpu for r in runs]):>17} "
            f"{median([r.requests for r in runs]):>5.0f}/{row.minimum_requests:<5} "
            f"{median([r.written for r in runs]):>7.0f} {median([r.write_units for r in runs]):>7.0f} "
            f"{median([r.read_units for r in runs]):>7.0f} {median(sizes) if sizes else 0:>6.0f} "
            f"{max(r.peak_rss_mb for r in runs):>7.0f} {bound:>7.2f} {wall / bound if bound else 0:>7.2f}  {calls_text}"
        )
    print("\nbaseline / ordersync, median wall time (higher: ordersync faster); CPU per order of ordersync:")
    for orders in sorted({row.orders for row in rows}):
        for phase in PHASES:
            ours = next((r for r in rows if (r.orders, r.phase, r.variant) == (orders, phase, "ordersync")), None)
            base = next((r for r in rows if (r.orders, r.phase, r.variant) == (orders, phase, "baseline")), None)
            if ours is None or not ours.runs:
                continue
            cpu_us = statistics.median([r.cpu for r in ours.runs]) / orders * 1e6
            ours_wall = statistics.median([r.wall for r in ours.runs])
            speedup = (
                f"{statistics.median([r.wall for r in base.runs]) / ours_wall:6.1f}x"
                if base is not None and base.runs
                else "     -"
            )
            print(f"  N={orders:>6} {phase:<10} speed-up {speedup}   ordersync CPU {cpu_us:6.1f} us per order")


# -- the run -----------------------------------------------------------------------------------------------------
def run_benchmark(args: argparse.Namespace) -> list[Row]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    platform = Platform(args.platform)
    settings = Settings(poll_concurrency=args.concurrency)
    hook = DynamoLatency(args.dynamodb_latency)
    moto = MotoProcess()
    rows: list[Row] = []
    try:
        client = dynamodb_client(moto.endpoint, hook, pool=max(16, 4 * args.concurrency))
        for size in args.sizes:
            started = time.perf_counter()
            simulator = SimulatorProcess(platform, size, args.platform_latency)
            try:
                orders = int(simulator.info["orders"])
                page_size = simulator.client().max_page_size
                minimum = math.ceil(orders / page_size)
                changed = len(range(0, orders, max(1, round(1 / CHANGED_SHARE))))
                must_write = {"full": orders, "no-change": 0, "1% changed": changed}
                ours = {phase: Row("ordersync", phase, orders, minimum, must_write[phase]) for phase in PHASES}
                base = {phase: Row("baseline", phase, orders, minimum, must_write[phase]) for phase in PHASES}
                for repeat in range(args.repeat):
                    ordersync_repetition(platform, simulator, client, hook, ours, settings=settings, repeat=repeat)
                    for phase in PHASES:  # the same minimum for both variants: ordersync's run measured it
                        base[phase].minimum_requests = ours[phase].minimum_requests
                    if repeat < args.baseline_repeat:
                        baseline_repetition(platform, simulator, client, hook, base, phases=args.baseline_phases)
                    print(f"N={orders}: repetition {repeat + 1} done", file=sys.stderr)
                rows += [*ours.values(), *base.values()]
            finally:
                simulator.stop()
            print(f"N={size}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    finally:
        moto.stop()
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sizes", nargs="*", type=int, default=[2000], help="order counts (default 2000)")
    parser.add_argument("--platform", choices=[p.value for p in Platform], default=Platform.TICKETSCLOUD.value)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of ordersync's phases (default 3)")
    parser.add_argument("--baseline-repeat", type=int, default=3, help="repetitions of the baseline (0: none)")
    parser.add_argument(
        "--baseline-phases", nargs="+", choices=PHASES, default=list(PHASES), help="the baseline's phases (all)"
    )
    parser.add_argument("--platform-latency", type=float, default=0.15, help="seconds per platform request")
    parser.add_argument("--dynamodb-latency", type=float, default=0.008, help="seconds per DynamoDB call")
    parser.add_argument("--concurrency", type=int, default=4, help="PollConcurrency (default 4)")
    return parser.parse_args(argv)


def check_full_syncs(rows: list[Row]) -> None:
    """Both variants must have stored every order in their full sync, or their figures compare nothing."""
    for row in rows:
        for run in row.runs:
            if row.phase == "full" and run.written != row.orders:
                raise RuntimeError(f"{row.variant} full sync wrote {run.written} of {row.orders} orders")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-simulator"]:
        _serve_simulator(argv[1], int(argv[2]), float(argv[3]))
        return
    args = parse_args(argv)
    rows = run_benchmark(args)
    print_report(rows, args)
    check_full_syncs(rows)


if __name__ == "__main__":
    main()
