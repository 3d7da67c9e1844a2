"""Actions through ``ordersync local`` when things go wrong: the simulators' faults turned on from the command
line (``--platform-faults``), and an action worker process killed in the middle of an action."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from test_local_e2e import ROOT, JsonLines, command, environment

TOKEN = "osk_e2e-faults-token"
FINAL = ("succeeded", "failed", "dead_lettered")

pytestmark = pytest.mark.slow


class Local:
    """A running ``ordersync local`` and its API."""

    def __init__(self, process: subprocess.Popen[str], lines: JsonLines, api: str) -> None:
        self.process = process
        self.lines = lines
        self.api = api
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def post_action(self, order_id: str, body: dict[str, Any]) -> str:
        answer = httpx.post(
            f"{self.api}/orders/ticketscloud/{order_id}/actions", headers=self.headers, json=body, timeout=30
        )
        assert answer.status_code == 202, answer.text
        return str(answer.json()["action_id"])

    def action(self, action_id: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.api}/actions/{action_id}", headers=self.headers, timeout=30).json()
        return body

    def wait_final(self, action_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        views: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            views = {action_id: self.action(action_id) for action_id in action_ids}
            if all(view["state"] in FINAL for view in views.values()):
                break
            time.sleep(0.5)
        return views


def start_local(tmp_path: Path, *extra: str) -> Iterator[Local]:
    process = subprocess.Popen(  # noqa: S603 - our own entry point
        command(tmp_path, "--client-token", TOKEN, *extra),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = JsonLines(process)
        ready = lines.wait_for("ready", timeout=120)
        lines.wait_for("examples", timeout=120)
        yield Local(process, lines, ready["api_url"])
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def action_worker_process(parent: int) -> int:
    """The child process running ``functions/action_worker`` (its working directory)."""
    for child in children_of(parent):
        try:
            if Path(os.readlink(f"/proc/{child}/cwd")).name == "action_worker":
                return child
        except OSError:
            continue
    raise AssertionError("no action worker process")


def test_actions_reach_a_final_state_through_local_with_platform_faults_on(tmp_path: Path) -> None:
    faults = "5xx=0.15,429=0.1,retry-after=1,unreadable=0.05,slow=0.05,slow-seconds=1.6"
    local_run = start_local(
        tmp_path, "--speed", "4", "--platform-faults", faults, "--parameter-overrides", "HttpTimeoutSeconds=1"
    )
    local = next(local_run)
    try:
        listed = httpx.get(
            f"{local.api}/orders", params={"platform": "ticketscloud", "limit": 4}, headers=local.headers, timeout=30
        ).json()["orders"]
        order_ids = [order.get("order_id") or order["order"]["order_id"] for order in listed]
        action_ids = [
            local.post_action(order_id, {"vendor_data": {"order_id": f"crm-{n}"}})
            for n in range(3)
            for order_id in order_ids
        ]

        views = local.wait_final(action_ids, timeout=240)

        assert all(view["state"] in FINAL for view in views.values()), views
        assert not [v for v in views.values() if v["state"] == "dead_lettered" and v["attempts"] == 0]
    finally:
        next(local_run, None)


def patch_in_progress(simulator: TicketscloudSimulator, order_id: str) -> bool:
    """Whether the simulator is processing a PATCH of the order (it holds the order's processing mark)."""
    with simulator.lock:
        return order_id in simulator._processing  # the one-change-at-a-time mark the simulator holds


@pytest.fixture
def slow_ticketscloud() -> Iterator[TicketscloudSimulator]:
    """A Ticketscloud whose PATCH takes seconds: long enough to kill the worker in the middle of one."""
    simulator = TicketscloudSimulator(orders=3, seed=5, processing_delay=3.0)
    with simulator.running() as running:
        yield running


def test_a_worker_killed_mid_action_leaves_the_action_final_within_one_reconcile_period_never_running(
    tmp_path: Path, slow_ticketscloud: TicketscloudSimulator
) -> None:
    (order_id,) = slow_ticketscloud.add_orders(1)
    local_run = start_local(tmp_path, "--speed", "60", "--ticketscloud-url", slow_ticketscloud.base_url)
    local = next(local_run)
    try:
        action_id = local.post_action(order_id, {"vendor_data": {"order_id": "crm-killed"}})
        deadline = time.monotonic() + 60
        while not patch_in_progress(slow_ticketscloud, order_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert local.action(action_id)["state"] == "running"
        os.kill(action_worker_process(local.process.pid), signal.SIGKILL)
        killed_at = time.monotonic()

        # The visibility timeout (360 s / 60) plus one reconcile period (5 minutes / 60), and some slack.
        views = local.wait_final([action_id], timeout=6 + 5 + 20)
        view = views[action_id]

        assert view["state"] == "succeeded", view
        assert time.monotonic() - killed_at < 6 + 5 + 20
        patches = slow_ticketscloud.applied_patches(order_id)
        assert view["confirmed_by_read"] is True  # the killed attempt's PATCH had landed: not sent again
        assert len(patches) == 1
    finally:
        next(local_run, None)
