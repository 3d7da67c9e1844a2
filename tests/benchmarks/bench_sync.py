"""Benchmark of the read path: a full sync and a no-change sync of a simulated platform with N orders.

Run: ``python tests/benchmarks/bench_sync.py [N ...] [--platform ticketscloud|bizon365|ecards]`` (default N: 1000
and 50000, platform Ticketscloud). Everything runs on this machine: the platform simulator in this process over
HTTP on 127.0.0.1, DynamoDB emulated by moto in the same process.

Beside ordersync it runs a plain baseline in the same process: one page at a time at the platform's default page
size, every order written with ``PutItem`` whether it changed or not. Capacity units are computed from item
sizes with DynamoDB's rounding rules (moto's own ``ConsumedCapacity`` does not round per KB); peak memory is the
process's peak RSS during the phase (``VmHWM``, reset before each phase), simulator included for both variants.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "readpath"))
from ordersync_tools.simulators.base import PlatformSimulator, SimClock
from ordersync_tools.simulators.bizon365 import Bizon365Simulator
from ordersync_tools.simulators.ecards import EcardsSimulator
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
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
from ordersync.sync.records import encode_order, to_iso

DEFAULT_PAGE_SIZE = {Platform.TICKETSCLOUD: 50, Platform.BIZON365: 100, Platform.ECARDS: 20}
"""What each platform returns when no page size is asked for (its documented default)."""
WHOLE_HISTORY = timedelta(days=365 * 30)


@dataclass
class Phase:
    variant: str
    phase: str
    orders: int
    seconds: float
    requests: int
    minimum_requests: int
    written: int
    write_units: float
    read_units: float
    peak_rss_mb: float

    @property
    def orders_per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else float("inf")


# -- the environment -------------------------------------------------------------------------------------------
@contextmanager
def embedded_aws() -> Iterator[None]:
    """DynamoDB emulated by moto inside this process: the HTTP hop to a moto server would only add its own
    parsing to every call, for both variants alike, and make a 50,000-order run take many minutes."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        yield


def _reset() -> tuple[str, str]:
    """Fresh tables, as template.yaml defines them (stream and indexes included)."""
    client = boto3.client("dynamodb")
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    return create_orders_table(client), create_poll_state_table(client)


class FrozenClock(SimClock):
    """The platform's clock stands still during a benchmark: no order expires or gets paid between the full
    sync and the no-change sync, so the second one measures a platform where nothing changed."""

    def __init__(self) -> None:
        super().__init__()
        self._frozen = datetime.now(UTC)

    def now(self) -> datetime:
        return self._frozen


