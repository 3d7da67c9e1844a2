"""Errors raised by platform clients.

Callers decide on the class alone: retry a ``RetryableError`` (later, or through the queue), fail the
action on a ``PermanentError`` and keep the platform's body, alert on an ``AuthenticationError``.
"""

from __future__ import annotations

from typing import Any

from ordersync.models import Platform


class PlatformError(Exception):
    """Any failure talking to a partner platform."""

    def __init__(
        self,
        platform: Platform,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"{platform.value}: {message}")
        self.platform = platform
        self.message = message
        self.status_code = status_code
        self.body = body


class RetryableError(PlatformError):
    """Timeouts, connection errors, 429, 5xx and Ticketscloud's 409: the same request may succeed later."""

    def __init__(
        self,
        platform: Platform,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(platform, message, status_code=status_code, body=body)
        self.retry_after = retry_after


class OutcomeUnknownError(RetryableError):
    """A non-idempotent request (a create) was sent but its answer was lost: check before sending again."""


class PermanentError(PlatformError):
    """A 4xx other than 401/403/409/429: the request itself is wrong; the platform's error body is kept."""


class OrderNotFoundError(PermanentError):
    """The platform does not know the order: ``404`` on a read of it by id. The platform's body is kept."""


class AuthenticationError(PermanentError):
    """401 or 403: the configured credentials are wrong or lack rights."""


class ValidationFailedError(PermanentError):
    """The request breaks a documented platform limit and was not sent."""

    def __init__(self, platform: Platform, field: str, message: str) -> None:
        super().__init__(platform, f"{field}: {message}", status_code=None, body=None)
        self.field = field


class MalformedResponseError(RetryableError):
    """The platform answered 2xx with a body that does not parse: often transient (a proxy page)."""
