"""The Ticketscloud client against the simulator over real HTTP: filters, limits, errors, retries, the 409 rule."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from ticketscloud_support import (
    FAST_RETRY,
    START,
    RecordingSleep,
    load_fixture,
    make_client,
    open_order_id,
    simulator,
)

from ordersync.errors import (
    AuthenticationError,
    MalformedResponseError,
    OrderNotFoundError,
    OutcomeUnknownError,
    PermanentError,
    RetryableError,
    ValidationFailedError,
)
from ordersync.models import OrderStatus
from ordersync.platform_port import ListQuery, PlatformClient
from ordersync.platforms.http import RetryPolicy
from ordersync.platforms.ticketscloud import (
    TicketscloudClient,
    TicketscloudExportRequest,
    TicketscloudOrder,
    TicketscloudOrderActions,
    TicketscloudOrderFilters,
    TicketscloudPatchResult,
    TicketscloudVendorDataAction,
)

MOSCOW = ZoneInfo("Europe/Moscow")
SEND_TICKETS = TicketscloudOrderActions(send_tickets=True)


@pytest.fixture(params=["live", "tidy"])
def sim(request: pytest.FixtureRequest) -> Iterator[TicketscloudSimulator]:
    """Every test runs against the platform as it behaves live and as its docs describe it."""
    with simulator(processing_delay=0.0, live=request.param == "live").running() as running:
        yield running


@pytest.fixture
def client(sim: TicketscloudSimulator) -> Iterator[TicketscloudClient]:
    with make_client(sim) as made:
        yield made


class HealingSleep(RecordingSleep):
    """Clears the simulator's faults at the first back-off: the retry then meets a healthy platform."""

    def __init__(self, sim: TicketscloudSimulator) -> None:
        super().__init__()
        self.sim = sim

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        self.sim.faults.timeout_share = self.sim.faults.malformed_share = self.sim.faults.rate_limit_share = 0.0


def last_query(sim: TicketscloudSimulator) -> dict[str, list[str]]:
    return sim.requests[-1].query


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- listing ---------------------------------------------------------------------------------------------


def test_the_client_is_a_platform_client(client: TicketscloudClient) -> None:
    assert isinstance(client, PlatformClient)
    assert client.max_page_size == 200


