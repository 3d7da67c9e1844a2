"""``ordersync simulate``: the command serves the three simulators over real HTTP, each usable by its client."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from ordersync_tools.cli import main

from ordersync.models import OrderStatus, Platform
from ordersync.platform_port import ListQuery
from ordersync.platforms.bizon365 import Bizon365Client
from ordersync.platforms.ecards import EcardsClient
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import TicketscloudClient

STARTUP_SECONDS = 20.0
LINE = re.compile(r"^(?P<platform>\w+)\s+(?P<url>http://\S+)\s+token=(?P<token>\S+)(?:\s+project=(?P<project>\S+))?$")
NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Served:
    url: str
    token: str
    project: str | None


class SimulateCommand:
    """``ordersync simulate`` in its own process, with the lines it printed readable without blocking forever."""

    def __init__(self, *args: str) -> None:
        code = "import sys; from ordersync_tools.cli import main; sys.exit(main())"
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, "-c", code, "simulate", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))

    def served(self) -> dict[Platform, Served]:
        """The simulators it announced, once it says it is serving."""
        served: dict[Platform, Served] = {}
        while True:
            try:
                line = self._lines.get(timeout=STARTUP_SECONDS)
            except queue.Empty:
                pytest.fail(f"ordersync simulate printed nothing for {STARTUP_SECONDS}s")
            if line.startswith("Serving"):
                return served
            match = LINE.match(line)
            if match is None:
                pytest.fail(f"unexpected output of ordersync simulate: {line!r}")
            served[Platform(match["platform"])] = Served(match["url"], match["token"], match["project"])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


@pytest.fixture(scope="module")
def served() -> Iterator[dict[Platform, Served]]:
    command = SimulateCommand("all", "--port", "0", "--orders", "30", "--seed", "3")
    try:
        yield command.served()
    finally:
        command.stop()


def test_all_with_port_0_serves_the_three_platforms_on_their_own_free_ports(served: dict[Platform, Served]) -> None:
    assert set(served) == set(Platform)
    ports = {httpx.URL(item.url).port for item in served.values()}
    assert len(ports) == 3
    assert all(port is not None and port > 1024 for port in ports)
    assert {httpx.URL(item.url).host for item in served.values()} == {"127.0.0.1"}


def test_the_ticketscloud_client_reads_the_served_simulator_with_a_filter(served: dict[Platform, Served]) -> None:
    sim = served[Platform.TICKETSCLOUD]
    with TicketscloudClient(sim.url, sim.token, retry=NO_RETRY) as client:
        everything = client.list_orders(ListQuery())
        done = client.list_orders(ListQuery(raw_statuses=("done",)))

    assert everything.total == 30
    assert done.orders
    assert {order.raw_status for order in done.orders} == {"done"}
    assert {order.status for order in done.orders} == {OrderStatus.FULFILLED}


def test_the_bizon365_client_reads_the_served_simulator_with_the_printed_project(
    served: dict[Platform, Served],
) -> None:
    sim = served[Platform.BIZON365]
    assert sim.project is not None
    with Bizon365Client(sim.url, sim.token, project_id=sim.project, retry=NO_RETRY) as client:
        page = client.list_orders(ListQuery(page_size=5, extra={"days": "30"}))

    assert len(page.orders) == 5
    assert page.total is not None
    assert page.total >= 5


def test_the_ecards_client_reads_the_served_simulator_twenty_a_page(served: dict[Platform, Served]) -> None:
    sim = served[Platform.ECARDS]
    with EcardsClient(sim.url, sim.token, retry=NO_RETRY) as client:
        first = client.list_orders(ListQuery(page=1))
        second = client.list_orders(ListQuery(page=2))

    assert len(first.orders) == 20
    assert len(second.orders) == 10
    assert first.total_pages == 2


@pytest.mark.parametrize(
    ("platform", "path", "params", "header"),
    [
        (Platform.TICKETSCLOUD, "/v2/resources/orders", {"page_size": "201"}, "key"),
        (Platform.BIZON365, "/api/v2/{project}/orders/getorders", {"limit": "101"}, "X-Token"),
        (Platform.ECARDS, "/v1/orders", {"page": "0"}, "Bearer"),
    ],
)
def test_a_value_out_of_range_gets_400_from_each_served_simulator(
    served: dict[Platform, Served], platform: Platform, path: str, params: dict[str, str], header: str
) -> None:
    sim = served[platform]
    headers = {header: sim.token} if header == "X-Token" else {"Authorization": f"{header} {sim.token}"}

    response = httpx.get(f"{sim.url}{path.format(project=sim.project)}", params=params, headers=headers, timeout=5)

    assert response.status_code == 400
    assert response.json()


def test_a_wrong_token_is_refused_by_each_served_simulator(served: dict[Platform, Served]) -> None:
    """As the platforms do live: Ticketscloud's ``403 {"reason": "forbidden"}``, the others' ``401``."""
    paths = {
        Platform.TICKETSCLOUD: "/v2/resources/orders",
        Platform.BIZON365: f"/api/v2/{served[Platform.BIZON365].project}/orders/getorders",
        Platform.ECARDS: "/v1/orders",
    }

    statuses = {
        platform: httpx.get(
            f"{served[platform].url}{path}", headers={"Authorization": "key wrong", "X-Token": "wrong"}, timeout=5
        ).status_code
        for platform, path in paths.items()
    }

    assert statuses == dict.fromkeys(Platform, 401) | {Platform.TICKETSCLOUD: 403}


def test_one_platform_is_served_alone_and_sigterm_stops_it_cleanly() -> None:
    command = SimulateCommand("ecards", "--port", "0", "--orders", "3")
    try:
        served = command.served()
        [sim] = served.values()
        assert list(served) == [Platform.ECARDS]
        assert httpx.get(f"{sim.url}/v1/orders", headers={"Authorization": f"Bearer {sim.token}"}).status_code == 200
    finally:
        exit_code = command.stop()

    assert exit_code == 0


def test_tidy_serves_the_docs_behaviour_instead_of_the_live_one() -> None:
    command = SimulateCommand("ticketscloud", "--port", "0", "--orders", "3", "--tidy")
    try:
        [sim] = command.served().values()
        answer = httpx.get(f"{sim.url}/v2/resources/orders", headers={"Authorization": "key wrong"}, timeout=5)
    finally:
        command.stop()

    assert answer.status_code == 401
    assert answer.json()["errors"][0]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "arguments",
    [["--orders", "-1"], ["--port", "-5"], ["--port", "65535"], ["--orders", "many"]],
    ids=["negative-orders", "negative-port", "no-room-for-three-ports", "not-a-number"],
)
def test_an_impossible_option_is_a_usage_error_before_anything_starts(
    arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["simulate", "all", *arguments])

    assert raised.value.code == 2
    assert "usage:" in capsys.readouterr().err
