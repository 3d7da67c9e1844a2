"""E-cards: the client: the list read behind ``PlatformClient`` and the platform's own requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Self
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from ordersync.errors import (
    MalformedResponseError,
    OutcomeUnknownError,
    PermanentError,
    RetryableError,
    ValidationFailedError,
)
from ordersync.models import OrderPage, Platform
from ordersync.platform_port import ListQuery
from ordersync.platforms.ecards.mapping import _clip, _reason, decode_json, decode_status_json, parse_page
from ordersync.platforms.ecards.models import (
    DEFAULT_RETRY,
    DEFAULT_TIMEZONE,
    PAGE_SIZE,
    STATUS_MAP,
    EcardsCreateOrderRequest,
    EcardsCreateResult,
    EcardsOrderStatus,
    EcardsStatusPayload,
    OrderNotFoundError,
)
from ordersync.platforms.http import DEFAULT_TIMEOUT, HttpTransport, RetryPolicy, path_segment

# -- the client -------------------------------------------------------------------------------------


class EcardsClient:
    """The e-cards platform: ``Authorization: Bearer <token>``, pages of 20, no filters."""

    platform = Platform.ECARDS
    max_page_size = PAGE_SIZE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timezone: str = DEFAULT_TIMEZONE,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        """``http_client``, when given, is used as it is: it must carry the base URL and the headers itself."""
        self.timezone = ZoneInfo(timezone)
        self._retry = retry
        self._sleep = sleep
        self._transport = HttpTransport(
            Platform.ECARDS,
            base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            http_client=http_client,
        )

    @property
    def requests_sent(self) -> int:
        return self._transport.requests_sent

    def list_orders(self, query: ListQuery) -> OrderPage:
        """One page, newest first. The platform has no filters and a fixed page size: the query's page is used and
        everything else in it ignored. Pages shift while orders arrive, so a poll must expect repeats."""
        if query.page < 1 or query.page > 2**31 - 1:
            raise ValidationFailedError(Platform.ECARDS, "page", "must be an int32 of at least 1")
        body = self._transport.request("GET", "/v1/orders", params={"page": query.page}, decode=decode_json)
        return parse_page(body, requested_page=query.page, timezone=self.timezone)

    def get_order_status(self, order_id: UUID | str) -> EcardsOrderStatus:
        """The order's current status; ``OrderNotFoundError`` when the platform does not know the order."""
        order_uuid = _as_uuid(order_id)
        path = f"/v1/orders/{path_segment(Platform.ECARDS, 'order_id', str(order_uuid))}/status"
        try:
            body = self._transport.request("GET", path, decode=decode_status_json)
        except PermanentError as error:
            if error.status_code == 404:
                raise OrderNotFoundError(
                    Platform.ECARDS, f"GET {path}: order not found", status_code=404, body=error.body
                ) from error
            raise
        try:
            payload = EcardsStatusPayload.model_validate(body)
        except ValidationError as error:
            raise MalformedResponseError(
                Platform.ECARDS, f"GET {path}: unexpected status body ({_reason(error)})", body=_clip(body)
            ) from error
        return EcardsOrderStatus(
            order_id=order_uuid, raw_status=payload.status.value, status=STATUS_MAP[payload.status]
        )

    def create_order(self, request: EcardsCreateOrderRequest) -> EcardsCreateResult:
        """Send the create once. A lost answer raises ``OutcomeUnknownError`` and a 429/5xx ``RetryableError``: the
        order may exist either way, so use ``create_order_safely`` to send again."""
        fixed, order_id = request.with_order_id()
        body = self._transport.request(
            "POST", "/v1/orders", json=fixed.to_body(), retry_safe=False, expect_json=False, decode=decode_json
        )
        return EcardsCreateResult(order_id=order_id, sends=1, body=body)

    def create_order_safely(
        self, request: EcardsCreateOrderRequest, *, attempts: int | None = None
    ) -> EcardsCreateResult:
        """Create the order exactly once. After a failure that may hide a success, the order's status is read; the
        create is sent again (same ``orderId``) only when the platform answers that it does not know the order.
        When the status cannot be read, ``OutcomeUnknownError`` is raised rather than risking a second order."""
        fixed, order_id = request.with_order_id()
        limit = attempts if attempts is not None else self._retry.attempts
        if limit < 1:
            raise ValueError("attempts must be at least 1")
        for send in range(1, limit + 1):
            try:
                result = self.create_order(fixed)
            except RetryableError as error:
                try:
                    status = self.get_order_status(order_id)
                except OrderNotFoundError:
                    if send >= limit or not self._retry.waits_out(error.retry_after):
                        raise error from None
                    self._sleep(self._retry.delay(send, error.retry_after))
                    continue
                except RetryableError as status_error:
                    raise OutcomeUnknownError(
                        Platform.ECARDS,
                        f"create of {order_id}: outcome unknown and its status unreadable ({status_error.message})",
                        status_code=error.status_code,
                        body=error.body,
                    ) from error
                return EcardsCreateResult(
                    order_id=order_id, sends=send, confirmed_by_status=True, raw_status=status.raw_status
                )
            return result.model_copy(update={"sends": send})
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _as_uuid(order_id: UUID | str) -> UUID:
    if isinstance(order_id, UUID):
        return order_id
    try:
        return UUID(order_id)
    except ValueError as error:
        raise ValidationFailedError(Platform.ECARDS, "order_id", f"not a uuid: {order_id!r}") from error
