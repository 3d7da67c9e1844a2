"""Ticketscloud: the client: the list read behind ``PlatformClient`` and the platform's own requests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Self
from zoneinfo import ZoneInfo

import httpx
from pydantic import ValidationError

from ordersync.errors import (
    MalformedResponseError,
    OrderNotFoundError,
    OutcomeUnknownError,
    PermanentError,
    ValidationFailedError,
)
from ordersync.models import (
    Order,
    OrderPage,
    RefundPage,
)
from ordersync.platform_port import ListQuery, RefundQuery
from ordersync.platforms.http import DEFAULT_TIMEOUT, HttpTransport, RetryPolicy, path_segment
from ordersync.platforms.ticketscloud.mapping import (
    _reason,
    _revalidated,
    parse_order_page,
    parse_refund_page,
    to_order,
)
from ordersync.platforms.ticketscloud.models import (
    DEFAULT_RETRY,
    EARLIEST,
    EXPORT_PATH,
    LATEST,
    MAX_PAGE_SIZE,
    ORDERS_PATH,
    PLATFORM,
    QUERY_TIME_FORMAT,
    REFUND_REQUESTS_PATH,
    TicketscloudExportRequest,
    TicketscloudOrder,
    TicketscloudOrderActions,
    TicketscloudOrderEnvelope,
    TicketscloudOrderFilters,
    TicketscloudPatchResult,
    TicketscloudRefundRequest,
)
from ordersync.platforms.ticketscloud.profile import PROFILE


def _refusals(body: Any) -> list[str]:
    """The strings of a ``200``'s ``errors`` list: the platform refusing, in words (promocode errors are objects)."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [item for item in errors if isinstance(item, str)]


# -- the client ------------------------------------------------------------------------------------------


