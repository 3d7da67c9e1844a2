"""The e-cards simulator behaves as the platform's docs say, seen over plain HTTP."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from ecards_support import START, load_fixture, running_simulator
from ordersync_tools.simulators.base import SimClock
from ordersync_tools.simulators.ecards import DEFAULT_TOKEN, PAGE_SIZE, EcardsSimulator

ORDER_ID = "b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb"
LIFECYCLE = {
    "Created": {"Payed", "Cancelled"},
    "Payed": {"ReadyForDelivery", "Cancelled"},
    "ReadyForDelivery": {"PartiallyDelivered", "AwaitingCertificateAssignment", "Delivered"},
    "PartiallyDelivered": {"Delivered"},
    "AwaitingCertificateAssignment": {"Delivered"},
}


@pytest.fixture
def sim() -> Iterator[EcardsSimulator]:
    with running_simulator(orders=45) as simulator:
        yield simulator


@pytest.fixture
def http(sim: EcardsSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5) as client:
        yield client


def get_page(http: httpx.Client, page: int | str | None = None) -> dict[str, Any]:
    response = http.get("/v1/orders", params={} if page is None else {"page": page})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_body(order_id: str = ORDER_ID, **changes: Any) -> dict[str, Any]:
    body = load_fixture("create_order_example.json") | {"orderId": order_id}
    body.update(changes)
    return body


# -- listing ---------------------------------------------------------------------------------------
def test_list_without_page_answers_the_first_twenty(http: httpx.Client) -> None:
    body = get_page(http)

    assert len(body["orders"]) == PAGE_SIZE
    assert (body["currentPage"], body["pageSize"], body["totalPages"]) == (1, 20, 3)


def test_list_is_newest_first_across_pages(http: httpx.Client) -> None:
    records = [record for page in (1, 2, 3) for record in get_page(http, page)["orders"]]

    numbers = [record["number"] for record in records]
    assert numbers == sorted(numbers, reverse=True)
    assert len(set(numbers)) == 45
    dates = [datetime.fromisoformat(record["createdDate"]) for record in records]
    assert dates == sorted(dates, reverse=True)


def test_records_have_the_documented_fields_and_types(http: httpx.Client) -> None:
    record = get_page(http)["orders"][0]

    assert set(record) == {"id", "number", "createdDate", "status", "participantLogin", "total"}
    assert UUID(record["id"]).version == 4
    assert isinstance(record["number"], int)
    assert datetime.fromisoformat(record["createdDate"]).tzinfo is None
    assert isinstance(record["total"], int | float)


def test_created_date_is_moscow_wall_clock(sim: EcardsSimulator, http: httpx.Client) -> None:
    record = get_page(http)["orders"][0]

    created = sim.order(record["id"]).created_at
    assert datetime.fromisoformat(record["createdDate"]) == (created + timedelta(hours=3)).replace(tzinfo=None)


def test_last_page_is_partial_and_a_page_beyond_the_end_is_empty(http: httpx.Client) -> None:
    assert len(get_page(http, 3)["orders"]) == 5
    beyond = get_page(http, 4)

    assert beyond["orders"] == []
    assert (beyond["currentPage"], beyond["totalPages"]) == (4, 3)


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "2147483648"])
def test_page_out_of_range_or_not_an_integer_is_a_400_naming_page(http: httpx.Client, page: str) -> None:
    response = http.get("/v1/orders", params={"page": page})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "page"


def test_total_pages_is_recomputed_when_orders_arrive(sim: EcardsSimulator, http: httpx.Client) -> None:
    assert get_page(http)["totalPages"] == 3

    sim.add_orders(16)

    assert get_page(http)["totalPages"] == 4


def test_added_orders_go_to_the_top_of_page_one(sim: EcardsSimulator, http: httpx.Client) -> None:
    added = sim.add_orders(2)

    top = get_page(http)["orders"][:2]
    assert [record["id"] for record in top] == [str(added[1].id), str(added[0].id)]
    assert [record["status"] for record in top] == ["Created", "Created"]


def test_arrivals_between_requests_shift_page_two_onto_the_end_of_page_one() -> None:
    with running_simulator(orders=45, arrivals_per_request=3) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        first = httpx.get(f"{sim.base_url}/v1/orders", params={"page": 1}, headers=headers).json()
        second = httpx.get(f"{sim.base_url}/v1/orders", params={"page": 2}, headers=headers).json()

    assert [r["id"] for r in second["orders"][:3]] == [r["id"] for r in first["orders"][-3:]]
    assert (first["totalPages"], second["totalPages"]) == (3, 3)
    assert len(sim.orders) == 51


def test_fractional_arrivals_add_one_order_every_other_request() -> None:
    with running_simulator(orders=10, arrivals_per_request=0.5) as sim:
        for _ in range(4):
            httpx.get(f"{sim.base_url}/v1/orders", headers={"Authorization": f"Bearer {sim.token}"})

    assert len(sim.orders) == 12


def test_array_key_data_serves_the_docs_example_shape() -> None:
    with running_simulator(orders=3, array_key="data") as sim:
        response = httpx.get(f"{sim.base_url}/v1/orders", headers={"Authorization": f"Bearer {sim.token}"})

    assert "orders" not in response.json()
    assert len(response.json()["data"]) == 3


def test_the_docs_example_url_serves_the_same_list(http: httpx.Client) -> None:
    response = http.get("/order", params={"page": 1})

    assert response.json()["orders"] == get_page(http, 1)["orders"]


def test_unknown_array_key_is_refused() -> None:
    with pytest.raises(ValueError, match="array_key"):
        EcardsSimulator(array_key="items")


# -- authentication --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"key {DEFAULT_TOKEN}"}, {"Authorization": "Bearer"}],
)
def test_missing_or_wrong_token_is_a_401(sim: EcardsSimulator, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/v1/orders"), ("POST", "/v1/orders"), ("GET", f"/v1/orders/{ORDER_ID}/status")):
        response = httpx.request(method, f"{sim.base_url}{path}", headers=headers, json=create_body())

        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert sim.created_orders == []


def test_a_custom_token_is_the_only_one_accepted() -> None:
    with running_simulator(orders=1, token="s3cret") as sim:
        ok = httpx.get(f"{sim.base_url}/v1/orders", headers={"Authorization": "Bearer s3cret"})
        default = httpx.get(f"{sim.base_url}/v1/orders", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})

    assert (ok.status_code, default.status_code) == (200, 401)


# -- data and lifecycle ----------------------------------------------------------------------------
def test_same_seed_gives_the_same_orders() -> None:
    first = EcardsSimulator(orders=30, seed=3, clock=SimClock(START))
    second = EcardsSimulator(orders=30, seed=3, clock=SimClock(START))
    other = EcardsSimulator(orders=30, seed=4, clock=SimClock(START))

    assert [(o.id, o.number, o.total, o.schedule) for o in first.orders] == [
        (o.id, o.number, o.total, o.schedule) for o in second.orders
    ]
    assert {o.id for o in first.orders}.isdisjoint({o.id for o in other.orders})


def test_every_schedule_starts_created_follows_the_lifecycle_and_ends_final() -> None:
    sim = EcardsSimulator(orders=300, seed=5, clock=SimClock(START))

    for order in sim.orders:
        statuses = [status for _, status in order.schedule]
        assert statuses[0] == "Created"
        assert statuses[-1] in {"Delivered", "Cancelled"}
        for before, after in itertools.pairwise(statuses):
            assert after in LIFECYCLE[before], statuses
    final = [order.schedule[-1][1] for order in sim.orders]
    assert 0 < final.count("Cancelled") < 0.2 * len(final)
    seen = {status for order in sim.orders for _, status in order.schedule}
    assert seen == {"Created", "Payed", "ReadyForDelivery", "PartiallyDelivered", "AwaitingCertificateAssignment"} | {
        "Delivered",
        "Cancelled",
    }


def test_statuses_advance_with_the_clock_to_a_final_one(sim: EcardsSimulator) -> None:
    (order,) = sim.add_orders(1)
    assert sim.status_of(order.id) == "Created"

    sim.advance(order.schedule[1][0])
    assert sim.status_of(order.id) == order.schedule[1][1]

    sim.advance(timedelta(days=1))
    assert sim.status_of(order.id) in {"Delivered", "Cancelled"}


def test_old_seeded_orders_are_final_and_totals_are_positive(sim: EcardsSimulator) -> None:
    oldest = sim.orders[-1]

    assert sim.status_of(oldest.id) in {"Delivered", "Cancelled"}
    assert all(order.total > 0 for order in sim.orders)


# -- create ----------------------------------------------------------------------------------------
def test_create_makes_an_order_on_top_of_the_list(sim: EcardsSimulator, http: httpx.Client) -> None:
    response = http.post("/v1/orders", json=create_body())

    assert response.status_code == 200
    assert response.json()["id"] == ORDER_ID
    top = get_page(http)["orders"][0]
    assert (top["id"], top["status"], top["total"]) == (ORDER_ID, "Created", 2100)
    assert top["participantLogin"] == "test@test.test_company"
    (created,) = sim.created_orders
    assert created.participant == {"email": "test@test.test", "phone": "79251153242", "name": "John Doe"}
    assert [(line.id, line.quantity, line.face_value) for line in created.ecards] == [(1, 1, "100 ₽"), (2, 4, "500 ₽")]


def test_create_is_idempotent_on_order_id(sim: EcardsSimulator, http: httpx.Client) -> None:
    first = http.post("/v1/orders", json=create_body())
    second = http.post("/v1/orders", json=create_body(order_id=ORDER_ID.upper()))

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert len(sim.created_orders) == 1
    assert len(sim.orders) == 46


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orderId": None}, "orderId"),
        ({"orderId": "B5AA69DF"}, "orderId"),
        ({"participant": None}, "participant"),
        ({"participant": {"email": "a@b.c", "name": "A"}}, "participant.phone"),
        ({"participant": {"email": "", "name": "A", "phone": "1"}}, "participant.email"),
        ({"ecards": []}, "ecards"),
        ({"ecards": [{"id": 1, "quantity": 0, "faceValue": "100 ₽"}]}, "ecards[0].quantity"),
        ({"ecards": [{"id": "x", "quantity": 1, "faceValue": "100 ₽"}]}, "ecards[0].id"),
        ({"ecards": [{"id": 1, "quantity": 1, "faceValue": "free"}]}, "ecards[0].faceValue"),
        ({"ecards": ["card"]}, "ecards[0]"),
    ],
)
def test_invalid_create_is_a_400_naming_the_field(
    sim: EcardsSimulator, http: httpx.Client, change: dict[str, Any], field: str
) -> None:
    response = http.post("/v1/orders", json=create_body(**change))

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert sim.created_orders == []


def test_create_body_that_is_not_an_object_is_a_400(sim: EcardsSimulator, http: httpx.Client) -> None:
    response = http.post("/v1/orders", json=[create_body()])

    assert response.status_code == 400
    assert sim.created_orders == []


def test_injected_create_failures_create_nothing(sim: EcardsSimulator, http: httpx.Client) -> None:
    sim.fail_creates(503)

    failed = http.post("/v1/orders", json=create_body())
    succeeded = http.post("/v1/orders", json=create_body())

    assert (failed.status_code, succeeded.status_code) == (503, 200)
    assert len(sim.created_orders) == 1


def test_a_lost_create_answer_still_creates_the_order(sim: EcardsSimulator) -> None:
    sim.lose_create_answers(1, hold=0.5)
    started = time.monotonic()

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{sim.base_url}/v1/orders",
            json=create_body(),
            headers={"Authorization": f"Bearer {sim.token}"},
            timeout=0.1,
        )

    assert time.monotonic() - started < 0.4
    assert [str(order.id) for order in sim.created_orders] == [ORDER_ID]


def test_clearing_the_log_also_drops_a_request_still_being_answered(sim: EcardsSimulator) -> None:
    sim.lose_create_answers(1, hold=0.3)
    sender = threading.Thread(
        target=httpx.post,
        args=(f"{sim.base_url}/v1/orders",),
        kwargs={"json": create_body(), "headers": {"Authorization": f"Bearer {sim.token}"}, "timeout": 5},
    )
    sender.start()
    deadline = time.monotonic() + 5
    while not sim.created_orders and time.monotonic() < deadline:  # created, its answer still held
        time.sleep(0.005)

    sim.clear_requests()
    sender.join(timeout=10)

    assert [str(order.id) for order in sim.created_orders] == [ORDER_ID]
    assert sim.requests == []


# -- status ----------------------------------------------------------------------------------------
def test_status_of_a_known_order(sim: EcardsSimulator, http: httpx.Client) -> None:
    order = sim.orders[0]

    response = http.get(f"/v1/orders/{str(order.id).upper()}/status")

    assert response.status_code == 200
    assert response.json() == {"status": sim.status_of(order.id)}


def test_status_of_an_unknown_order_is_a_404(http: httpx.Client) -> None:
    response = http.get(f"/v1/orders/{ORDER_ID}/status")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_status_of_an_id_that_is_not_a_uuid_is_a_400(http: httpx.Client) -> None:
    response = http.get("/v1/orders/3048/status")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "order_id"


def test_status_can_be_served_with_the_docs_trailing_comma() -> None:
    with running_simulator(orders=1, status_trailing_comma=True) as sim:
        order = sim.orders[0]
        response = httpx.get(
            f"{sim.base_url}/v1/orders/{order.id}/status", headers={"Authorization": f"Bearer {sim.token}"}
        )

    assert response.status_code == 200
    assert response.content.replace(b"\n", b"") == f'{{"status": "{sim.status_of(order.id)}",}}'.encode()


# -- the request log -------------------------------------------------------------------------------
def test_requests_are_recorded_in_order_with_status(sim: EcardsSimulator, http: httpx.Client) -> None:
    http.get("/v1/orders", params={"page": 2})
    http.post("/v1/orders", json=create_body())
    http.get(f"/v1/orders/{ORDER_ID}/status")

    log = sim.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/v1/orders", 200),
        ("POST", "/v1/orders", 200),
        ("GET", f"/v1/orders/{ORDER_ID}/status", 200),
    ]
    assert log[0].query == {"page": ["2"]}
    assert log[1].body["orderId"] == ORDER_ID
    assert log[0].received_at <= log[1].received_at <= log[2].received_at
