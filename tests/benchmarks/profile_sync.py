"""Profile of the read path's CPU per order: a full sync, then the no-change sync under ``cProfile``.

Run: ``python tests/benchmarks/profile_sync.py [N] [--platform ticketscloud] [--top 25]`` (default N 2000). The
simulator and moto run in processes of their own (as in ``bench_sync.py``) with no latency, so the profile holds
the poller's own work only. It prints CPU microseconds per order of the full sync (every order new) and of the
no-change sync, then the no-change sync's hottest functions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sync import (
    WHOLE_HISTORY,
    DynamoLatency,
    MotoProcess,
    SimulatorProcess,
    _fresh_tables,
    dynamodb_client,
)

from ordersync.aws.orders_repository import OrderRepository
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import Platform
from ordersync.platforms import profile
from ordersync.sync.engine import PollOptions, PollReport, run_poller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("orders", nargs="?", type=int, default=2000)
    parser.add_argument("--platform", choices=[p.value for p in Platform], default=Platform.TICKETSCLOUD.value)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    platform = Platform(args.platform)
    settings = Settings(poll_concurrency=4)
    moto = MotoProcess()
    simulator = SimulatorProcess(platform, args.orders, 0.0)
    try:
        client = dynamodb_client(moto.endpoint, DynamoLatency(0.0), pool=32)
        _fresh_tables(client, "profile-orders", "profile-poll-state")
        repository = OrderRepository("profile-orders", dynamodb_client=client, write_concurrency=4)
        state = PollStateRepository("profile-poll-state", dynamodb_client=client)
        platform_client = simulator.client()
        orders = int(simulator.info["orders"])

        def sync(run_id: str) -> PollReport:
            return run_poller(
                profile(platform),
                settings=settings,
                client=platform_client,
                repository=repository,
                state_repository=state,
                remaining_time_ms=lambda: 900_000,
                run_id=run_id,
                options=PollOptions.from_settings(profile(platform), settings, lookback=WHOLE_HISTORY),
            )

        cpu = time.process_time()
        full = sync("profile-full")
        full_cpu = time.process_time() - cpu
        profiler = cProfile.Profile()
        cpu = time.process_time()
        profiler.enable()
        unchanged = sync("profile-no-change")
        profiler.disable()
        no_change_cpu = time.process_time() - cpu
        platform_client.close()
    finally:
        simulator.stop()
        moto.stop()
    print(f"{platform.value}, N={orders}: full sync wrote {full.written}, no-change sync wrote {unchanged.written}")
    print(f"CPU per new order       {full_cpu / orders * 1e6:8.1f} us (full sync, {full_cpu:.2f} s)")
    print(f"CPU per unchanged order {no_change_cpu / orders * 1e6:8.1f} us (no-change sync, {no_change_cpu:.2f} s)")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
