"""The platform port: what the pollers and the worker know about a partner platform, free of any HTTP library.

``sync`` and ``actions`` depend on this module only; each platform's folder under ``ordersync.platforms``
implements it (a client, and a ``PlatformProfile`` that declares how the platform is read), and the composition
root hands both to the pollers. Nothing here names a platform: adding one adds a folder, not a branch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Literal, Protocol, runtime_checkable

from ordersync.models import Order, OrderPage, OrderStatus, Platform, RefundPage

ListStrategy = Literal["window", "newest_first_scan"]
"""How a platform's list is polled:

* ``window``: the list filters on creation times; a poll reads every page of a fixed window of them.
* ``newest_first_scan``: no filters, newest first, pages shifting as orders arrive; a poll reads from page 1
  until a page holds only stored orders older than the look-back."""

EndOfList = Literal["total", "empty_page"]
"""How a window read knows its list has ended:

* ``total``: the platform's ``total`` is exact; the pages it implies are read and no more.
* ``empty_page``: the total is only a hint (pages shorter than asked that are not the last, ``pagination``
  missing or counting only its page): pages are read until one comes back empty. A short page ends nothing."""


@dataclass(frozen=True)
class ListQuery:
    """A platform-neutral page request. Each client maps it onto its own parameters and ignores what
    its platform cannot filter on (a platform may have no filters at all)."""

    page: int = 1
    page_size: int | None = None  # None: the platform's largest page
    created_from: datetime | None = None
    created_to: datetime | None = None
    raw_statuses: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class PlatformClient(Protocol):
    """The interface the pollers use. Platform-specific actions live on the concrete clients."""

    platform: Platform
    max_page_size: int

    def list_orders(self, query: ListQuery) -> OrderPage: ...

    def close(self) -> None: ...


class OrderStatusReading(Protocol):
    @property
    def raw_status(self) -> str: ...

    @property
    def status(self) -> OrderStatus: ...


@runtime_checkable
class StatusReader(Protocol):
    """A client that reads one order's status (a platform whose profile says ``reads_status_by_id``)."""

    def get_order_status(self, order_id: str) -> OrderStatusReading: ...


@dataclass(frozen=True)
class RefundQuery:
    """A page request of a platform's refund-request list: a window of creation times, one of finishing times
    (either may be open), and the platform's raw refund statuses to keep (none: all)."""

    page: int = 1
    page_size: int | None = None  # None: the platform's largest page
    created_from: datetime | None = None
    created_to: datetime | None = None
    finished_from: datetime | None = None
    finished_to: datetime | None = None
    raw_statuses: tuple[str, ...] = ()


@runtime_checkable
class RefundReader(Protocol):
    """A client of a platform whose profile says ``polls_refunds``: a page of its refund requests."""

    def list_refund_requests(self, query: RefundQuery) -> RefundPage: ...


@runtime_checkable
class OrderFetcher(Protocol):
    """A client that reads one whole order by id, mapped onto ``Order`` (the refund poller's read of an order it
    has never seen). An order the platform does not know raises a ``PermanentError`` with status ``404``."""

    def fetch_order(self, order_id: str) -> Order: ...


def _frozen_filters() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PlatformProfile:
    """What the poll engine and the status poller need to know about a platform, declared by the platform
    (``ordersync.platforms.<platform>.profile``) instead of branched on by them."""

    platform: Platform
    list_strategy: ListStrategy
    """How its list is polled (see ``ListStrategy``)."""
    page_size: int
    """Its largest page: what its client's ``max_page_size`` is."""
    list_filters: Mapping[str, str] = field(default_factory=_frozen_filters)
    """Filters every list read sends (``ListQuery.extra``)."""
    end_of_list: EndOfList = "total"
    """How a window read knows its list has ended (see ``EndOfList``)."""
    list_passes: tuple[Mapping[str, str], ...] = ({},)
    """Filters added to ``list_filters`` for each read of a window: a window is read once per entry and what
    the reads bring is merged by order id. More than one entry where one filter's meaning is unsure (a filter
    that may add records or may select only them): reading with and without it is right either way."""
    min_lookback: timedelta = timedelta(0)
    """The shortest look-back its list poll may use, whatever the deployment's ``POLL_LOOKBACK_MINUTES``."""
    reads_status_by_id: bool = False
    """Whether its client reads one order's status by id (``StatusReader``): the status poller then reads due
    orders one by one; otherwise it reads them through short windows of creation times."""
    polls_refunds: bool = False
    """Whether its refunds are a resource of their own (a refunded order keeps its fulfilled status): its client is
    then a ``RefundReader`` and a refund poller (``sync.refund_poll``) folds the requests into the orders."""
    reads_order_by_id_when_cheaper: bool = False
    """Whether its client can also read one order by id (``StatusReader``) though its list is the usual read: the
    status poller then reads due orders one by one when that takes fewer requests than reading their windows."""
    env_prefix: str = ""
    """The prefix of its environment variables (``<PREFIX>_BASE_URL``, ``<PREFIX>_SECRET_NAME``, ...)."""
    order_id_pattern: str = r"[0-9A-Za-z_-]{1,100}"
    """The shape of its order ids, a regular expression the whole id must match. An order id names a URL path
    segment and a FIFO group: the shape keeps URL syntax (``/``, ``..``, ``#``, ``?``, ``%``) out of it, and one
    order out of two groups."""
    order_id_shape: str = "letters, digits, '-' or '_', at most 100"
    """``order_id_pattern`` in words, for refusals."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "list_filters", MappingProxyType(dict(self.list_filters)))
        object.__setattr__(self, "list_passes", tuple(MappingProxyType(dict(item)) for item in self.list_passes))
        if not self.list_passes:
            raise ValueError("list_passes needs at least one entry (an empty one reads the list as it is)")
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not self.env_prefix:
            object.__setattr__(self, "env_prefix", self.platform.value.upper())
        re.compile(self.order_id_pattern)

    def is_order_id(self, value: str) -> bool:
        """Whether ``value`` is shaped like one of its order ids (the whole of it, no trailing newline)."""
        return re.fullmatch(self.order_id_pattern, value) is not None