class TicketscloudClient:
    """Ticketscloud behind ``PlatformClient``, plus its own actions (export, PATCH)."""

    platform = PLATFORM
    max_page_size = MAX_PAGE_SIZE

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timezone: str = "Europe/Moscow",
        currency: str = "RUB",
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.currency = currency
        self.transport = HttpTransport(
            PLATFORM,
            base_url,
            headers={"Authorization": f"key {token}", "Accept": "application/json"},
            timeout=timeout,
            retry=retry,
            sleep=sleep,
            http_client=http_client,
        )

    # -- reading ---------------------------------------------------------------------------------------
    def list_orders(self, query: ListQuery) -> OrderPage:
        """The poller's entry: ``query.extra`` may carry ``events`` (comma-joined) and ``only_with_customer``."""
        events = tuple(part for part in query.extra.get("events", "").split(",") if part)
        only = query.extra.get("only_with_customer")
        filters = TicketscloudOrderFilters(
            created_from=query.created_from,
            created_to=query.created_to,
            statuses=query.raw_statuses,
            events=events,
            only_with_customer=None if only is None else only.strip().lower() in ("true", "1", "yes"),
        )
        page_size = MAX_PAGE_SIZE if query.page_size is None else query.page_size
        return self.search_orders(filters, page=query.page, page_size=page_size)

    def search_orders(
        self, filters: TicketscloudOrderFilters, *, page: int = 1, page_size: int = MAX_PAGE_SIZE
    ) -> OrderPage:
        """One page of orders matching every given filter. Retried when safe: a list read changes nothing."""
        if page < 1:
            raise ValidationFailedError(PLATFORM, "page", f"must be at least 1, not {page}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailedError(PLATFORM, "page_size", f"must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        params = self._filter_params(filters) | {"page": str(page), "page_size": str(page_size)}
        params["with_refunded_tickets"] = "true"  # a refunded ticket stays in its order (refund summaries count them)
        body = self.transport.request("GET", ORDERS_PATH, params=params)
        return parse_order_page(body, timezone=self.zone, currency=self.currency, page=page, page_size=page_size)

    def get_order(self, order_id: str) -> TicketscloudOrder:
        """One order by id, as the platform sends it (``GET /v2/resources/orders/:id``, answered
        ``{"data": order, "refs": ...}``). Retried when safe, like a list read. ``404`` raises
        ``OrderNotFoundError`` with the platform's body; an answer that is not an order raises
        ``MalformedResponseError``; an id not shaped like the platform's raises ``ValidationFailedError`` unsent."""
        return self._read_order(order_id)[0]

    def get_order_status(self, order_id: str) -> Order:
        """One order, mapped (``StatusReader``): the status poller reads due orders this way when that takes
        fewer requests than their windows. Errors as ``fetch_order``'s."""
        return self.fetch_order(order_id)

    def fetch_order(self, order_id: str) -> Order:
        """One order by id mapped onto ``Order`` (``platform_port.OrderFetcher``: the refund poller's read of an
        order it has never seen); errors as ``get_order``."""
        payload, refs, raw = self._read_order(order_id)
        try:
            return to_order(payload, timezone=self.zone, refs=refs, currency=self.currency, raw=raw)
        except ValueError as error:
            raise MalformedResponseError(PLATFORM, f"order {order_id}: {error}", body=raw) from error

    def _read_order(self, order_id: str) -> tuple[TicketscloudOrder, dict[str, Any], Any]:
        """The order, the answer's ``refs`` and the order's raw record."""
        if not PROFILE.is_order_id(order_id):
            raise ValidationFailedError(
                PLATFORM, "order_id", f"not a usable order id ({PROFILE.order_id_shape}): {order_id!r}"
            )
        path = f"{ORDERS_PATH}/{path_segment(PLATFORM, 'order_id', order_id)}"
        try:
            body = self.transport.request("GET", path)
        except PermanentError as error:
            if error.status_code == 404:
                raise OrderNotFoundError(
                    PLATFORM, f"GET {path}: order not found", status_code=404, body=error.body
                ) from error
            raise
        try:
            envelope = TicketscloudOrderEnvelope.model_validate(body)
        except ValidationError as error:
            raise MalformedResponseError(PLATFORM, f"GET {path}: {_reason(error)}", body=body) from error
        return envelope.data, envelope.refs, body["data"]

    def _filter_params(self, filters: TicketscloudOrderFilters) -> dict[str, str]:
        params: dict[str, str] = {}
        if filters.created_from is not None or filters.created_to is not None:
            params["created_at"] = self.created_at_range(filters.created_from, filters.created_to)
        if filters.statuses:
            params["status"] = ",".join(filters.statuses)
        if filters.events:
            params["events"] = ",".join(filters.events)
        if filters.only_with_customer is not None:
            params["only_with_customer"] = "true" if filters.only_with_customer else "false"
        return params

    def created_at_range(self, start: datetime | None, end: datetime | None) -> str:
        """``from,to`` as the docs' example writes it, in the platform's zone, whole seconds that still cover
        both bounds; an open side is sent as a far bound, since the docs show only closed ranges."""
        low = (start or EARLIEST).astimezone(self.zone).replace(microsecond=0)
        high = (end or LATEST).astimezone(self.zone)
        if high.microsecond:
            high = high.replace(microsecond=0) + timedelta(seconds=1)
        return f"{low.strftime(QUERY_TIME_FORMAT)},{high.strftime(QUERY_TIME_FORMAT)}"

    def list_refund_requests(self, query: RefundQuery) -> RefundPage:
        """One page of refund requests (``RefundReader``): ``created_at`` and ``finished_at`` ranges as the orders'
        ``created_at`` is sent, ``status`` comma-joined. Retried when safe: a list read changes nothing."""
        page_size = MAX_PAGE_SIZE if query.page_size is None else query.page_size
        if query.page < 1:
            raise ValidationFailedError(PLATFORM, "page", f"must be at least 1, not {query.page}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationFailedError(PLATFORM, "page_size", f"must be 1..{MAX_PAGE_SIZE}, not {page_size}")
        params = {"page": str(query.page), "page_size": str(page_size)}
        if query.created_from is not None or query.created_to is not None:
            params["created_at"] = self.created_at_range(query.created_from, query.created_to)
        if query.finished_from is not None or query.finished_to is not None:
            params["finished_at"] = self.created_at_range(query.finished_from, query.finished_to)
        if query.raw_statuses:
            params["status"] = ",".join(query.raw_statuses)
        body = self.transport.request("GET", REFUND_REQUESTS_PATH, params=params)
        return parse_refund_page(body, page=query.page, page_size=page_size, timezone=self.zone, currency=self.currency)

    # -- actions ---------------------------------------------------------------------------------------
    def export_orders(self, request: TicketscloudExportRequest) -> None:
        """Ask the platform to e-mail an export of the matching orders.

        The docs' heading says GET with query parameters, their example sends POST with JSON. POST is used: the
        example is a concrete request, and an e-mail address belongs in a body, not in URLs that proxies log.
        Retried like a read: the worst a repeat can do is send a second e-mail.
        """
        body: dict[str, Any] = {"email": request.email}
        if request.created_from is not None or request.created_to is not None:
            body["created_at"] = self.created_at_range(request.created_from, request.created_to)
        if request.statuses:
            body["status"] = list(request.statuses)
        if request.events:
            body["events"] = list(request.events)
        if request.only_with_customer is not None:
            body["only_with_customer"] = request.only_with_customer
        self.transport.request("POST", EXPORT_PATH, json=body, expect_json=False)

    def patch_order(self, order_id: str, actions: TicketscloudOrderActions) -> TicketscloudPatchResult:
        """Apply ``actions`` to one order with a single PATCH, sent exactly once.

        The platform answers ``409`` while an earlier change of the same order is still being processed: that
        change was not applied, and the caller (the queue worker, one order per FIFO group) retries it later, so
        the transport does not. A 409, 429 or 5xx raises ``RetryableError`` with its status code; a lost answer
        (timeout, dropped connection, unreadable 200) raises ``OutcomeUnknownError``: the change may have been
        applied. ``400`` (for example on a ``done`` order) raises ``PermanentError`` with the platform's
        ``errors`` body. Promocode errors (``{"code", "msg"}`` objects) come inside the ``200`` and are returned,
        never swallowed; strings in a ``200``'s ``errors`` are the platform's refusal: ``PermanentError`` with the
        body, not an unknown outcome. An id not
        shaped like the platform's (``PROFILE.order_id_pattern``) raises ``ValidationFailedError`` unsent; the id
        is escaped as one path segment all the same.
        """
        if not PROFILE.is_order_id(order_id):
            raise ValidationFailedError(
                PLATFORM, "order_id", f"not a usable order id ({PROFILE.order_id_shape}): {order_id!r}"
            )
        checked = _revalidated(actions)
        path = f"{ORDERS_PATH}/{path_segment(PLATFORM, 'order_id', order_id)}"
        try:
            body = self.transport.request("PATCH", path, json=checked.patch_body(), retry_safe=False)
        except MalformedResponseError as error:
            raise OutcomeUnknownError(
                PLATFORM, f"PATCH {path}: answered with a body that is not JSON", status_code=error.status_code
            ) from error
        refusals = _refusals(body)
        if refusals:
            raise PermanentError(PLATFORM, f"PATCH {path}: refused: {'; '.join(refusals)}", status_code=200, body=body)
        try:
            envelope = TicketscloudOrderEnvelope.model_validate(body)
            order = to_order(envelope.data, timezone=self.zone, refs=envelope.refs, currency=self.currency)
        except ValueError as error:  # ValidationError is a ValueError too
            reason = _reason(error) if isinstance(error, ValidationError) else str(error)
            raise OutcomeUnknownError(PLATFORM, f"PATCH {path}: unreadable answer ({reason})", body=body) from error
        return TicketscloudPatchResult(order=order, promocode_errors=tuple(envelope.errors))

    # -- the order lifecycle (live-behaviour.md) -------------------------------------------------------------
    def create_order(self, body: dict[str, Any]) -> TicketscloudPatchResult:
        """``POST /v2/resources/orders``: a new ``executed`` order holding the tickets, sent exactly once.

        A lost or unreadable answer raises ``OutcomeUnknownError`` (the order may exist: the caller looks it up by
        the reference it set in ``vendor_data`` before sending again); ``400`` raises ``PermanentError`` with the
        platform's ``errors`` (strings) as its body."""
        return self._send_order("POST", ORDERS_PATH, body)

    def change_order(self, order_id: str, body: dict[str, Any]) -> TicketscloudPatchResult:
        """One lifecycle ``PATCH`` of an order (reservation, tariffs, ``status``), sent exactly once; errors as
        ``patch_order`` (``400`` on a ``done`` order)."""
        if not PROFILE.is_order_id(order_id):
            raise ValidationFailedError(
                PLATFORM, "order_id", f"not a usable order id ({PROFILE.order_id_shape}): {order_id!r}"
            )
        return self._send_order("PATCH", f"{ORDERS_PATH}/{path_segment(PLATFORM, 'order_id', order_id)}", body)

    def _send_order(self, method: str, path: str, body: dict[str, Any]) -> TicketscloudPatchResult:
        try:
            answer = self.transport.request(method, path, json=body, retry_safe=False)
        except MalformedResponseError as error:
            raise OutcomeUnknownError(
                PLATFORM, f"{method} {path}: answered with a body that is not JSON", status_code=error.status_code
            ) from error
        try:
            envelope = TicketscloudOrderEnvelope.model_validate(answer)
            order = to_order(envelope.data, timezone=self.zone, refs=envelope.refs, currency=self.currency)
        except ValueError as error:
            reason = _reason(error) if isinstance(error, ValidationError) else str(error)
            unreadable = f"{method} {path}: unreadable answer ({reason})"
            raise OutcomeUnknownError(PLATFORM, unreadable, body=answer) from error
        return TicketscloudPatchResult(order=order, promocode_errors=tuple(envelope.errors), raw=envelope.data)

    def create_refund_request(self, body: dict[str, Any]) -> TicketscloudRefundRequest:
        """``POST /v2/resources/refund_requests``, sent exactly once; a refusal is ``PermanentError`` carrying the
        platform's messages; a lost answer ``OutcomeUnknownError``."""
        return self._send_refund("POST", REFUND_REQUESTS_PATH, body)

    def decide_refund_request(self, refund_id: str, status: str) -> TicketscloudRefundRequest:
        """``PATCH /v2/resources/refund_requests/:id`` with ``{"status": "approved" | "rejected"}``."""
        path = f"{REFUND_REQUESTS_PATH}/{path_segment(PLATFORM, 'refund_id', refund_id)}"
        return self._send_refund("PATCH", path, {"status": status})

    def _send_refund(self, method: str, path: str, body: dict[str, Any]) -> TicketscloudRefundRequest:
        try:
            answer = self.transport.request(method, path, json=body, retry_safe=False)
        except MalformedResponseError as error:
            raise OutcomeUnknownError(
                PLATFORM, f"{method} {path}: answered with a body that is not JSON", status_code=error.status_code
            ) from error
        try:
            data = answer["data"] if isinstance(answer, dict) and "data" in answer else answer
            return TicketscloudRefundRequest.model_validate(data)
        except ValueError as error:
            reason = _reason(error) if isinstance(error, ValidationError) else str(error)
            unreadable = f"{method} {path}: unreadable answer ({reason})"
            raise OutcomeUnknownError(PLATFORM, unreadable, body=answer) from error

    # -- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
