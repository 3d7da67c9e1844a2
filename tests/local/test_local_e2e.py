"""``ordersync local`` as a user runs it: a subprocess on free ports with the project's own template."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ordersync_tools.local.runtime import port_free
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator

ROOT = Path(__file__).resolve().parents[2]
ORDERSYNC = Path(sys.executable).parent / "ordersync"
TOKEN = "osk_e2e-demo-token"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def command(state_dir: Path, *extra: str) -> list[str]:
    return [
        str(ORDERSYNC),
        "local",
        "--json",
        "--aws-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
        "--state-dir",
        str(state_dir),
        "--orders",
        "20",
        *extra,
    ]


def environment() -> dict[str, str]:
    """The user's environment, without the embedded AWS the test session itself points at."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


class JsonLines:
    """Reads a process's JSON lines on a thread, so the test can wait for one with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def wait_for(self, kind: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if line.get("type") == kind:
                return line
        raise AssertionError(f"no {kind!r} line within {timeout}s; saw {[s.get('type') for s in self.seen]}")


def test_once_polls_all_three_platforms_publishes_events_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: S603 - our own entry point
        command(tmp_path, "--once"),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    summary = next(line for line in lines if line.get("type") == "summary" and line.get("final"))
    assert result.returncode == 0, result.stderr[-3000:] + str(summary["recent_errors"])
    assert summary["exit_code"] == 0
    assert set(summary["orders"]) == {"ticketscloud", "bizon365", "ecards"}
    assert all(sum(counts.values()) == 20 for counts in summary["orders"].values())
    assert summary["events_published"] >= 60
    assert summary["errors"] == 0
    assert (tmp_path / "events.jsonl").read_text(encoding="utf-8").count("\n") == summary["events_published"]
    published = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    kinds = {event["detail-type"] for event in published}
    assert {"Order Refund Requested", "Order Refunded"} <= kinds  # the simulator's seeded refund requests
    refunded = summary["orders"]["ticketscloud"]
    assert refunded.get("partially_refunded", 0) + refunded.get("refunded", 0) >= 1


@pytest.fixture
def ticketscloud() -> Iterator[TicketscloudSimulator]:
    """A Ticketscloud the test owns, given to ``ordersync local`` with ``--ticketscloud-url``."""
    simulator = TicketscloudSimulator(orders=10, seed=7)
    with simulator.running() as running:
        yield running


def test_an_action_sent_over_http_is_applied_at_the_platform_given_on_the_command_line(
    tmp_path: Path, ticketscloud: TicketscloudSimulator
) -> None:
    (order_id,) = ticketscloud.add_orders(1)
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        command(tmp_path, "--ticketscloud-url", ticketscloud.base_url, "--client-token", TOKEN),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = JsonLines(process)
        ready = lines.wait_for("ready", timeout=120)
        lines.wait_for("examples", timeout=120)  # printed once the first polls are done
        api = ready["api_url"]
        headers = {"Authorization": f"Bearer {TOKEN}"}

        accepted = httpx.post(
            f"{api}/orders/ticketscloud/{order_id}/actions",
            headers=headers,
            json={"vendor_data": {"order_id": "crm-e2e"}},
            timeout=30,
        )
        assert accepted.status_code == 202, accepted.text
        action_id = accepted.json()["action_id"]
        state = ""
        deadline = time.monotonic() + 60
        while state not in ("succeeded", "failed", "dead_lettered") and time.monotonic() < deadline:
            time.sleep(0.3)
            state = httpx.get(f"{api}/actions/{action_id}", headers=headers, timeout=30).json()["state"]

        unknown = httpx.get(f"{api}/no-such-route", headers=headers, timeout=30)

        assert ready["platforms"]["ticketscloud"] == ticketscloud.base_url
        assert state == "succeeded"
        assert unknown.status_code == 404  # the template's MISSING_AUTHENTICATION_TOKEN gateway response
        assert unknown.json()["error"] == "not_found"
        patches = ticketscloud.applied_patches(order_id)
        assert [patch.body for patch in patches] == [{"vendor_data": {"order_id": "crm-e2e"}}]

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert lines.wait_for("stopped", timeout=10)
        assert port_free(int(api.rsplit(":", 1)[1]))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
