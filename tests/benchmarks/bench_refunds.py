"""Benchmark of the refund poll: N orders of which R have an approved refund request, on the Ticketscloud
simulator (live paging of refund requests: one row fewer than asked, a page-local total) and moto.

Run: ``python tests/benchmarks/bench_refunds.py [N] [R]`` (default 2000 orders, 400 refunds). Everything runs on
this machine, in this process: the simulator over HTTP on 127.0.0.1, DynamoDB emulated by moto. It prints, for a
first refund run after a full order sync and for a second run that finds nothing new: requests against the
floor of two windows read to an empty page (``2 * (ceil(R / rows per page) + 1)``), orders written, write units
(moto's consumed capacity is not per KB; item sizes are computed), and seconds.
"""

from __future__ import annotations

import math
import sys
import time
from datetime import timedelta
from pathlib import Path

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # template_tables
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "readpath"))
from ordersync_tools.simulators.base import SimClock
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from readpath_support import FAST_RETRY, create_orders_table, create_poll_state_table

from ordersync.aws.orders_repository import OrderRepository
from ordersync.aws.poll_state_repository import PollStateRepository
from ordersync.config import Settings
from ordersync.models import Platform
from ordersync.platforms import profile
from ordersync.platforms.ticketscloud import TicketscloudClient
from ordersync.sync.engine import PollOptions, PollReport, run_poller
from ordersync.sync.refund_poll import run_refund_poller

PAGE = 200


def main(orders: int, refunds: int) -> None:
    clock = SimClock()
    sim = TicketscloudSimulator(orders=orders, seed=11, clock=clock, processing_delay=0.0, refunds=False)
    done = [payload["id"] for payload in sim.orders_snapshot() if payload["status"] == "done"][:refunds]
    for order_id in done:
        sim.approve_refund(sim.request_refund(order_id))
    clock.advance(timedelta(minutes=5))
    with mock_aws(), sim.running():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        repository = OrderRepository(create_orders_table(dynamodb), dynamodb_client=dynamodb)
        state = PollStateRepository(create_poll_state_table(dynamodb), dynamodb_client=dynamodb)
        client = TicketscloudClient(sim.base_url, sim.token, retry=FAST_RETRY)
        options = PollOptions(lookback=timedelta(hours=2), concurrency=4, clock=clock.now)
        run: dict[str, object] = {
            "settings": Settings(),
            "client": client,
            "repository": repository,
            "state_repository": state,
            "remaining_time_ms": lambda: 900_000,
            "options": options,
        }
        run_poller(profile(Platform.TICKETSCLOUD), run_id="orders", **run)  # type: ignore[arg-type]
        floor = 2 * (math.ceil(len(done) / (PAGE - 1)) + 1)
        for name in ("first", "again"):
            started = time.perf_counter()
            report: PollReport = run_refund_poller(profile(Platform.TICKETSCLOUD), run_id=name, **run)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            print(
                f"refund run {name:5}  N={orders} R={len(done)}  outcome={report.outcome}  "
                f"requests={report.requests} (floor {floor}, at most {floor + 2 * (options.concurrency - 1)})"
                f"  refunds_seen={report.refunds_seen}  written={report.written}  "
                f"write_units={report.write_units:.0f}  {seconds:.2f}s"
            )
            clock.advance(timedelta(minutes=15))
        client.close()


if __name__ == "__main__":
    arguments = [int(value) for value in sys.argv[1:3]]
    main(*(arguments + [2000, 400][len(arguments) :]))
