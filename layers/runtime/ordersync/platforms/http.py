"""What every platform client shares: the HTTP transport and its retry policy.

The transport turns HTTP outcomes into the error classes of ``ordersync.errors`` and retries, with
exponential backoff and full jitter, only requests that are safe to repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import quote

import httpx

from ordersync.backoff import Backoff
from ordersync.errors import (
    AuthenticationError,
    MalformedResponseError,
    OutcomeUnknownError,
    PermanentError,
    PlatformError,
    RetryableError,
    ValidationFailedError,
    platform_reasons,
)
from ordersync.models import Platform


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter; ``Retry-After`` wins when it is longer.

    A ``Retry-After`` beyond ``max_retry_after`` is not waited out: retrying before it would ignore the platform's
    word, and waiting would eat the caller's time budget, so the error goes to the caller (a later poll, the queue).
    """

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 20.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = Backoff(attempts=max(1, self.attempts), base=self.base_delay, cap=self.max_delay).delay(attempt)
        if retry_after is not None:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff

    def waits_out(self, retry_after: float | None) -> bool:
        """Whether a retry may follow this ``Retry-After`` (none given counts as yes)."""
        return retry_after is None or retry_after <= self.max_retry_after


def path_segment(platform: Platform, field: str, value: str) -> str:
    """``value`` as one URL path segment: every reserved character percent-escaped, so an id can never be URL
    syntax (``/``, ``#``, ``?``, ``%``). ``.`` and ``..`` stay what they are after escaping and would climb the
    path: refused with ``ValidationFailedError``, like an empty segment."""
    if value in {"", ".", ".."}:
        raise ValidationFailedError(platform, field, f"not usable in a URL path: {value!r}")
    return quote(value, safe="")


NO_RETRY = RetryPolicy(attempts=1)
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class HttpTransport:
    """One pooled ``httpx.Client`` per platform, with explicit timeouts and error classification."""

    def __init__(
        self,
        platform: Platform,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.platform = platform
        self.retry = retry
        self._sleep = sleep
        self._client = http_client or httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers or {}),
            timeout=timeout,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
        )
        self.requests_sent = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry_safe: bool = True,
        expect_json: bool = True,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON (``None`` for an empty body).

        ``retry_safe=False`` marks a request that must not be repeated blindly: a lost answer then raises
        ``OutcomeUnknownError`` at once so that the caller can check before it sends again. ``decode`` replaces
        ``json.loads`` for a platform whose bodies need it (numbers as ``Decimal``, a known syntax quirk).
        """
        attempts = self.retry.attempts if retry_safe else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._send_once(method, path, params=params, json=json, expect_json=expect_json, decode=decode)
            except RetryableError as error:
                if not retry_safe and error.status_code is None:
                    raise OutcomeUnknownError(
                        self.platform, f"{method} {path}: answer lost ({error.message})"
                    ) from error
                if attempt >= attempts or not self.retry.waits_out(error.retry_after):
                    raise
                self._sleep(self.retry.delay(attempt, error.retry_after))
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        expect_json: bool,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        self.requests_sent += 1
        try:
            response = self._client.request(method, path, params=params, json=json)
        except httpx.TimeoutException as error:
            raise RetryableError(self.platform, f"{method} {path}: timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise RetryableError(self.platform, f"{method} {path}: connection failed ({error})") from error
        self._raise_for_status(method, path, response)
        if not response.content.strip():
            return None
        try:
            return response.json() if decode is None else decode(response.content)
        except ValueError as error:
            if not expect_json:
                return None
            raise MalformedResponseError(
                self.platform,
                f"{method} {path}: answered {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
                body=response.text[:500],
            ) from error

    def _raise_for_status(self, method: str, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _body_of(response)
        reasons = platform_reasons(body)
        message = f"{method} {path}: HTTP {status}" + (f": {'; '.join(reasons)}" if reasons else "")
        error: PlatformError
        if status in (401, 403):
            error = AuthenticationError(self.platform, message, status_code=status, body=body)
        elif status in (409, 429) or status >= 500:
            error = RetryableError(
                self.platform, message, status_code=status, body=body, retry_after=_retry_after(response)
            )
        else:
            error = PermanentError(self.platform, message, status_code=status, body=body)
        raise error

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: ``Retry-After`` is either delay-seconds or an HTTP-date (RFC 9110), and both are honoured."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def timeout_of(seconds: float) -> httpx.Timeout:
    """The timeouts of a deployment's ``HTTP_TIMEOUT_SECONDS``: connecting gets at most three seconds of it."""
    return httpx.Timeout(seconds, connect=min(3.0, seconds))
