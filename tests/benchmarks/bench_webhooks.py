"""Benchmark of webhooks in: how long from an order paid at the platform to its ``Order Status Changed`` event,
through ``ordersync local`` with the project's template, polling set to once an hour (so only webhooks move it).

Run: ``python tests/benchmarks/bench_webhooks.py [--changes 50] [--flood 1000]``. Everything runs on this machine
in one process: moto, the Ticketscloud simulator, the local API and one warm process per function. Each change is
one order paid at the simulator (whose webhook the local API receives); the lag is measured until the event shows
in the runtime's event log (``events.jsonl``, read every 20 ms). The changes run one after another, so each is
measured alone.

Beside it, the poll-only figure: without webhooks a change waits for the next list poll, so its lag is uniform over
the poll period plus the poll's run (median period/2 + run, worst period + run); the run is measured here (one
Ticketscloud poll of the simulator's orders) and the period is the template's default ``TicketscloudPollRate``.

Then a flood: 1,000 webhooks for 10 orders paced over 10 seconds while the Ticketscloud poller runs: the receiver's
answers and answer times, the platform's reads of each order, and whether the poll run completed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from ordersync_tools.local.schedules import rate_seconds
from ordersync_tools.local.template import load_template
from webhook_support import events_of, local_runtime, wait_for, webhook_url

from ordersync.models import Platform

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=50, help="orders paid, one after another (default 50)")
    parser.add_argument("--orders", type=int, default=100, help="orders the simulator starts with (default 100)")
    parser.add_argument("--flood", type=int, default=1000, help="webhooks of the flood phase (default 1000; 0: none)")
    parser.add_argument("--flood-orders", type=int, default=10, help="orders the flood names (default 10)")
    parser.add_argument("--flood-seconds", type=float, default=10.0, help="spread over (default 10 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state, local_runtime(Path(state), simulator_orders=args.orders) as runtime:
        simulator = runtime.simulators[Platform.TICKETSCLOUD]
        assert runtime.resources is not None
        poller = next(s for s in runtime.resources.schedules if s.function_id == "TicketscloudPollerFunction")
        started = time.monotonic()
        assert runtime.run_schedule(poller).ok  # the orders already there, and the poll run's duration
        poll_run = time.monotonic() - started
        order_ids = simulator.add_orders(args.changes)
        if not wait_for(lambda: all(events_of(runtime, o, "Order Created") for o in order_ids), timeout=120):
            print("the new orders did not all arrive by webhook within 120 s", file=sys.stderr)
            return 1
        lags: list[float] = []
        for order_id in order_ids:
            changed = time.monotonic()
            simulator.pay(order_id)
            if not wait_for(lambda o=order_id: events_of(runtime, o, "Order Status Changed"), timeout=60):
                print(f"order {order_id}: no Order Status Changed within 60 s", file=sys.stderr)
                return 1
            lags.append(time.monotonic() - changed)
        flood = _flood(runtime, poller, args.flood, args.flood_orders, args.flood_seconds) if args.flood else None
        summary = runtime.summary().get("webhooks", {})
    period = _default_poll_period()
    print(f"order paid at the platform -> its Order Status Changed event, {len(lags)} changes, polling hourly")
    median, worst, best = statistics.median(lags), max(lags), min(lags)
    print(f"  by webhook : median {median:6.2f} s   worst {worst:6.2f} s   best {best:6.2f} s")
    print(
        f"  poll only  : median {period / 2 + poll_run:6.1f} s   worst {period + poll_run:6.1f} s"
        f"   (TicketscloudPollRate default, {period:.0f} s, plus one poll run measured here: {poll_run:.2f} s)"
    )
    print(f"  webhooks   : {summary}")
    if flood is not None:
        print(flood)
    return 0


def _flood(runtime: Any, poller: Any, count: int, orders: int, seconds: float) -> str:
    """``count`` webhooks naming ``orders`` orders, sent at an even pace over ``seconds`` by 8 threads, while the
    Ticketscloud poller runs; the platform's reads of each order by id are counted at the simulator."""
    simulator = runtime.simulators[Platform.TICKETSCLOUD]
    order_ids = simulator.add_orders(orders)
    wait_for(lambda: all(events_of(runtime, o, "Order Created") for o in order_ids), timeout=60)
    time.sleep(3)
    simulator.clear_requests()
    url = webhook_url(runtime)
    bodies = [json.dumps({"type": "order_done", "data": {"id": order_ids[i % orders]}}) for i in range(count)]
    started = time.monotonic()

    def send(index: int, http: httpx.Client) -> tuple[int, float]:
        time.sleep(max(0.0, started + index * seconds / count - time.monotonic()))
        sent = time.monotonic()
        status = http.post(url, content=bodies[index]).status_code
        return status, time.monotonic() - sent

    with ThreadPoolExecutor(max_workers=9) as pool, httpx.Client(timeout=30) as http:
        poll = pool.submit(runtime.run_schedule, poller)
        answers = list(pool.map(lambda i: send(i, http), range(count)))
        poll_ok = poll.result().ok
    elapsed = time.monotonic() - started
    time.sleep(4)  # the last windows' reads
    reads = Counter(
        r.path.rsplit("/", 1)[-1]
        for r in simulator.requests
        if r.method == "GET" and r.path.rsplit("/", 1)[-1] in order_ids
    )
    latencies = sorted(latency for _, latency in answers)
    statuses = Counter(status for status, _ in answers)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return (
        f"flood: {count} webhooks for {orders} orders in {elapsed:.1f} s (paced over {seconds:g} s), answers "
        f"{dict(statuses)}; answer time median {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; "
        f"platform reads per order: max {max(reads.values(), default=0)}, total {sum(reads.values())}; "
        f"poller run during the flood: {'completed' if poll_ok else 'FAILED'}"
    )


def _default_poll_period() -> float:
    template = load_template(ROOT / "template.yaml")
    period = rate_seconds(str(template["Parameters"]["TicketscloudPollRate"]["Default"]))
    return period or 300.0


if __name__ == "__main__":
    sys.exit(main())
