"""The Bizon365 client against the simulator over real HTTP: every documented parameter, the errors, and
the fault modes (it retries what it should, gives up when it should, and never returns an empty page instead)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from bizon365_support import FAST_RETRY, RecordingSleep, make_client
from ordersync_tools.simulators.base import SimClock
from ordersync_tools.simulators.bizon365 import DEFAULT_TOKEN, Bizon365Simulator, Lifecycle

from ordersync.errors import (
    AuthenticationError,
    MalformedResponseError,
    PermanentError,
    RetryableError,
    ValidationFailedError,
)
from ordersync.models import OrderStatus, Platform
from ordersync.platform_port import ListQuery, PlatformClient
from ordersync.platforms.bizon365 import Bizon365Client, Bizon365PaidFilter, build_query
from ordersync.platforms.http import RetryPolicy

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[Bizon365Simulator]:
    """The milder reading of ``free=1`` (free orders added to the rest), which these tests lean on."""
    with Bizon365Simulator(orders=60, seed=11, clock=SimClock(NOW), live=False).running() as running:
        yield running


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(sim: Bizon365Simulator, sleep: RecordingSleep) -> Iterator[Bizon365Client]:
    with make_client(sim, sleep=sleep) as bizon:
        yield bizon


def last_query(sim: Bizon365Simulator) -> dict[str, str]:
    return {name: values[-1] for name, values in sim.requests[-1].query.items()}


def paid_orders_of(sim: Bizon365Simulator) -> set[str]:
    return {str(order["_id"]) for order in sim.orders if order["paid"] and order["amount"]}


# -- the interface -----------------------------------------------------------------------------------
def test_the_client_is_a_platform_client(client: Bizon365Client) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.max_page_size) == (Platform.BIZON365, 100)


def test_the_token_goes_in_the_x_token_header_to_the_project_path(
    sim: Bizon365Simulator, client: Bizon365Client
) -> None:
    client.get_orders()

    request = sim.requests[-1]
    assert request.path == "/api/v2/12345/orders/getorders"
    assert request.headers["x-token"] == DEFAULT_TOKEN


def test_the_auth_header_name_is_configurable() -> None:
    with Bizon365Simulator(orders=3, auth_header="Authorization", token="secret").running() as sim:
        client = Bizon365Client(sim.base_url, "secret", project_id="12345", auth_header="Authorization")
        with client:
            assert client.get_orders().total >= 0


# -- getorders ---------------------------------------------------------------------------------------
def test_get_orders_returns_the_envelope_as_served(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    response = client.get_orders(build_query(days=30, limit=10, skip=5))

    orders, quarantined = response.parse_orders()
    assert (response.skip, response.limit) == (5, 10)
    assert len(orders) == 10
    assert quarantined == []
    assert response.date_end == NOW.astimezone(MOSCOW).date()
    assert last_query(sim) == {"skip": "5", "limit": "10", "days": "30"}


def test_without_days_or_dates_the_platform_default_of_14_days_applies(client: Bizon365Client) -> None:
    response = client.get_orders()

    assert response.date_begin == (NOW.astimezone(MOSCOW) - timedelta(days=14)).date()


def test_dates_are_sent_as_loose_iso_in_the_configured_zone(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    begin = datetime(2026, 11, 10, 21, 0, tzinfo=UTC)
    response = client.get_orders(build_query(date_begin=begin, date_end=NOW))

    assert last_query(sim) == {
        "skip": "0",
        "limit": "100",
        "dateBegin": "2026-11-11T00:00:00",
        "dateEnd": "2026-11-20T12:00:00",
    }
    orders, _ = response.parse_orders()
    assert orders
    assert all(begin <= order.created <= NOW for order in orders)


def test_days_wins_over_dates_on_the_platform(client: Bizon365Client) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)

    both = client.get_orders(build_query(days=3, date_begin=old, date_end=old + timedelta(days=1)))

    assert both.total == client.get_orders(build_query(days=3)).total > 0


def test_paid_filter_returns_only_paid_orders(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    orders, _ = client.get_orders(build_query(days=30, paid=Bizon365PaidFilter.PAID)).parse_orders()

    assert {order.id for order in orders} == paid_orders_of(sim)


def test_unpaid_or_partial_filter_returns_no_paid_order(client: Bizon365Client) -> None:
    orders, _ = client.get_orders(build_query(days=30, paid=Bizon365PaidFilter.UNPAID_OR_PARTIAL)).parse_orders()

    assert orders
    assert not any(order.paid for order in orders)


def test_free_asks_for_free_orders_too(client: Bizon365Client) -> None:
    without = client.get_orders(build_query(days=30)).total
    with_free = client.get_orders(build_query(days=30, free=True))

    assert with_free.total > without
    assert any(order.amount == 0 for order in with_free.parse_orders()[0])


def test_search_is_sent_and_echoed(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    target = next(order for order in sim.orders if order["amount"])

    response = client.get_orders(build_query(days=30, search=target["email"]))

    assert response.search == target["email"]
    assert [order.id for order in response.parse_orders()[0]] == [str(target["_id"])]


def test_an_out_of_range_query_is_never_sent(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    unchecked = build_query().model_copy(update={"limit": 101})

    with pytest.raises(ValidationFailedError) as caught:
        client.get_orders(unchecked)

    assert caught.value.field == "limit"
    assert sim.requests == []


# -- list_orders -------------------------------------------------------------------------------------
def test_list_orders_maps_pages_onto_skip_and_limit(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    page = client.list_orders(ListQuery(page=3, page_size=7, created_from=NOW - timedelta(days=30)))

    assert last_query(sim)["skip"] == "14"
    assert last_query(sim)["limit"] == "7"
    assert (page.page, page.page_size, len(page.orders)) == (3, 7, 7)
    assert page.total is not None
    assert page.total_pages == -(-page.total // 7)


def test_list_orders_pages_cover_every_order_once(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    query = ListQuery(page_size=25, created_from=NOW - timedelta(days=30), extra={"free": "1"})
    first = client.list_orders(query)
    pages = [first] + [
        client.list_orders(ListQuery(page=n, page_size=25, created_from=query.created_from, extra={"free": "1"}))
        for n in range(2, (first.total_pages or 0) + 1)
    ]

    listed = [order.order_id for page in pages for order in page.orders]
    assert listed == [str(order["_id"]) for order in sim.orders]


def test_list_orders_uses_the_largest_page_by_default(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    page = client.list_orders(ListQuery())

    assert page.page_size == 100
    assert last_query(sim) == {"skip": "0", "limit": "100"}


def test_list_orders_maps_the_created_range_into_the_configured_zone(
    sim: Bizon365Simulator, client: Bizon365Client
) -> None:
    page = client.list_orders(ListQuery(created_from=datetime(2026, 11, 15, 21, 0, tzinfo=UTC), created_to=NOW))

    assert last_query(sim)["dateBegin"] == "2026-11-16T00:00:00"
    assert last_query(sim)["dateEnd"] == "2026-11-20T12:00:00"
    assert all(order.created_at >= datetime(2026, 11, 15, 21, 0, tzinfo=UTC) for order in page.orders)


@pytest.mark.parametrize(
    ("raw_statuses", "code"),
    [(("paid",), "1"), (("unpaid",), "0"), (("unpaid", "partially_paid"), "5")],
)
def test_list_orders_turns_raw_statuses_into_the_paid_code(
    sim: Bizon365Simulator, client: Bizon365Client, raw_statuses: tuple[str, ...], code: str
) -> None:
    page = client.list_orders(ListQuery(raw_statuses=raw_statuses, created_from=NOW - timedelta(days=30)))

    assert last_query(sim)["paid"] == code
    assert {order.raw_status for order in page.orders} <= set(raw_statuses)


def test_list_orders_passes_platform_filters_through_extra(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    client.list_orders(ListQuery(extra={"days": "6", "search": "anna", "paid": "3", "free": "1"}))

    assert last_query(sim) == {"skip": "0", "limit": "100", "days": "6", "search": "anna", "paid": "3", "free": "1"}


def test_list_orders_refuses_a_page_larger_than_100(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        client.list_orders(ListQuery(page_size=101))

    assert caught.value.field == "limit"
    assert sim.requests == []


def test_list_orders_maps_statuses_as_payments_arrive(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    (new,) = sim.add_orders(1, lifecycle=Lifecycle.STAGED)
    (first_due, _), (second_due, _) = sim.pending_payments(new["_id"])
    order_id = str(new["_id"])

    def status() -> OrderStatus:
        page = client.list_orders(ListQuery(page_size=5, created_from=sim.clock.now() - timedelta(days=9)))
        return next(order.status for order in page.orders if order.order_id == order_id)

    assert status() is OrderStatus.PENDING
    sim.advance(first_due - sim.clock.now())
    assert status() is OrderStatus.PARTIALLY_PAID
    sim.advance(second_due - first_due)
    assert status() is OrderStatus.FULFILLED


def test_a_bad_record_is_quarantined_and_the_rest_of_the_page_kept(
    sim: Bizon365Simulator, client: Bizon365Client
) -> None:
    newest = sim.orders[0]["_id"]
    sim.patch_order(newest, {"amount": "lots"})

    page = client.list_orders(ListQuery(page_size=10, extra={"free": "1"}))

    assert len(page.orders) == 9
    assert str(newest) not in {order.order_id for order in page.orders}
    assert [(q.record_id, q.reason.split(":")[0]) for q in page.quarantined] == [(str(newest), "amount")]


# -- errors ------------------------------------------------------------------------------------------
def test_a_wrong_token_raises_authentication_error_without_retrying(sim: Bizon365Simulator) -> None:
    with make_client(sim, token="wrong") as client, pytest.raises(AuthenticationError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == 401
    assert len(sim.requests) == 1


def test_an_unknown_project_is_a_permanent_error_with_the_body_kept(sim: Bizon365Simulator) -> None:
    with make_client(sim, project_id="999") as client, pytest.raises(PermanentError) as caught:
        client.get_orders()

    assert caught.value.status_code == 404
    assert caught.value.body == {"error": "not_found", "message": "project 999"}
    assert len(sim.requests) == 1


def test_a_400_from_the_platform_is_permanent_with_its_body_and_not_retried(
    sim: Bizon365Simulator, client: Bizon365Client
) -> None:
    with pytest.raises(PermanentError) as caught:
        client.transport.request("GET", "/api/v2/12345/orders/getorders", params={"limit": "101"})

    assert caught.value.status_code == 400
    assert caught.value.body["field"] == "limit"
    assert not isinstance(caught.value, RetryableError)
    assert len(sim.requests) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_are_never_retried(sim: Bizon365Simulator, client: Bizon365Client, status: int) -> None:
    sim.faults.fail_next = [status]

    with pytest.raises(PermanentError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == status
    assert len(sim.requests) == 1


# -- faults ------------------------------------------------------------------------------------------
def test_a_429_is_retried_after_the_retry_after_it_names(sim: Bizon365Simulator, sleep: RecordingSleep) -> None:
    sim.faults.rate_limit_share = 1.0
    sim.faults.retry_after = 0.25
    patient = RetryPolicy(attempts=3, base_delay=0.001, max_delay=1.0)  # backoff never outgrows Retry-After

    with make_client(sim, sleep=sleep, retry=patient) as client, pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 0.25
    assert len(sim.requests) == FAST_RETRY.attempts
    assert sleep.delays == [0.25] * (FAST_RETRY.attempts - 1)


def test_a_single_429_then_success_returns_the_page(
    sim: Bizon365Simulator, client: Bizon365Client, sleep: RecordingSleep
) -> None:
    sim.faults.fail_next = [429]

    page = client.list_orders(ListQuery())

    assert page.orders
    assert [r.status for r in sim.requests] == [429, 200]
    assert len(sleep.delays) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried_until_the_page_comes(sim: Bizon365Simulator, client: Bizon365Client, status: int) -> None:
    sim.faults.fail_next = [status, status]

    page = client.list_orders(ListQuery())

    assert page.orders
    assert [r.status for r in sim.requests] == [status, status, 200]


def test_persistent_5xx_gives_up_after_the_bounded_attempts(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    sim.faults.server_error_share = 1.0

    with pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code in (500, 502, 503)
    assert len(sim.requests) == FAST_RETRY.attempts


def test_a_malformed_body_is_an_error_not_an_empty_page(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    sim.faults.malformed_share = 1.0

    with pytest.raises(MalformedResponseError):
        client.list_orders(ListQuery())

    assert len(sim.requests) == FAST_RETRY.attempts


def test_one_malformed_body_then_a_good_one_returns_the_page(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    sim.faults.malformed_share = 1.0

    def heal(_: float) -> None:
        sim.faults.malformed_share = 0.0

    with make_client(sim, sleep=heal) as healing:
        page = healing.list_orders(ListQuery())

    assert page.orders
    assert [r.status for r in sim.requests] == [200, 200]


def test_an_envelope_without_its_documented_fields_is_malformed(sim: Bizon365Simulator) -> None:
    def fake(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"list": []})

    transport = httpx.Client(base_url=sim.base_url, transport=httpx.MockTransport(fake))
    client = Bizon365Client(sim.base_url, DEFAULT_TOKEN, project_id="12345", retry=FAST_RETRY, http_client=transport)
    with client, pytest.raises(MalformedResponseError) as caught:
        client.list_orders(ListQuery())

    assert "total" in caught.value.message


@pytest.mark.parametrize("body", [b"", b"[]", b"null"])
def test_an_empty_or_non_object_body_is_malformed(sim: Bizon365Simulator, body: bytes) -> None:
    def fake(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    transport = httpx.Client(base_url=sim.base_url, transport=httpx.MockTransport(fake))
    client = Bizon365Client(sim.base_url, DEFAULT_TOKEN, project_id="12345", retry=FAST_RETRY, http_client=transport)
    with client, pytest.raises(MalformedResponseError):
        client.list_orders(ListQuery())


def test_a_timeout_is_retried_then_raised_as_retryable(sim: Bizon365Simulator, sleep: RecordingSleep) -> None:
    sim.faults.timeout_share = 1.0
    sim.faults.timeout_hold = 0.3

    with make_client(sim, sleep=sleep, timeout=0.05) as client, pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery())

    assert "timed out" in caught.value.message
    assert caught.value.status_code is None
    assert len(sleep.delays) == FAST_RETRY.attempts - 1


def test_a_timeout_once_then_an_answer_returns_the_page(sim: Bizon365Simulator) -> None:
    sim.faults.timeout_share = 1.0
    sim.faults.timeout_hold = 0.3

    def heal(_: float) -> None:
        sim.faults.timeout_share = 0.0

    with make_client(sim, sleep=heal, timeout=0.1) as client:
        page = client.list_orders(ListQuery())

    assert page.orders


def test_a_refused_connection_is_retried_then_raised_as_retryable(sleep: RecordingSleep) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = Bizon365Client(f"http://127.0.0.1:{port}", "t", project_id="1", retry=FAST_RETRY, sleep=sleep)
        with client, pytest.raises(RetryableError) as caught:
            client.list_orders(ListQuery())

    assert "connection failed" in caught.value.message
    assert len(sleep.delays) == FAST_RETRY.attempts - 1


def test_latency_under_the_timeout_is_no_error(sim: Bizon365Simulator) -> None:
    sim.faults.latency = 0.05

    with make_client(sim, timeout=1.0) as client:
        page = client.list_orders(ListQuery(page_size=5))

    assert len(page.orders) == 5


def test_retries_through_mixed_faults_lose_no_order(sim: Bizon365Simulator) -> None:
    sim.faults.rate_limit_share = 0.2
    sim.faults.retry_after = 0.001
    sim.faults.server_error_share = 0.2
    expected = [str(order["_id"]) for order in sim.orders if order["amount"]][:50]
    patient = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.01)

    with make_client(sim, retry=patient) as client:
        pages = [
            client.list_orders(ListQuery(page=number, page_size=10, created_from=NOW - timedelta(days=30)))
            for number in range(1, 6)
        ]

    assert [order.order_id for page in pages for order in page.orders] == expected
    assert {r.status for r in sim.requests} > {200}


def test_a_page_below_1_is_refused_before_sending(sim: Bizon365Simulator, client: Bizon365Client) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        client.list_orders(ListQuery(page=0))

    assert caught.value.field == "page"
    assert sim.requests == []


def test_a_client_needs_a_project() -> None:
    with pytest.raises(ValueError, match="project_id"):
        Bizon365Client("http://127.0.0.1:1", "t", project_id="")
