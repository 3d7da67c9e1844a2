"""Errors raised by platform clients.

Callers decide on the class alone: retry a ``RetryableError`` (later, or through the queue), fail the
action on a ``PermanentError`` and keep the platform's body, alert on an ``AuthenticationError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ordersync.models import Platform

REASON_KEYS = ("msg", "message", "reason", "error", "detail", "description", "code")
"""Where a platform's error body says why, in the order they are looked at."""
MAX_REASON_LENGTH = 300


def platform_reasons(body: Any) -> tuple[str, ...]:
    """What a platform's error body says, whatever its shape: ``{"errors": ["text", ...]}``, ``{"errors":
    [{"code", "msg"}, ...]}``, ``{"reason": ...}``, ``{"message": ...}``, any other JSON, or plain text. Each
    reason is cut to ``MAX_REASON_LENGTH`` characters; a body that says nothing readable gives none."""
    found: list[str] = []
    if isinstance(body, str):
        found.append(body.strip())
    elif isinstance(body, list):
        found.extend(_reason_of(item) for item in body)
    elif isinstance(body, Mapping):
        errors = body.get("errors")
        if isinstance(errors, list):
            found.extend(_reason_of(item) for item in errors)
        elif errors is not None:
            found.append(_reason_of(errors))
        found.extend(str(body[key]) for key in REASON_KEYS if isinstance(body.get(key), str | int) and body[key] != "")
    return tuple(text[:MAX_REASON_LENGTH] for text in found if text)


def _reason_of(item: Any) -> str:
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, Mapping):
        code = item.get("code")
        text = next((item[key] for key in REASON_KEYS[:-1] if isinstance(item.get(key), str) and item[key]), None)
        if text is not None and isinstance(code, str) and code:
            return f"{code}: {text}"
        if text is not None:
            return str(text)
        if isinstance(code, str):
            return code
    return "" if item is None else str(item)


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
        """The platform's body as it came: decoded JSON of any shape, or the text of a body that is not JSON."""

    @property
    def reasons(self) -> tuple[str, ...]:
        """What the platform's body says (``platform_reasons``)."""
        return platform_reasons(self.body)


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
