"""The unit tier's own guard: nothing here may reach the network."""

from __future__ import annotations

import socket

import httpx
import pytest


def test_opening_a_socket_connection_fails_the_test() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match="must not open connections"):
        sock.connect(("127.0.0.1", 9))


def test_an_http_request_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="must not open connections"):
        httpx.get("http://127.0.0.1:9/", timeout=1)
