"""Error answers: every refusal names its problem, in one JSON shape, never as a ``500``.

Body: ``{"statusCode": 422, "error": "validation_failed", "message": "vendor_data.raw: ...", "detail": [...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types


class ApiError(Exception):
    """An answer other than success, raised anywhere in a route."""

    def __init__(self, status: int, error: str, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.detail = detail

    def response(self) -> Response[str]:
        return error_response(self.status, self.error, self.message, detail=self.detail)


def error_response(
    status: int, error: str, message: str, *, detail: Any = None, headers: dict[str, str] | None = None
) -> Response[str]:
    body: dict[str, Any] = {"statusCode": status, "error": error, "message": message}
    if detail is not None:
        body["detail"] = detail
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=headers,
    )


def field_of(loc: Sequence[Any]) -> str:
    """``("body", "vendor_data", "raw")`` -> ``vendor_data.raw``; ``("query", "limit")`` -> ``limit``."""
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    detail = []
    for error in errors:
        loc = error.get("loc", ()) if isinstance(error, dict) else ()
        detail.append(
            {
                "field": field_of(loc),
                "message": _readable(str(error.get("msg", "invalid"))) if isinstance(error, dict) else str(error),
                "type": str(error.get("type", "")) if isinstance(error, dict) else "",
            }
        )
    return detail


def _readable(message: str) -> str:
    """Drop pydantic's ``Value error, `` prefix: the message after it is ours and names the limit."""
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
