"""Stopping the runtime closes everything it started (what Ctrl-C does)."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter, port_free


def test_stop_releases_every_port(tiny_project: Path, tmp_path: Path) -> None:
    options = LocalOptions(template=tiny_project, api_port=0, aws_port=0, state_dir=tmp_path, simulator_orders=1)
    local = LocalRuntime(options, Reporter(io.StringIO(), json_lines=True))
    with local.running():
        ports = [int(local.endpoint.rsplit(":", 1)[1]), local.gateways[0].port]
        ports += [int(url.rsplit(":", 1)[1]) for url in local.platform_urls.values()]
        assert not any(port_free(port) for port in ports)

    assert all(port_free(port) for port in ports)
    assert all(container._process is None for container in local.containers.values())


def test_running_fires_schedules_at_their_rate_times_speed_and_prints_summaries_until_stopped(
    tiny_project: Path, tmp_path: Path
) -> None:
    output = io.StringIO()
    options = LocalOptions(
        template=tiny_project, api_port=0, aws_port=0, state_dir=tmp_path, simulator_orders=1, speed=600
    )
    local = LocalRuntime(options, Reporter(output, json_lines=True))
    with local.running():
        loop = threading.Thread(target=local.run_forever, kwargs={"summary_interval": 0.2})
        loop.start()
        deadline = time.monotonic() + 30
        # The events of the first polls pass through the stream and the bus after the polls: on a loaded
        # machine, wait until a printed summary has counted them too, rather than stop as the third poll ends.
        while time.monotonic() < deadline and not (
            local.poll_stats["PollerFunction"]["ok"] >= 3 and printed_events(output) >= 3
        ):
            time.sleep(0.1)
        local.stopping.set()
        loop.join(timeout=15)

    assert not loop.is_alive()
    assert local.poll_stats["PollerFunction"]["ok"] >= 3  # rate(5 minutes) / 600 = every 0.5 s
    summaries = [json.loads(line) for line in output.getvalue().splitlines() if '"summary"' in line]
    assert summaries
    assert summaries[-1]["events_published"] >= 3


def printed_events(output: io.StringIO) -> int:
    """``events_published`` of the last summary printed so far (0 before the first)."""
    summaries = [json.loads(line) for line in output.getvalue().splitlines() if '"summary"' in line]
    return int(summaries[-1]["events_published"]) if summaries else 0


def test_the_live_summary_redraws_over_itself_but_never_over_lines_printed_since() -> None:
    output = io.StringIO()
    reporter = Reporter(output, json_lines=False)

    reporter.block("a\nb", redraw=True)
    reporter.block("c\nd", redraw=True)
    reporter.line("try: curl ...")
    reporter.block("e\nf", redraw=True)

    assert output.getvalue() == "a\nb\n\x1b[2F\x1b[Jc\nd\ntry: curl ...\ne\nf\n"
