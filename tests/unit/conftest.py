"""The unit tier: domain and services on in-memory fakes. No moto, no HTTP, no sockets.

Any test here that opens a network connection fails, and so does one that asks for the embedded AWS of
``tests/conftest.py``: a unit test that needs either belongs in the slower suites.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

AWS_FIXTURES = frozenset({"aws", "moto_endpoint"})


class NetworkUsedError(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        raise NetworkUsedError(f"unit tests must not open connections (tried {args[0] if args else kwargs})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: refuse(None, *args))  # type: ignore[arg-type]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse the embedded AWS before any fixture is set up, so that moto is never even started."""
    used = AWS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if used:
        pytest.fail(f"unit tests must not use the embedded AWS (fixture {', '.join(sorted(used))})")


@pytest.fixture(autouse=True)
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a boto3 client be built by mistake, it has a region and dummy keys, so it fails on connect (above)
    rather than by reading a developer's own profile."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "unit",
        "AWS_SECRET_ACCESS_KEY": "unit",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ordersync")
