"""The e-cards client against the e-cards simulator over real HTTP: pages, statuses, creates that never make a
second order, and every fault mode (retried when safe, given up when bounded, never read as an empty result)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from ecards_support import (
    FAST_RETRY,
    RecordingSleep,
    client_for,
    create_request,
    requests_to,
    running_simulator,
)
from ordersync_tools.simulators.ecards import EcardsSimulator

from ordersync.errors import (
    AuthenticationError,
    MalformedResponseError,
    OutcomeUnknownError,
    PermanentError,
    RetryableError,
    ValidationFailedError,
)
from ordersync.models import OrderStatus, Platform
from ordersync.platform_port import ListQuery, PlatformClient
from ordersync.platforms.ecards import EcardsCardLine, EcardsClient, OrderNotFoundError


@pytest.fixture
def sim() -> Iterator[EcardsSimulator]:
    with running_simulator(orders=45) as simulator:
        yield simulator


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(sim: EcardsSimulator, sleep: RecordingSleep) -> Iterator[EcardsClient]:
    with client_for(sim, sleep=sleep) as ecards:
        yield ecards


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- listing ---------------------------------------------------------------------------------------
def test_client_is_a_platform_client_with_the_constant_page_size(client: EcardsClient) -> None:
    assert isinstance(client, PlatformClient)
    assert (client.platform, client.max_page_size) == (Platform.ECARDS, 20)


def test_pages_map_every_order_newest_first(sim: EcardsSimulator, client: EcardsClient) -> None:
    pages = [client.list_orders(ListQuery(page=page)) for page in (1, 2, 3)]

    assert [len(page.orders) for page in pages] == [20, 20, 5]
    assert all(page.total_pages == 3 and page.page_size == 20 for page in pages)
    assert [page.page for page in pages] == [1, 2, 3]
    listed = [order.order_id for page in pages for order in page.orders]
    assert listed == [str(order.id) for order in sim.orders]


def test_mapped_orders_carry_the_simulators_utc_times_and_exact_totals(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    orders = [order for page in (1, 2, 3) for order in client.list_orders(ListQuery(page=page)).orders]

    for order in orders:
        source = sim.order(order.order_id)
        assert order.created_at == source.created_at
        assert order.total.amount == source.total
        assert order.total.currency == "RUB"
        assert order.number == str(source.number)
    assert any(order.total.amount != order.total.amount.to_integral_value() for order in orders)


def test_a_page_beyond_the_end_is_empty_but_says_how_many_pages_exist(client: EcardsClient) -> None:
    page = client.list_orders(ListQuery(page=9))

    assert page.orders == ()
    assert page.total_pages == 3


def test_only_the_page_is_sent_filters_and_page_size_are_ignored(sim: EcardsSimulator, client: EcardsClient) -> None:
    client.list_orders(ListQuery(page=2, page_size=200, raw_statuses=("Created",), extra={"q": "x"}))

    (request,) = sim.requests
    assert request.query == {"page": ["2"]}
    assert request.headers["authorization"] == f"Bearer {sim.token}"
    assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize("page", [0, -1, 2**31])
def test_a_page_out_of_range_is_refused_before_sending(sim: EcardsSimulator, client: EcardsClient, page: int) -> None:
    with pytest.raises(ValidationFailedError) as caught:
        client.list_orders(ListQuery(page=page))

    assert caught.value.field == "page"
    assert sim.requests == []


def test_the_data_array_of_the_docs_example_is_read_too() -> None:
    with running_simulator(orders=25, array_key="data") as sim, client_for(sim) as client:
        page = client.list_orders(ListQuery(page=1))

    assert len(page.orders) == 20
    assert page.total_pages == 2


def test_pages_shift_while_orders_arrive_so_page_two_repeats_the_end_of_page_one() -> None:
    with running_simulator(orders=45, arrivals_per_request=3) as sim, client_for(sim) as client:
        first = client.list_orders(ListQuery(page=1))
        second = client.list_orders(ListQuery(page=2))

    assert [o.order_id for o in second.orders[:3]] == [o.order_id for o in first.orders[-3:]]


def test_status_changes_show_in_the_next_list(sim: EcardsSimulator, client: EcardsClient) -> None:
    (new,) = sim.add_orders(1)
    before = client.list_orders(ListQuery(page=1)).orders[0]

    sim.advance(timedelta(days=1))
    after = client.list_orders(ListQuery(page=1)).orders[0]

    assert before.order_id == after.order_id == str(new.id)
    assert (before.raw_status, before.status) == ("Created", OrderStatus.PENDING)
    assert after.status.is_final
    assert after.raw_status == new.schedule[-1][1]


# -- status ----------------------------------------------------------------------------------------
def test_status_of_a_known_order_is_raw_and_canonical(sim: EcardsSimulator, client: EcardsClient) -> None:
    (new,) = sim.add_orders(1)

    status = client.get_order_status(str(new.id))

    assert (status.order_id, status.raw_status, status.status) == (new.id, "Created", OrderStatus.PENDING)
    assert not status.is_final


def test_status_with_the_docs_trailing_comma_is_read_in_one_request() -> None:
    with running_simulator(orders=3, status_trailing_comma=True) as sim, client_for(sim) as client:
        order = sim.orders[0]
        status = client.get_order_status(order.id)

    assert status.raw_status == sim.status_of(order.id)
    assert len(sim.requests) == 1


def test_status_of_an_unknown_order_is_order_not_found_with_the_body(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    with pytest.raises(OrderNotFoundError) as caught:
        client.get_order_status(UUID("b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb"))

    assert isinstance(caught.value, PermanentError)
    assert caught.value.status_code == 404
    assert caught.value.body["errors"][0]["code"] == "not_found"
    assert len(sim.requests) == 1


def test_status_of_an_id_that_is_not_a_uuid_is_refused_before_sending(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    with pytest.raises(ValidationFailedError):
        client.get_order_status("3048")

    assert sim.requests == []


def test_status_read_is_retried_after_a_server_error(sim: EcardsSimulator, client: EcardsClient) -> None:
    sim.faults.fail_next = [502]

    status = client.get_order_status(sim.orders[0].id)

    assert status.raw_status == sim.status_of(sim.orders[0].id)
    assert [r.status for r in sim.requests] == [502, 200]


def test_a_status_body_with_an_unknown_status_is_malformed(client: EcardsClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"status": "Lost"}')

    http = httpx.Client(base_url="http://ecards.test", transport=httpx.MockTransport(handler))
    with EcardsClient("http://ecards.test", "t", http_client=http) as mocked, pytest.raises(MalformedResponseError):
        mocked.get_order_status(UUID(int=1))


# -- faults on reads -------------------------------------------------------------------------------
def test_429_is_retried_honouring_retry_after(sim: EcardsSimulator) -> None:
    sim.faults.rate_limit_share = 1.0
    sim.faults.retry_after = 0.02

    def sleep_then_lift(seconds: float) -> None:
        waits.append(seconds)
        sim.faults.rate_limit_share = 0.0

    waits: list[float] = []
    with EcardsClient(sim.base_url, sim.token, retry=FAST_RETRY, sleep=sleep_then_lift) as client:
        page = client.list_orders(ListQuery(page=1))

    assert len(page.orders) == 20
    assert waits == [pytest.approx(0.02)]
    assert [r.status for r in sim.requests] == [429, 200]


def test_429_gives_up_after_the_bounded_attempts(
    sim: EcardsSimulator, client: EcardsClient, sleep: RecordingSleep
) -> None:
    sim.faults.rate_limit_share = 1.0

    with pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery(page=1))

    assert caught.value.status_code == 429
    assert caught.value.retry_after == pytest.approx(0.05)
    assert len(sim.requests) == FAST_RETRY.attempts
    assert len(sleep.calls) == FAST_RETRY.attempts - 1


def test_server_errors_are_retried_until_an_answer(sim: EcardsSimulator, client: EcardsClient) -> None:
    sim.faults.fail_next = [503, 500]

    page = client.list_orders(ListQuery(page=1))

    assert len(page.orders) == 20
    assert [r.status for r in sim.requests] == [503, 500, 200]


def test_server_errors_give_up_with_a_retryable_error_not_an_empty_page(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    sim.faults.server_error_share = 1.0

    with pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery(page=1))

    assert caught.value.status_code in {500, 502, 503}
    assert len(sim.requests) == 3


def test_timeouts_are_retried_then_given_up(sim: EcardsSimulator) -> None:
    sim.faults.timeout_share = 1.0
    sim.faults.timeout_hold = 0.3

    with client_for(sim, timeout=0.05) as client, pytest.raises(RetryableError) as caught:
        client.list_orders(ListQuery(page=1))

    assert "timed out" in caught.value.message
    assert client.requests_sent == 3


def test_a_timeout_then_an_answer_gives_the_page(sim: EcardsSimulator) -> None:
    sim.faults.timeout_share = 1.0
    sim.faults.timeout_hold = 0.3

    def sleep_then_lift(seconds: float) -> None:
        sim.faults.timeout_share = 0.0

    with EcardsClient(sim.base_url, sim.token, retry=FAST_RETRY, timeout=0.05, sleep=sleep_then_lift) as client:
        page = client.list_orders(ListQuery(page=1))

    assert len(page.orders) == 20
    assert client.requests_sent == 2


def test_connection_errors_are_retried_then_given_up() -> None:
    with (
        EcardsClient(
            f"http://127.0.0.1:{free_port()}", "t", retry=FAST_RETRY, timeout=1.0, sleep=RecordingSleep()
        ) as client,
        pytest.raises(RetryableError) as caught,
    ):
        client.list_orders(ListQuery(page=1))

    assert "connection failed" in caught.value.message
    assert client.requests_sent == 3


def test_malformed_bodies_raise_after_retries_never_an_empty_page(sim: EcardsSimulator, client: EcardsClient) -> None:
    sim.faults.malformed_share = 1.0

    with pytest.raises(MalformedResponseError) as caught:
        client.list_orders(ListQuery(page=1))

    assert "upstream proxy error" in caught.value.body
    assert len(sim.requests) == 3


def test_wrong_token_is_an_authentication_error_without_retry(sim: EcardsSimulator) -> None:
    with client_for(sim, token="wrong") as client, pytest.raises(AuthenticationError) as caught:
        client.list_orders(ListQuery(page=1))

    assert caught.value.status_code == 401
    assert caught.value.body["errors"][0]["code"] == "unauthorized"
    assert len(sim.requests) == 1


def test_another_4xx_is_permanent_with_the_body_kept_and_not_retried(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    sim.faults.fail_next = [422]

    with pytest.raises(PermanentError) as caught:
        client.list_orders(ListQuery(page=1))

    assert type(caught.value) is PermanentError
    assert caught.value.status_code == 422
    assert caught.value.body == {"errors": [{"code": "injected", "msg": "injected 422"}]}
    assert len(sim.requests) == 1


# -- create ----------------------------------------------------------------------------------------
def test_create_sends_once_with_a_client_made_uuid(sim: EcardsSimulator, client: EcardsClient) -> None:
    result = client.create_order(create_request())

    assert result.order_id.version == 4
    assert result.sends == 1
    (post,) = requests_to(sim, "POST")
    assert post.body == {
        "orderId": str(result.order_id),
        "participant": {"email": "anna@example.ru", "name": "Anna Petrova", "phone": "79251153242"},
        "ecards": [{"id": 7, "quantity": 2, "faceValue": "1000 ₽"}],
    }
    (created,) = sim.created_orders
    assert created.id == result.order_id
    assert created.total == 2000
    assert result.body["id"] == str(result.order_id)


def test_create_twice_with_one_order_id_makes_one_order(sim: EcardsSimulator, client: EcardsClient) -> None:
    request = create_request(UUID("b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb"))

    first = client.create_order(request)
    second = client.create_order(request)

    assert first.order_id == second.order_id
    assert len(sim.created_orders) == 1


def test_create_is_not_retried_after_a_server_error(sim: EcardsSimulator, client: EcardsClient) -> None:
    sim.fail_creates(503)

    with pytest.raises(RetryableError) as caught:
        client.create_order(create_request())

    assert caught.value.status_code == 503
    assert len(requests_to(sim, "POST")) == 1


def test_a_lost_create_answer_is_outcome_unknown_and_not_resent(sim: EcardsSimulator) -> None:
    sim.lose_create_answers(1, hold=0.5)

    with client_for(sim, timeout=0.1) as client, pytest.raises(OutcomeUnknownError):
        client.create_order(create_request())

    assert client.requests_sent == 1
    assert len(sim.created_orders) == 1


def test_a_create_the_platform_rejects_is_permanent_with_its_body(sim: EcardsSimulator, client: EcardsClient) -> None:
    request = create_request().model_copy(update={"ecards": [EcardsCardLine(id=1, quantity=1, face_value="free")]})

    with pytest.raises(PermanentError) as caught:
        client.create_order(request)

    assert caught.value.status_code == 400
    assert caught.value.body["errors"][0]["field"] == "ecards[0].faceValue"
    assert sim.created_orders == []


def test_safe_create_after_a_lost_answer_reads_the_status_and_does_not_resend(sim: EcardsSimulator) -> None:
    sim.lose_create_answers(1, hold=0.5)

    with client_for(sim, timeout=0.1) as client:
        result = client.create_order_safely(create_request())

    assert result.confirmed_by_status
    assert (result.sends, result.raw_status) == (1, "Created")
    assert client.requests_sent == 2  # the create, then its status: no second create
    assert [r.path for r in sim.requests] == [f"/v1/orders/{result.order_id}/status"]  # the create is still held
    assert [order.id for order in sim.created_orders] == [result.order_id]


def test_safe_create_resends_only_when_the_platform_does_not_know_the_order(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    sim.fail_creates(503)

    result = client.create_order_safely(create_request())

    posts = requests_to(sim, "POST")
    assert [(r.path, r.status) for r in sim.requests] == [
        ("/v1/orders", 503),
        (f"/v1/orders/{result.order_id}/status", 404),
        ("/v1/orders", 200),
    ]
    assert posts[0].body == posts[1].body
    assert (result.sends, result.confirmed_by_status) == (2, False)
    assert len(sim.created_orders) == 1


def test_safe_create_gives_up_after_its_bounded_attempts(
    sim: EcardsSimulator, client: EcardsClient, sleep: RecordingSleep
) -> None:
    sim.fail_creates(503, 503, 503, 503)

    with pytest.raises(RetryableError) as caught:
        client.create_order_safely(create_request(), attempts=3)

    assert caught.value.status_code == 503
    assert len(requests_to(sim, "POST")) == 3
    assert len(requests_to(sim, "GET")) == 3
    assert len(sleep.calls) == 2
    assert sim.created_orders == []


def test_safe_create_does_not_wait_out_a_retry_after_longer_than_its_policy(
    sim: EcardsSimulator, client: EcardsClient, sleep: RecordingSleep
) -> None:
    sim.fail_creates(429, retry_after=120)

    with pytest.raises(RetryableError) as caught:
        client.create_order_safely(create_request(), attempts=3)

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 120
    assert len(requests_to(sim, "POST")) == 1
    assert len(requests_to(sim, "GET")) == 1  # the status read that proved nothing was created
    assert sleep.calls == []
    assert sim.created_orders == []


def test_safe_create_with_an_unreadable_status_is_outcome_unknown_and_not_resent(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    sim.faults.fail_next = [503, 500, 500, 500]

    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_order_safely(create_request())

    assert "status unreadable" in caught.value.message
    assert len(requests_to(sim, "POST")) == 1
    assert sim.created_orders == []


def test_safe_create_does_not_resend_a_rejected_create(sim: EcardsSimulator, client: EcardsClient) -> None:
    request = create_request().model_copy(update={"ecards": [EcardsCardLine(id=1, quantity=1, face_value="free")]})

    with pytest.raises(PermanentError):
        client.create_order_safely(request)

    assert len(sim.requests) == 1


def test_safe_create_with_a_wrong_token_is_an_authentication_error(sim: EcardsSimulator) -> None:
    with client_for(sim, token="wrong") as client, pytest.raises(AuthenticationError):
        client.create_order_safely(create_request())

    assert len(sim.requests) == 1


def test_safe_create_keeps_one_order_id_across_resends_when_none_was_given(
    sim: EcardsSimulator, client: EcardsClient
) -> None:
    sim.fail_creates(500, 502)

    result = client.create_order_safely(create_request())

    assert {r.body["orderId"] for r in requests_to(sim, "POST")} == {str(result.order_id)}
    assert result.sends == 3


def test_safe_create_refuses_zero_attempts_without_sending(sim: EcardsSimulator, client: EcardsClient) -> None:
    with pytest.raises(ValueError, match="attempts"):
        client.create_order_safely(create_request(), attempts=0)

    assert sim.requests == []
