"""The shared HTTP transport: how it reads ``Retry-After`` in both of the forms HTTP allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from ordersync.errors import PermanentError, RetryableError
from ordersync.models import Platform
from ordersync.platforms.http import HttpTransport, RetryPolicy

RETRY = RetryPolicy(attempts=2, base_delay=0.001, max_delay=5.0)


def transport_answering(retry_after: str, sleeps: list[float]) -> HttpTransport:
    """A transport whose platform answers ``429`` with ``retry_after`` once, then ``200``."""
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": retry_after}, json={"error": "slow down"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    client = httpx.Client(base_url="http://platform.test", transport=httpx.MockTransport(lambda _: next(answers)))
    return HttpTransport(Platform.ECARDS, "http://platform.test", retry=RETRY, sleep=sleeps.append, http_client=client)


def test_a_retry_after_in_seconds_is_waited_before_the_retry() -> None:
    sleeps: list[float] = []

    with transport_answering("3", sleeps) as transport:
        assert transport.request("GET", "/orders") == {"ok": True}

    assert sleeps == [3.0]


def test_a_retry_after_http_date_is_waited_until_that_moment() -> None:
    sleeps: list[float] = []
    moment = datetime.now(UTC) + timedelta(seconds=4)

    with transport_answering(format_datetime(moment, usegmt=True), sleeps) as transport:
        assert transport.request("GET", "/orders") == {"ok": True}

    [delay] = sleeps
    assert 2.5 <= delay <= 4.0  # whole seconds on the wire, minus the time the test took


def test_a_retry_after_date_in_the_past_retries_without_waiting_longer_than_the_backoff() -> None:
    sleeps: list[float] = []

    with transport_answering("Wed, 21 Oct 2015 07:28:00 GMT", sleeps) as transport:
        transport.request("GET", "/orders")

    [delay] = sleeps
    assert 0.0 <= delay <= RETRY.base_delay


def test_an_unreadable_retry_after_falls_back_to_the_backoff() -> None:
    sleeps: list[float] = []

    with transport_answering("soon", sleeps) as transport:
        transport.request("GET", "/orders")

    [delay] = sleeps
    assert 0.0 <= delay <= RETRY.base_delay


def test_the_retry_after_of_the_last_429_is_kept_on_the_error() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=4)
    client = httpx.Client(
        base_url="http://platform.test",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(429, headers={"Retry-After": format_datetime(moment, usegmt=True)})
        ),
    )
    transport = HttpTransport(
        Platform.ECARDS, "http://platform.test", retry=RetryPolicy(attempts=1), http_client=client
    )

    with transport, pytest.raises(RetryableError) as raised:
        transport.request("GET", "/orders")

    assert raised.value.status_code == 429
    assert raised.value.retry_after is not None
    assert 2.5 <= raised.value.retry_after <= 4.0


def test_a_retry_after_longer_than_the_policy_waits_is_given_to_the_caller_at_once() -> None:
    sleeps: list[float] = []
    requests: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(429, headers={"Retry-After": "120"}, json={"error": "come back in two minutes"})

    client = httpx.Client(base_url="http://platform.test", transport=httpx.MockTransport(platform))
    transport = HttpTransport(
        Platform.ECARDS, "http://platform.test", retry=RetryPolicy(attempts=4), sleep=sleeps.append, http_client=client
    )

    with transport, pytest.raises(RetryableError) as raised:
        transport.request("GET", "/orders")

    assert raised.value.retry_after == 120.0
    assert len(requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "answer", "body", "said"),
    [
        (400, {"json": {"errors": ["Event 1 not found"]}}, {"errors": ["Event 1 not found"]}, "Event 1 not found"),
        (403, {"json": {"reason": "forbidden"}}, {"reason": "forbidden"}, "forbidden"),
        (422, {"json": {"message": "bad date"}}, {"message": "bad date"}, "bad date"),
        (400, {"text": "plain words"}, "plain words", "plain words"),
    ],
)
def test_an_error_body_is_kept_as_it_came_and_its_words_are_in_the_message(
    status: int, answer: dict[str, Any], body: Any, said: str
) -> None:
    client = httpx.Client(
        base_url="http://platform.test", transport=httpx.MockTransport(lambda _: httpx.Response(status, **answer))
    )
    transport = HttpTransport(Platform.TICKETSCLOUD, "http://platform.test", retry=RETRY, http_client=client)

    with transport, pytest.raises(PermanentError) as caught:
        transport.request("GET", "/orders")

    assert caught.value.body == body
    assert caught.value.message == f"GET /orders: HTTP {status}: {said}"