def test_list_orders_sends_the_documented_key_header_and_the_largest_page(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    page = client.list_orders(ListQuery())

    assert sim.requests[-1].headers["authorization"] == f"key {sim.token}"
    assert last_query(sim) == {"page": ["1"], "page_size": ["200"], "with_refunded_tickets": ["true"]}
    assert (len(page.orders), page.quarantined) == (60, ())
    assert (page.total, page.total_pages) == (60, 1)


def test_walking_the_pages_to_an_empty_one_reads_every_order_once(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    ids: list[str] = []
    page = 1
    while orders := client.list_orders(ListQuery(page, 25)).orders:
        ids.extend(order.order_id for order in orders)
        page += 1

    assert sorted(ids) == sorted(sim.order_ids())
    assert page == 4  # three pages hold the 60 (live, the second is short), the fourth is empty


def test_the_docs_example_request_is_what_the_client_sends(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    example = load_fixture("orders_list_request.json")
    query = ListQuery(
        created_from=datetime(2000, 7, 28, 13, tzinfo=MOSCOW),
        created_to=datetime(2020, 7, 28, 13, tzinfo=MOSCOW),
        raw_statuses=("done", "cancelled"),
    )

    client.list_orders(query)

    request = sim.requests[-1]
    assert request.path == example["path"]
    assert {name: request.query[name] for name in example["query"]} == {
        name: [value] for name, value in example["query"].items()
    }


def test_created_at_bounds_are_sent_in_the_platform_zone_covering_sub_seconds(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    client.list_orders(
        ListQuery(
            created_from=datetime(2026, 3, 1, 6, 0, 0, 500, tzinfo=UTC), created_to=START + timedelta(microseconds=1)
        )
    )

    assert last_query(sim)["created_at"] == ["2026-03-01T09:00:00,2026-03-01T12:00:01"]


def test_an_open_created_at_side_is_sent_as_a_far_bound(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    page = client.list_orders(ListQuery(created_from=START - timedelta(days=1)))

    assert last_query(sim)["created_at"] == ["2026-02-28T12:00:00,2100-01-01T03:00:00"]
    assert page.orders
    assert all(order.created_at >= START - timedelta(days=1) for order in page.orders)


def test_status_filter_returns_only_those_statuses(client: TicketscloudClient) -> None:
    page = client.list_orders(ListQuery(raw_statuses=("done", "cancelled")))

    assert page.orders
    assert {order.raw_status for order in page.orders} == {"done", "cancelled"}
    assert {order.status for order in page.orders} == {OrderStatus.FULFILLED, OrderStatus.CANCELLED}


def test_events_and_only_with_customer_come_through_extra(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    event = sim.event_ids[0]

    page = client.list_orders(ListQuery(extra={"events": event, "only_with_customer": "true"}))

    assert last_query(sim)["events"] == [event]
    assert last_query(sim)["only_with_customer"] == ["true"]
    assert page.orders
    assert all(order.raw["event"] == event and order.customer is not None for order in page.orders)


def test_search_orders_takes_typed_filters(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    events = tuple(sim.event_ids[:2])

    page = client.search_orders(TicketscloudOrderFilters(events=events, only_with_customer=False), page_size=10)

    assert last_query(sim)["events"] == [",".join(events)]
    assert last_query(sim)["only_with_customer"] == ["false"]
    assert {order.raw["event"] for order in page.orders} <= set(events)
    assert page.page_size == 10


def test_new_orders_appear_as_pending_and_expire_with_the_clock(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = sim.add_orders(1)[0]
    since = ListQuery(created_from=START)
    assert [(o.order_id, o.status) for o in client.list_orders(since).orders] == [(order_id, OrderStatus.PENDING)]

    sim.advance(timedelta(minutes=15))

    assert [o.status for o in client.list_orders(since).orders] == [OrderStatus.EXPIRED]


@pytest.mark.parametrize(("page", "page_size", "field"), [(1, 201, "page_size"), (1, 0, "page_size"), (0, 50, "page")])
def test_out_of_range_paging_is_refused_before_sending(
    sim: TicketscloudSimulator, client: TicketscloudClient, page: int, page_size: int, field: str
) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        client.list_orders(ListQuery(page=page, page_size=page_size))

    assert caught.value.field == field
    assert sim.requests == []


# -- errors ----------------------------------------------------------------------------------------------


def test_a_wrong_key_is_an_authentication_error_not_retried(sim: TicketscloudSimulator) -> None:
    with make_client(sim, token="wrong") as client, pytest.raises(AuthenticationError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == (403 if sim.live else 401)
    assert len(sim.requests) == 1


def test_a_forbidden_key_keeps_the_platforms_reason_on_the_error() -> None:
    with (
        simulator(live=True).running() as live,
        make_client(live, token="wrong") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.list_orders(ListQuery())

    assert caught.value.body == {"reason": "forbidden"}
    assert caught.value.reasons == ("forbidden",)
    assert caught.value.message.endswith("HTTP 403: forbidden")


def test_a_400_is_a_permanent_error_keeping_the_platform_body(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    with pytest.raises(PermanentError) as caught:
        client.list_orders(ListQuery(raw_statuses=("teleported",)))

    assert caught.value.status_code == 400
    assert "status: unknown status teleported" in caught.value.message
    first = caught.value.body["errors"][0]
    assert first == "status: unknown status teleported" if sim.live else first["code"] == "invalid_status"
    assert len(sim.requests) == 1


# -- retries ---------------------------------------------------------------------------------------------


def test_a_429_is_retried_honouring_retry_after_and_then_given_up(sim: TicketscloudSimulator) -> None:
    sim.faults.rate_limit_share, sim.faults.retry_after = 1.0, 0.2
    sleep = RecordingSleep()
    retry = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.1)  # Retry-After may stretch a delay to 0.4 s

    with make_client(sim, sleep=sleep, retry=retry) as client, pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == 429
    assert caught.value.retry_after == pytest.approx(0.2)
    assert len(sim.requests) == FAST_RETRY.attempts
    assert len(sleep.delays) == FAST_RETRY.attempts - 1
    assert all(delay >= 0.2 for delay in sleep.delays)


def test_a_429_then_a_healthy_platform_gives_the_page(sim: TicketscloudSimulator) -> None:
    sim.faults.rate_limit_share = 1.0
    sleep = HealingSleep(sim)

    with make_client(sim, sleep=sleep) as client:
        page = client.list_orders(ListQuery())

    assert len(page.orders) == 60
    assert [request.status for request in sim.requests] == [429, 200]


def test_server_errors_are_retried_until_the_page_comes(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    sim.faults.fail_next = [503, 500]

    page = client.list_orders(ListQuery())

    assert len(page.orders) == 60
    assert [request.status for request in sim.requests] == [503, 500, 200]


def test_server_errors_past_the_attempts_raise_instead_of_an_empty_page(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    sim.faults.fail_next = [502, 502, 502, 200]

    with pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery())

    assert caught.value.status_code == 502
    assert len(sim.requests) == FAST_RETRY.attempts


def test_a_timeout_is_retried(sim: TicketscloudSimulator) -> None:
    sim.faults.timeout_share, sim.faults.timeout_hold = 1.0, 0.5

    with make_client(sim, sleep=HealingSleep(sim), timeout=0.1) as client:
        page = client.list_orders(ListQuery())

    assert len(page.orders) == 60


def test_timeouts_past_the_attempts_raise_a_retryable_error(sim: TicketscloudSimulator) -> None:
    sim.faults.timeout_share, sim.faults.timeout_hold = 1.0, 0.3

    with make_client(sim, timeout=0.1) as client, pytest.raises(RetryableError, match="timed out"):
        client.list_orders(ListQuery())


def test_connection_errors_are_retried_then_raised(sim: TicketscloudSimulator) -> None:
    sleep = RecordingSleep()

    with (
        make_client(sim, base_url=f"http://127.0.0.1:{free_port()}", sleep=sleep) as client,
        pytest.raises(RetryableError, match="connection failed"),
    ):
        client.list_orders(ListQuery())

    assert len(sleep.delays) == FAST_RETRY.attempts - 1


def test_a_malformed_body_is_retried_then_raised(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    sim.faults.malformed_share = 1.0

    with pytest.raises(MalformedResponseError):
        client.list_orders(ListQuery())

    assert len(sim.requests) == FAST_RETRY.attempts


def test_a_malformed_body_then_a_good_one_gives_the_page(sim: TicketscloudSimulator) -> None:
    sim.faults.malformed_share = 1.0

    with make_client(sim, sleep=HealingSleep(sim)) as client:
        assert len(client.list_orders(ListQuery()).orders) == 60


# -- PATCH -----------------------------------------------------------------------------------------------


def test_patch_applies_the_actions_and_returns_the_updated_order(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = open_order_id(sim)
    actions = TicketscloudOrderActions.model_validate(
        {
            "customer": {"name": "Ivan Ivanov", "email": "hello@world.ru", "phone": "+79991234576", "lang": "ru"},
            "vendor_data": {"order_id": "CRM-1", "raw": {"call_counter": 3}},
            "send_tickets": True,
            "promocodes": ["promo100"],
        }
    )

    result = client.patch_order(order_id, actions)

    assert isinstance(result, TicketscloudPatchResult)
    assert result.promocode_errors == ()
    assert result.order.order_id == order_id
    assert result.order.customer is not None
    assert result.order.customer.email == "hello@world.ru"
    assert result.order.raw["vendor_data"] == {"order_id": "CRM-1", "raw": {"call_counter": "3"}}
    assert sim.requests[-1].body == actions.patch_body()
    assert sim.order(order_id)["settings"]["send_tickets"] is True


def test_promocode_errors_inside_a_200_are_returned(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    order_id = open_order_id(sim)

    result = client.patch_order(order_id, TicketscloudOrderActions(promocodes=["NOPE", "summer2019"]))

    assert [(error.code, error.msg) for error in result.promocode_errors] == [
        ("promocode_not_found", "Promocode not found"),
        ("promocode_apply_info", "Cant apply promocode by some reason"),
    ]
    assert result.order.order_id == order_id


def test_a_patch_on_a_done_order_is_a_permanent_error_with_the_errors_body(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = open_order_id(sim)
    sim.pay(order_id)

    with pytest.raises(PermanentError) as caught:
        client.patch_order(order_id, SEND_TICKETS)

    assert caught.value.status_code == 400
    assert "cannot be changed" in caught.value.message
    assert caught.value.reasons == (
        ("Order is done: it cannot be changed",) if sim.live else ("order_done: Order is done: it cannot be changed",)
    )


def test_strings_in_a_200s_errors_are_the_platforms_refusal_not_an_unknown_outcome() -> None:
    refusal = {"errors": ["Event 5bacf64ea0eb2f000c45160b not found"]}
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json=refusal))
    http_client = httpx.Client(base_url="http://ticketscloud.test", transport=answer)

    with (
        TicketscloudClient("http://ticketscloud.test", "key", http_client=http_client) as client,
        pytest.raises(PermanentError) as caught,
    ):
        client.patch_order("5bacf64ea0eb2f000c45160a", SEND_TICKETS)

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.body == refusal
    assert "Event 5bacf64ea0eb2f000c45160b not found" in caught.value.message


@pytest.mark.parametrize("status", [409, 429, 503])
def test_a_patch_is_sent_exactly_once_and_a_refusal_is_retryable(
    sim: TicketscloudSimulator, client: TicketscloudClient, status: int
) -> None:
    order_id = open_order_id(sim)
    sim.faults.fail_next = [status]

    with pytest.raises(RetryableError) as caught:
        client.patch_order(order_id, SEND_TICKETS)

    assert caught.value.status_code == status
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert len(sim.requests) == 1
    assert sim.order(order_id)["settings"]["send_tickets"] is False


def test_a_patch_whose_answer_is_lost_is_outcome_unknown(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    sim.faults.timeout_share, sim.faults.timeout_hold = 1.0, 0.3

    with make_client(sim, timeout=0.1) as client, pytest.raises(OutcomeUnknownError):
        client.patch_order(order_id, SEND_TICKETS)

    assert wait_for(lambda: len(sim.requests) == 1)  # the held request is logged when it ends
    assert len(sim.requests) == 1


def test_a_patch_answered_with_an_unreadable_200_is_outcome_unknown(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = open_order_id(sim)
    sim.faults.malformed_share = 1.0

    with pytest.raises(OutcomeUnknownError):
        client.patch_order(order_id, SEND_TICKETS)

    assert len(sim.requests) == 1


def test_a_patch_answered_with_json_that_is_not_an_order_is_outcome_unknown() -> None:
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {"id": "x"}}))
    http_client = httpx.Client(base_url="http://ticketscloud.test", transport=answer)

    with (
        TicketscloudClient("http://ticketscloud.test", "key", http_client=http_client) as client,
        pytest.raises(OutcomeUnknownError, match=r"data\.number"),
    ):
        client.patch_order("5bacf64ea0eb2f000c45160a", SEND_TICKETS)


def test_concurrent_patches_on_one_order_meet_the_409_rule() -> None:
    with simulator(processing_delay=0.3).running() as sim, make_client(sim) as client:
        order_id = open_order_id(sim)
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def send() -> None:
            barrier.wait(timeout=5)
            try:
                outcomes.append(client.patch_order(order_id, SEND_TICKETS))
            except RetryableError as error:
                outcomes.append(error)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        conflicts = [item for item in outcomes if isinstance(item, RetryableError)]
        assert [error.status_code for error in conflicts] == [409]
        assert sum(isinstance(item, TicketscloudPatchResult) for item in outcomes) == 1
        assert len(sim.requests) == 2
        assert len(sim.conflicts) == 1


def test_patch_refuses_an_unusable_order_id_before_sending(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    with pytest.raises(ValidationFailedError):
        client.patch_order("a/b", SEND_TICKETS)

    assert sim.requests == []


def test_patch_refuses_a_limit_broken_past_validation_before_sending(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = open_order_id(sim)
    too_long = TicketscloudVendorDataAction.model_construct(order_id="x" * 65, raw=None)
    actions = SEND_TICKETS.model_copy(update={"vendor_data": too_long})  # model_copy does not validate

    with pytest.raises(ValidationFailedError) as raised:
        client.patch_order(order_id, actions)

    assert raised.value.field == "vendor_data.order_id"
    assert "64" in raised.value.message
    assert sim.requests == []


# -- one order by id -------------------------------------------------------------------------------------


def test_get_order_reads_one_order_by_id_as_the_platform_sends_it(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    order_id = sim.order_ids()[5]

    order = client.get_order(order_id)

    assert order == TicketscloudOrder.model_validate(sim.order(order_id))
    request = sim.requests[-1]
    assert (request.method, request.path, request.status) == ("GET", f"/v2/resources/orders/{order_id}", 200)


def test_get_order_of_an_unknown_id_is_order_not_found_keeping_the_body(
    sim: TicketscloudSimulator, client: TicketscloudClient
) -> None:
    with pytest.raises(OrderNotFoundError) as caught:
        client.get_order("0" * 24)

    assert caught.value.status_code == 404
    assert caught.value.body == {"errors": [f"Order {'0' * 24} not found"]}
    assert len(sim.requests) == 1


def test_get_order_is_retried_on_a_server_error(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    order_id = sim.order_ids()[0]
    sim.faults.fail_next = [503]

    assert client.get_order(order_id).id == order_id
    assert [request.status for request in sim.requests] == [503, 200]


def test_get_order_answered_with_json_that_is_not_an_order_is_malformed() -> None:
    answer = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": {"id": "x"}}))
    http_client = httpx.Client(base_url="http://ticketscloud.test", transport=answer)

    with (
        TicketscloudClient("http://ticketscloud.test", "key", http_client=http_client, retry=RetryPolicy(1)) as client,
        pytest.raises(MalformedResponseError, match=r"data\.number"),
    ):
        client.get_order("5bacf64ea0eb2f000c45160a")


@pytest.mark.parametrize("unusable", ["a/b", "..", "", "0" * 23 + "#"])
def test_get_order_refuses_an_unusable_order_id_before_sending(
    sim: TicketscloudSimulator, client: TicketscloudClient, unusable: str
) -> None:
    with pytest.raises(ValidationFailedError, match="order_id"):
        client.get_order(unusable)

    assert sim.requests == []


# -- export ----------------------------------------------------------------------------------------------


def test_export_sends_the_docs_example_body(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    example = load_fixture("export_request.json")

    client.export_orders(
        TicketscloudExportRequest(
            email="hello@world.hello",
            created_from=datetime(2000, 7, 28, 13, tzinfo=MOSCOW),
            created_to=datetime(2020, 7, 28, 13, tzinfo=MOSCOW),
            statuses=("done", "cancelled"),
        )
    )

    request = sim.requests[-1]
    assert (request.method, request.path, request.body) == (example["method"], example["path"], example["body"])
    [export] = sim.exports
    assert (export.email, export.statuses) == ("hello@world.hello", ("cancelled", "done"))


def test_export_carries_events_and_only_with_customer(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    event = sim.event_ids[0]

    client.export_orders(TicketscloudExportRequest(email="ops@example.com", events=(event,), only_with_customer=True))

    [export] = sim.exports
    assert (export.events, export.only_with_customer) == ((event,), True)


def test_export_is_retried_on_a_server_error(sim: TicketscloudSimulator, client: TicketscloudClient) -> None:
    sim.faults.fail_next = [503]

    client.export_orders(TicketscloudExportRequest(email="ops@example.com"))

    assert [request.status for request in sim.requests] == [503, 200]
    assert len(sim.exports) == 1


@pytest.mark.parametrize("suffix", ["#x", "?x=1", "/..", "%2F..", "\x00"])
def test_patch_refuses_an_order_id_that_is_url_syntax_before_sending(
    sim: TicketscloudSimulator, client: TicketscloudClient, suffix: str
) -> None:
    """``<id>#x`` or ``<id>?x=1`` would PATCH order ``<id>`` from another FIFO group, ``..`` another resource."""
    order_id = open_order_id(sim)

    for unusable in (order_id + suffix, "..", "."):
        with pytest.raises(ValidationFailedError, match="order_id"):
            client.patch_order(unusable, SEND_TICKETS)

    assert sim.requests == []
