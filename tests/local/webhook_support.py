"""Helpers of the webhook tests and benchmark: ``ordersync local`` with the project's template in this process,
polling once an hour so that only webhooks move orders, and a subscriber endpoint that records what it receives."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ordersync_tools.local.runtime import LocalOptions, LocalRuntime, Reporter
from ordersync_tools.quiet_server import QuietHTTPServer

ROOT = Path(__file__).resolve().parents[2]
HOURLY = {
    "TicketscloudPollRate": "rate(1 hour)",
    "Bizon365PollRate": "rate(1 hour)",
    "EcardsPollRate": "rate(1 hour)",
    "StatusPollRate": "rate(1 hour)",
}


@contextmanager
def local_runtime(state_dir: Path, **options: Any) -> Iterator[LocalRuntime]:
    """The runtime started and driven in the background (``run_forever``), polling once an hour."""
    overrides = HOURLY | options.pop("parameter_overrides", {})
    runtime = LocalRuntime(
        LocalOptions(
            template=ROOT / "template.yaml",
            api_port=0,
            aws_port=0,
            state_dir=state_dir,
            parameter_overrides=overrides,
            **options,
        ),
        Reporter(io.StringIO(), json_lines=True),
    )
    with runtime.running():
        thread = threading.Thread(target=runtime.run_forever, kwargs={"summary_interval": 3600}, daemon=True)
        thread.start()
        yield runtime
        runtime.stopping.set()
        thread.join(timeout=10)


def wait_for(condition: Callable[[], Any], timeout: float, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    return None


def events_of(runtime: LocalRuntime, order_id: str, detail_type: str | None = None) -> list[dict[str, Any]]:
    """The change events of one order the runtime's tap has logged so far."""
    path = runtime.options.state_dir / "events.jsonl"
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the line being written
        detail = event.get("detail") or {}
        if detail.get("order_id") == order_id and (detail_type is None or event.get("detail-type") == detail_type):
            found.append(event)
    return found


def webhook_url(runtime: LocalRuntime) -> str:
    from ordersync.models import Platform

    return str(runtime.webhook_senders[Platform.TICKETSCLOUD].url)


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class RecordingEndpoint:
    """A partner endpoint: records every delivery; answers ``fail_first`` failures (500) before its first 2xx."""

    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: QuietHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> RecordingEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with endpoint.lock:
                    endpoint.received.append(Received(body, {k.lower(): v for k, v in self.headers.items()}))
                    failing = endpoint.fail_first > 0
                    endpoint.fail_first -= 1 if failing else 0
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