def _simulator(platform: Platform, orders: int, clock: SimClock) -> PlatformSimulator:
    if platform is Platform.TICKETSCLOUD:
        return TicketscloudSimulator(orders=orders, seed=3, processing_delay=0.0, clock=clock)
    if platform is Platform.BIZON365:
        return Bizon365Simulator(orders=orders, seed=3, history_days=max(21, orders // 50), clock=clock)
    return EcardsSimulator(orders=orders, seed=3, clock=clock)


def _client(simulator: PlatformSimulator) -> PlatformClient:
    if isinstance(simulator, TicketscloudSimulator):
        return TicketscloudClient(simulator.base_url, simulator.token)
    if isinstance(simulator, Bizon365Simulator):
        return Bizon365Client(simulator.base_url, simulator.token, project_id=simulator.project_id)
    assert isinstance(simulator, EcardsSimulator)
    return EcardsClient(simulator.base_url, simulator.token)


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measure(run: Callable[[], tuple[int, float, float]]) -> tuple[float, int, float, float, float]:
    _reset_peak_rss()
    started = time.perf_counter()
    written, wcu, rcu = run()
    return time.perf_counter() - started, written, wcu, rcu, _peak_rss_mb()


# -- the two variants ------------------------------------------------------------------------------------------
def ordersync_phases(platform: Platform, simulator: PlatformSimulator, orders: int) -> list[Phase]:
    orders_table, state_table = _reset()
    client = _client(simulator)
    repository = OrderRepository(orders_table)
    state = PollStateRepository(state_table)
    settings = Settings(poll_concurrency=4)
    phases = []
    budgets: list[int] = []  # each run's page budget: ceil(N / page size), + 1 where the list ends on an empty page
    for number, phase in enumerate(("full sync", "no-change sync"), start=1):
        simulator.clear_requests()

        def run(run_id: str = f"bench-{number}") -> tuple[int, float, float]:
            report = run_poller(
                profile(platform),
                settings=settings,
                client=client,
                repository=repository,
                state_repository=state,
                remaining_time_ms=lambda: 900_000,
                run_id=run_id,
                options=PollOptions.from_settings(
                    profile(platform), settings, lookback=WHOLE_HISTORY, clock=simulator.clock.now
                ),
            )
            if not report.completed:
                raise RuntimeError(f"ordersync run did not complete: {report.outcome} {report.error}")
            budgets.append(report.page_budget or math.ceil(orders / client.max_page_size))
            return report.written, report.write_units, report.read_units

        seconds, written, wcu, rcu, peak = _measure(run)
        phases.append(
            Phase("ordersync", phase, orders, seconds, len(simulator.requests), budgets[-1], written, wcu, rcu, peak)
        )
    client.close()
    return phases


def baseline_phases(platform: Platform, simulator: PlatformSimulator, orders: int) -> list[Phase]:
    """Page by page at the default page size; ``PutItem`` for every order, changed or not."""
    orders_table, _ = _reset()
    client = _client(simulator)
    dynamodb = boto3.client("dynamodb")
    page_size = DEFAULT_PAGE_SIZE[platform]
    minimum = math.ceil(orders / client.max_page_size)
    passes = profile(platform).list_passes  # Bizon365: without free and with free=1
    # The whole history, as ordersync reads it: without dates Bizon365 answers only its last few days.
    now = simulator.clock.now()
    created_from, created_to = now - WHOLE_HISTORY, now

    def run() -> tuple[int, float, float]:
        written, units = 0, 0.0
        for extra in passes:
            page = 1
            while True:
                query = ListQuery(
                    page=page, page_size=page_size, created_from=created_from, created_to=created_to, extra=extra
                )
                result = client.list_orders(query)
                if not result.orders and not result.quarantined:  # a short page is not the end: an empty one is
                    break
                for order in result.orders:
                    item = _baseline_item(order)
                    dynamodb.put_item(TableName=orders_table, Item=item)
                    written += 1
                    units += write_units(item_size(item))
                page += 1
        return written, units, 0.0

    phases = []
    for phase in ("full sync", "no-change sync"):
        simulator.clear_requests()
        seconds, written, wcu, rcu, peak = _measure(run)
        phases.append(
            Phase("baseline", phase, orders, seconds, len(simulator.requests), minimum, written, wcu, rcu, peak)
        )
    client.close()
    return phases


def _baseline_item(order: Order) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": {"S": order.key},
        "platform": {"S": order.platform.value},
        "status": {"S": order.status.value},
        "last_changed_at": {"S": to_iso(order.created_at)},
    }
    for name, value in encode_order(order).items():
        item[name] = {"S": value} if isinstance(value, str) else {"BOOL": value}
    return item


# -- the table ---------------------------------------------------------------------------------------------------
def print_table(platform: Platform, rows: list[Phase]) -> None:
    header = (
        f"{'N':>7} {'variant':<10} {'phase':<15} {'wall s':>8} {'orders/s':>9} {'requests':>8} {'budget':>7} "
        f"{'written':>8} {'WCU':>9} {'RCU':>9} {'peak RSS MB':>11}"
    )
    print(f"\nplatform: {platform.value}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.orders:>7} {row.variant:<10} {row.phase:<15} {row.seconds:>8.2f} {row.orders_per_second:>9.0f} "
            f"{row.requests:>8} {row.minimum_requests:>7} {row.written:>8} {row.write_units:>9.0f} "
            f"{row.read_units:>9.1f} {row.peak_rss_mb:>11.1f}"
        )
    print("\nratio baseline / ordersync (higher means ordersync does better):")
    for orders in sorted({row.orders for row in rows}):
        for phase in ("full sync", "no-change sync"):
            ours = next(r for r in rows if r.orders == orders and r.phase == phase and r.variant == "ordersync")
            base = next(r for r in rows if r.orders == orders and r.phase == phase and r.variant == "baseline")
            wcu = f"{base.write_units / ours.write_units:.1f}x" if ours.write_units else "inf (ordersync wrote 0)"
            print(
                f"  N={orders:>6} {phase:<15} time {base.seconds / ours.seconds:5.2f}x   "
                f"requests {base.requests / ours.requests:5.2f}x   write units {wcu}   "
                f"peak RSS {base.peak_rss_mb / ours.peak_rss_mb:4.2f}x"
            )


def check_full_syncs(rows: list[Phase]) -> None:
    """Both variants must have stored every order in their full sync, or their figures compare nothing."""
    for row in rows:
        if row.phase == "full sync" and row.written != row.orders:
            raise RuntimeError(f"{row.variant} full sync wrote {row.written} of {row.orders} orders")


def run_benchmark(platform: Platform, sizes: list[int]) -> list[Phase]:
    """Every phase of both variants for each size, the platform simulated in this process."""
    rows: list[Phase] = []
    with embedded_aws():
        for orders in sizes:
            started = time.perf_counter()
            simulator = _simulator(platform, orders, FrozenClock())
            with simulator.running():
                if platform is Platform.BIZON365:
                    orders = len(simulator.orders)  # noqa: PLW2901 - the simulator's count is the truth
                rows += ordersync_phases(platform, simulator, orders)
                rows += baseline_phases(platform, simulator, orders)
            print(f"N={orders}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 50000], help="order counts (default 1000 50000)")
    parser.add_argument("--platform", choices=[p.value for p in Platform], default=Platform.TICKETSCLOUD.value)
    args = parser.parse_args(argv)
    platform = Platform(args.platform)
    rows = run_benchmark(platform, args.sizes)
    print_table(platform, rows)
    check_full_syncs(rows)


if __name__ == "__main__":
    main()
