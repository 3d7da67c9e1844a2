"""Shared machinery of the platform simulators: a real HTTP server on 127.0.0.1, a controllable clock,
fault injection, and a log of every request a test can assert on.

A simulator subclasses ``PlatformSimulator`` and registers routes; it never deals with sockets.
"""

from __future__ import annotations

import bisect
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from ordersync.models import Platform
from ordersync_tools.quiet_server import QuietHTTPServer


class SimClock:
    """The simulator's notion of now: real time plus an offset tests can move forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


@dataclass
class Faults:
    """Fault injection, set per simulator while it runs. Shares are probabilities in [0, 1]."""

    latency: float = 0.0  # seconds added to every request
    rate_limit_share: float = 0.0  # answer 429 with Retry-After
    retry_after: float = 0.05  # seconds, sent with each 429
    server_error_share: float = 0.0  # answer 500/502/503
    malformed_share: float = 0.0  # answer 200 with a body that is not JSON
    garbled_share: float = 0.0  # carry the request out, then answer 200 with a body that is not JSON (a lost answer)
    timeout_share: float = 0.0  # hold the request for ``timeout_hold`` seconds before answering
    timeout_hold: float = 2.0
    fail_next: list[int] = field(default_factory=list)  # answer these status codes to the next requests, in turn

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Faults from a command line's ``5xx=0.15,429=0.1,unreadable=0.05,slow=0.05``: shares of requests
        answered 500/502/503, answered 429 (with ``retry-after=S``), carried out but answered an unreadable 200,
        held ``slow-seconds=S`` before being carried out (slower than a client's timeout), answered a malformed
        200 without being carried out (``malformed``), and ``latency=S`` added to every request."""
        names = {
            "5xx": "server_error_share",
            "429": "rate_limit_share",
            "retry-after": "retry_after",
            "unreadable": "garbled_share",
            "malformed": "malformed_share",
            "slow": "timeout_share",
            "slow-seconds": "timeout_hold",
            "latency": "latency",
        }
        values: dict[str, float] = {}
        for part in filter(None, (item.strip() for item in spec.split(","))):
            name, _, text = part.partition("=")
            if name not in names:
                raise ValueError(f"unknown fault {name!r}: one of {', '.join(names)}")
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"fault {name}: {text!r} is not a number") from None
            if value < 0 or (names[name].endswith("_share") and value > 1):
                raise ValueError(f"fault {name}: {value:g} is out of range (shares are 0..1, times >= 0)")
            values[names[name]] = value
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    received_at: datetime
    finished_at: datetime | None
    status: int


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    path_params: dict[str, str]

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as-is instead of JSON-encoding ``body``


