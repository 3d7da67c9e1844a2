"""Bizon365: the client: the list read behind ``PlatformClient`` and the platform's own requests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Self
from zoneinfo import ZoneInfo

import httpx
from pydantic import (
    ValidationError,
)

from ordersync.errors import MalformedResponseError, ValidationFailedError
from ordersync.models import (
    OrderPage,
)
from ordersync.platform_port import ListQuery
from ordersync.platforms.bizon365.mapping import to_order
from ordersync.platforms.bizon365.models import (
    DEFAULT_RETRY,
    MAX_LIMIT,
    PLATFORM,
    RAW_PAID,
    RAW_PARTIALLY_PAID,
    RAW_UNPAID,
    Bizon365OrdersQuery,
    Bizon365OrdersResponse,
    Bizon365PaidFilter,
    _describe,
    build_query,
)
from ordersync.platforms.http import DEFAULT_TIMEOUT, HttpTransport, RetryPolicy, path_segment


# -- client ------------------------------------------------------------------------------------------
class Bizon365Client:
    """``getorders`` over one pooled connection. The doc does not show the auth header: it is configurable."""

    platform = PLATFORM
    max_page_size = MAX_LIMIT

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        project_id: str,
        timezone: str = "Europe/Moscow",
        auth_header: str = "X-Token",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        if not project_id:
            raise ValueError("project_id is required")
        self.project_id = project_id
        self.zone = ZoneInfo(timezone)
        self._path = f"/api/v2/{path_segment(PLATFORM, 'project_id', project_id)}/orders/getorders"
        self._transport = HttpTransport(
            PLATFORM,
            base_url,
            headers={auth_header: token, "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            http_client=http_client,
        )

    @property
    def transport(self) -> HttpTransport:
        return self._transport

    def get_orders(self, query: Bizon365OrdersQuery | None = None) -> Bizon365OrdersResponse:
        """One ``getorders`` call; the query is re-validated so that nothing out of range is ever sent."""
        checked = build_query(**(query or Bizon365OrdersQuery()).model_dump())
        body = self._transport.request("GET", self._path, params=checked.params(self.zone))
        if not isinstance(body, Mapping):
            raise MalformedResponseError(
                PLATFORM, f"GET {self._path}: expected a JSON object, got {type(body).__name__}", body=body
            )
        try:
            return Bizon365OrdersResponse.model_validate(body)
        except ValidationError as error:
            raise MalformedResponseError(
                PLATFORM, f"GET {self._path}: unexpected response ({_describe(error)})", body=dict(body)
            ) from error

    def list_orders(self, query: ListQuery) -> OrderPage:
        """A page of canonical orders: page/page_size become skip/limit, the created range dateBegin/dateEnd."""
        page_size = query.page_size or MAX_LIMIT
        if query.page < 1:
            raise ValidationFailedError(PLATFORM, "page", "must be at least 1")
        values: dict[str, Any] = {
            "skip": (query.page - 1) * page_size,
            "limit": page_size,
            "date_begin": query.created_from,
            "date_end": query.created_to,
            "paid": _paid_filter(query.raw_statuses),
        }
        values.update(_extra_values(query.extra))
        response = self.get_orders(build_query(**values))
        orders, quarantined = response.parse_orders()
        return OrderPage(
            platform=PLATFORM,
            orders=tuple(to_order(order, timezone=self.zone) for order in orders),
            quarantined=tuple(quarantined),
            page=query.page,
            page_size=page_size,
            total=response.total,
            total_pages=math.ceil(response.total / page_size),
        )

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_PAID_FILTERS: dict[frozenset[str], Bizon365PaidFilter] = {
    frozenset({RAW_PAID}): Bizon365PaidFilter.PAID,
    frozenset({RAW_UNPAID}): Bizon365PaidFilter.UNPAID,
    frozenset({RAW_UNPAID, RAW_PARTIALLY_PAID}): Bizon365PaidFilter.UNPAID_OR_PARTIAL,
}


def _paid_filter(raw_statuses: tuple[str, ...]) -> Bizon365PaidFilter | None:
    """The ``paid`` code for a set of raw statuses; a set the platform cannot express is not filtered."""
    return _PAID_FILTERS.get(frozenset(raw_statuses)) if raw_statuses else None


def _extra_values(extra: Mapping[str, str]) -> dict[str, Any]:
    """Platform-specific filters passed through ``ListQuery.extra``: ``days``, ``paid``, ``free``, ``search``."""
    values: dict[str, Any] = {}
    for key in ("days", "paid", "search"):
        if key in extra:
            values[key] = extra[key]
    if "free" in extra:
        values["free"] = extra["free"] not in ("", "0", "false", "False")
    return values
