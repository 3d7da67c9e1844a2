"""Fixtures every test suite shares: an embedded AWS (moto in server mode, so boto3 crosses real HTTP)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import httpx
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the whole run; ``aws`` resets it before each test that uses it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = {name: os.environ.get(name) for name in _AWS_ENV}
    os.environ.update(_AWS_ENV | {"AWS_ENDPOINT_URL": endpoint})
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.environ.pop("AWS_ENDPOINT_URL", None)


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture
def aws(moto_endpoint: str) -> str:
    """A clean embedded AWS for one test; returns its endpoint URL (also set as ``AWS_ENDPOINT_URL``)."""
    httpx.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    return moto_endpoint