class HttpError(Exception):
    """Raised by a route to answer with an error status and a JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


Handler = Callable[[Request], Response]


class PlatformSimulator:
    """Base of the three simulators. Subclasses call ``self.route`` in ``__init__`` and implement
    ``authenticate``. Each takes ``live``: where its platform was seen to behave otherwise than its docs say, it
    behaves as seen unless ``live=False`` asks for the docs' tidy behaviour."""

    platform: ClassVar[Platform]

    def __init__(self, *, seed: int = 1, clock: SimClock | None = None, live: bool = True) -> None:
        self.seed = seed
        self.live = live
        """Behave as the platform was seen to live (the default), or as its docs describe it (``False``)."""
        self.random = random.Random(seed)
        self.clock = clock or SimClock()
        self.faults = Faults()
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._requests: list[tuple[int, RecordedRequest]] = []  # (receipt sequence, request), in receipt order
        self._received = 0  # requests received so far: the next one's receipt sequence
        self._cleared_at = 0  # requests received before this sequence were cleared
        self._fault_random = random.Random(seed + 1)
        self._server: QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- routing -------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` and a path pattern such as ``/v1/orders/{order_id}/status``."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/") or "/")
        self._routes.append((method.upper(), re.compile(f"^{regex}/?$"), handler))

    def authenticate(self, request: Request) -> None:
        """Raise ``HttpError(401, ...)`` unless the request carries the platform's credentials."""
        raise NotImplementedError

    # -- what tests read -----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every answered request in the order the simulator received them (not the order it answered them)."""
        with self.lock:
            return [recorded for _, recorded in self._requests]

    def clear_requests(self) -> None:
        """Forget the requests received so far, including any still being answered."""
        with self.lock:
            self._requests.clear()
            self._cleared_at = self._received

    # -- serving -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0, host: str = "127.0.0.1") -> Self:
        simulator = self

        class _RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                simulator._dispatch(self)

            def do_POST(self) -> None:
                simulator._dispatch(self)

            def do_PATCH(self) -> None:
                simulator._dispatch(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: requests are recorded on the simulator instead."""

        self._server = QuietHTTPServer((host, port), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one poll interval: keep test teardown fast
            name=f"{self.platform.value}-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @contextmanager
    def running(self, port: int = 0) -> Iterator[Self]:
        self.start(port)
        try:
            yield self
        finally:
            self.stop()

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        with self.lock:
            sequence = self._received
            self._received += 1
            received_at = self.clock.now()
        split = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        raw_body = http.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in http.headers.items()}
        try:
            body: Any = json.loads(raw_body) if raw_body.strip() else None
        except ValueError:
            body = None
            response = Response(400, {"errors": [{"code": "invalid_json", "msg": "body is not valid JSON"}]})
        else:
            request = Request(
                http.command, split.path, parse_qs(split.query, keep_blank_values=True), headers, body, {}
            )
            response = self._respond(request)
        self._requests_append(
            sequence,
            RecordedRequest(
                http.command,
                split.path,
                parse_qs(split.query, keep_blank_values=True),
                body,
                headers,
                received_at,
                self.clock.now(),
                response.status,
            ),
        )
        payload = (
            response.raw
            if response.raw is not None
            else (b"" if response.body is None else json.dumps(response.body, ensure_ascii=False, default=str).encode())
        )
        try:
            http.send_response(response.status, HTTPStatus(response.status).phrase)
            http.send_header("Content-Type", "application/json; charset=utf-8")
            http.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                http.send_header(name, value)
            http.end_headers()
            http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to answer

    def _requests_append(self, sequence: int, recorded: RecordedRequest) -> None:
        """Record an answered request at its place in receipt order: a slow request answered after a quick later
        one (a PATCH still processing, and the ``409`` it caused) is still listed first."""
        with self.lock:
            if sequence >= self._cleared_at:
                bisect.insort(self._requests, (sequence, recorded), key=lambda item: item[0])

    def _respond(self, request: Request) -> Response:
        injected = self._injected_fault()
        if injected is not None:
            return injected
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                continue
            request.path_params = match.groupdict()
            try:
                self.authenticate(request)
                response = handler(request)
            except HttpError as error:
                return Response(error.status, error.body, error.headers)
            return self._garbled(response)
        if any(pattern.match(request.path) for _, pattern, _ in self._routes):
            return Response(405, {"errors": [{"code": "method_not_allowed", "msg": request.method}]})
        return Response(404, {"errors": [{"code": "not_found", "msg": request.path}]})

    def _garbled(self, response: Response) -> Response:
        """A successful answer whose body is lost on the way (``garbled_share``): the change was made all the same."""
        if not self.faults.garbled_share or not 200 <= response.status < 300:
            return response
        with self.lock:
            garble = self._fault_random.random() < self.faults.garbled_share
        return Response(200, raw=b"<html>upstream proxy error</html>") if garble else response

    def _injected_fault(self) -> Response | None:
        faults = self.faults
        if faults.latency:
            time.sleep(faults.latency)
        with self.lock:
            if faults.fail_next:
                status = faults.fail_next.pop(0)
                return Response(status, {"errors": [{"code": "injected", "msg": f"injected {status}"}]})
            draw = self._fault_random.random
            hold = faults.timeout_hold if faults.timeout_share and draw() < faults.timeout_share else 0.0
            if faults.rate_limit_share and draw() < faults.rate_limit_share:
                return Response(
                    429,
                    {"errors": [{"code": "rate_limited", "msg": "too many requests"}]},
                    {"Retry-After": f"{faults.retry_after:g}"},
                )
            if faults.server_error_share and draw() < faults.server_error_share:
                return Response(self._fault_random.choice([500, 502, 503]), {"error": "injected server error"})
            if faults.malformed_share and draw() < faults.malformed_share:
                return Response(200, raw=b"<html>upstream proxy error</html>")
        if hold:
            time.sleep(hold)
        return None
