"""The fault benchmark through ``ordersync local``: the whole local runtime (API, FIFO queue into the action worker
process, the reconciler on its schedule) against a Ticketscloud simulator owned by this script, with the faults of
``--platform-faults`` (the same spec; here set on the script's simulator so that double applies, order and 409s
can be counted at the platform). Run:

    python tests/benchmarks/bench_action_faults_local.py --actions 200 --orders 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ordersync_tools.simulators.base import Faults
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "osk_bench-faults-token"
FINAL = ("succeeded", "failed", "dead_lettered")
DEFAULT_FAULTS = "5xx=0.15,429=0.1,retry-after=1,unreadable=0.05,slow=0.05,slow-seconds=1.6"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(lines: list[dict[str, Any]], kind: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((line for line in lines if line.get("type") == kind), None)
        if found is not None:
            return found
        time.sleep(0.2)
    raise SystemExit(f"ordersync local printed no {kind!r} line within {timeout:g}s")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--speed", type=float, default=4.0)
    parser.add_argument("--platform-faults", default=DEFAULT_FAULTS)
    args = parser.parse_args()

    simulator = TicketscloudSimulator(orders=0, seed=13, processing_delay=0.01)
    with simulator.running(), tempfile.TemporaryDirectory() as state_dir:
        order_ids = simulator.add_orders(args.orders)
        command = [
            str(Path(sys.executable).parent / "ordersync"),
            "local",
            "--json",
            "--aws-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
            "--state-dir",
            state_dir,
            "--orders",
            "5",
            "--client-token",
            TOKEN,
            "--speed",
            str(args.speed),
            "--ticketscloud-url",
            simulator.base_url,
            "--parameter-overrides",
            "HttpTimeoutSeconds=1",
        ]
        environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        process = subprocess.Popen(  # noqa: S603 - our own entry point
            command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        lines: list[dict[str, Any]] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("{"):
                    lines.append(json.loads(line))

        threading.Thread(target=read, daemon=True).start()
        try:
            api = wait_for(lines, "ready", 180)["api_url"]
            wait_for(lines, "examples", 180)
            simulator.faults = Faults.parse(args.platform_faults)
            simulator.clear_requests()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            per_order = max(1, args.actions // args.orders)
            expected: dict[str, list[str]] = {}
            action_ids: list[str] = []
            started = time.perf_counter()
            with httpx.Client(base_url=api, headers=headers, timeout=60) as client:
                for n in range(args.actions):
                    order_id = order_ids[(n // per_order) % len(order_ids)]
                    answer = client.post(
                        f"/orders/ticketscloud/{order_id}/actions", json={"vendor_data": {"order_id": f"step-{n}"}}
                    )
                    answer.raise_for_status()
                    action_ids.append(answer.json()["action_id"])
                    expected.setdefault(order_id, []).append(f"step-{n}")
                accepted = time.perf_counter() - started
                views: dict[str, dict[str, Any]] = {}
                pending = list(action_ids)
                while pending and time.perf_counter() - started < 3600:
                    for action_id in pending:
                        views[action_id] = client.get(f"/actions/{action_id}").json()
                    pending = [a for a in pending if views[a]["state"] not in FINAL]
                    time.sleep(1)
            seconds = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        applied = Counter(p.body["vendor_data"]["order_id"] for p in simulator.patch_history if p.status == 200)
        requests = simulator.requests
        states = Counter(view["state"] for view in views.values())
        rows = [
            (
                "actions / orders",
                f"{args.actions} / {args.orders} (--speed {args.speed:g}, faults {args.platform_faults})",
            ),
            ("accepted through the API", f"{accepted:.1f} s"),
            ("all final after", f"{seconds:.1f} s"),
            ("final states", str(dict(sorted(states.items())))),
            (
                "dead-lettered untried",
                str(sum(v["state"] == "dead_lettered" and v["attempts"] == 0 for v in views.values())),
            ),
            ("applied twice", str(sum(count > 1 for count in applied.values()))),
            ("orders out of order", str(out_of_order_applied(simulator, expected))),
            ("overlapping changes (409)", str(len(simulator.conflicts))),
            ("confirmed by read", str(sum(bool(v.get("confirmed_by_read")) for v in views.values()))),
            (
                "platform requests",
                f"{len(requests)} (PATCHes {sum(r.method == 'PATCH' for r in requests)}; minimum {args.actions}), "
                "pollers' reads included",
            ),
        ]
        for label, value in rows:
            print(f"{label:<28}{value}")


if __name__ == "__main__":
    main()
