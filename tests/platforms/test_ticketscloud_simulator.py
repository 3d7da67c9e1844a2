"""The Ticketscloud simulator behaves as the platform's docs say, checked with bare HTTP requests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from ordersync_tools.simulators.ticketscloud import TicketscloudSimulator
from ticketscloud_support import ORDERS_PATH, START, error_codes, open_order_id, raw, simulator

MOSCOW = ZoneInfo("Europe/Moscow")
EXPORT_PATH = "/v2/resources/orders/export"


@pytest.fixture
def sim() -> Iterator[TicketscloudSimulator]:
    """The docs' tidy behaviour, whose error codes these tests name; the live behaviour has its own section."""
    with simulator(processing_delay=0.0, live=False).running() as running:
        yield running


@pytest.fixture
def live() -> Iterator[TicketscloudSimulator]:
    with simulator(processing_delay=0.0).running() as running:
        yield running


def listing(sim: TicketscloudSimulator, params: Any = None) -> dict[str, Any]:
    response = raw(sim, "GET", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def patch(sim: TicketscloudSimulator, order_id: str, body: Any) -> httpx.Response:
    return raw(sim, "PATCH", f"{ORDERS_PATH}/{order_id}", json_body=body)


# -- authentication --------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_missing_or_wrong_key_gets_401(sim: TicketscloudSimulator, token: str | None) -> None:
    response = raw(sim, "GET", token=token)

    assert response.status_code == 401
    assert error_codes(response) == ["unauthorized"]


def test_a_bearer_scheme_is_not_the_documented_key_scheme(sim: TicketscloudSimulator) -> None:
    response = httpx.get(f"{sim.base_url}{ORDERS_PATH}", headers={"Authorization": f"Bearer {sim.token}"})

    assert response.status_code == 401


# -- data ------------------------------------------------------------------------------------------------


def test_the_same_seed_and_clock_give_the_same_orders() -> None:
    assert simulator(seed=3).orders_snapshot() == simulator(seed=3).orders_snapshot()
    assert simulator(seed=3).orders_snapshot() != simulator(seed=4).orders_snapshot()


def test_orders_have_the_documented_shape(sim: TicketscloudSimulator) -> None:
    order = listing(sim, {"page_size": 1})["data"][0]

    assert len(order["id"]) == 24
    int(order["id"], 16)
    assert isinstance(order["number"], int)
    assert datetime.strptime(order["created_at"], "%Y-%m-%d %H:%M:%S")  # noqa: DTZ007 - zone-less by design
    assert order["origin"] == "api"
    assert set(order["values"]) >= {"discount", "extra", "full", "nominal", "price", "sets_values"}
    assert Decimal(order["values"]["full"]) == sum(Decimal(ticket["full"]) for ticket in order["tickets"])
    assert Decimal(order["values"]["full"]) == Decimal(order["values"]["nominal"]) + Decimal(order["values"]["extra"])


def test_times_are_moscow_wall_clock_and_expire_fifteen_minutes_after_creation(sim: TicketscloudSimulator) -> None:
    order = sim.order(sim.add_orders(1)[0])

    assert order["created_at"] == START.astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M:%S")
    assert order["expired_after"] == (START + timedelta(minutes=15)).astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M:%S")


def test_the_answer_carries_refs_of_the_orders_events(sim: TicketscloudSimulator) -> None:
    body = listing(sim, {"page_size": 10})

    assert {order["event"] for order in body["data"]} <= set(body["refs"]["events"])
    assert body["refs"]["events"][body["data"][0]["event"]]["timezone"] == "Europe/Moscow"


# -- paging ----------------------------------------------------------------------------------------------


def test_default_page_is_the_first_and_holds_fifty(sim: TicketscloudSimulator) -> None:
    body = listing(sim)

    assert body["pagination"] == {"page": 1, "page_size": 50, "total": 60}
    assert len(body["data"]) == 50


def test_pages_are_one_based_and_cover_every_order_once(sim: TicketscloudSimulator) -> None:
    seen = [order["id"] for page in (1, 2, 3) for order in listing(sim, {"page": page, "page_size": 25})["data"]]

    assert sorted(seen) == sorted(sim.order_ids())


def test_a_page_past_the_end_is_empty_with_the_total(sim: TicketscloudSimulator) -> None:
    body = listing(sim, {"page": 9, "page_size": 200})

    assert (body["data"], body["pagination"]["total"]) == ([], 60)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"page_size": "0"}, "invalid_page_size"),
        ({"page_size": "201"}, "invalid_page_size"),
        ({"page_size": "many"}, "invalid_page_size"),
        ({"page": "0"}, "invalid_page"),
        ({"created_at": "2020-01-01T00:00:00"}, "invalid_created_at"),
        ({"created_at": "yesterday,today"}, "invalid_created_at"),
        ({"created_at": "2021-01-01T00:00:00,2020-01-01T00:00:00"}, "invalid_created_at"),
        ({"status": "done,teleported"}, "invalid_status"),
        ({"only_with_customer": "perhaps"}, "invalid_only_with_customer"),
    ],
)
def test_an_out_of_range_value_gets_400_with_an_error_body(
    sim: TicketscloudSimulator, params: dict[str, str], code: str
) -> None:
    response = raw(sim, "GET", params=params)

    assert response.status_code == 400
    assert error_codes(response) == [code]


def test_page_size_200_is_allowed(sim: TicketscloudSimulator) -> None:
    assert listing(sim, {"page_size": "200"})["pagination"]["page_size"] == 200


# -- filters ---------------------------------------------------------------------------------------------


def test_status_filter_accepts_comma_joined_and_repeated_values(sim: TicketscloudSimulator) -> None:
    joined = listing(sim, {"status": "done,cancelled", "page_size": 200})
    repeated = listing(sim, [("status", "done"), ("status", "cancelled"), ("page_size", "200")])

    assert {order["status"] for order in joined["data"]} == {"done", "cancelled"}
    assert joined["data"] == repeated["data"]
    assert joined["pagination"]["total"] < 60


def test_the_older_canceled_spelling_filters_cancelled_orders(sim: TicketscloudSimulator) -> None:
    canceled = listing(sim, {"status": "canceled", "page_size": 200})["data"]

    assert canceled
    assert canceled == listing(sim, {"status": "cancelled", "page_size": 200})["data"]


def test_created_at_range_is_read_in_moscow_time_and_inclusive(sim: TicketscloudSimulator) -> None:
    order = sim.order(sim.add_orders(1)[0])
    wall = order["created_at"].replace(" ", "T")

    exact = listing(sim, {"created_at": f"{wall},{wall}"})["data"]
    in_utc = listing(sim, {"created_at": f"{START.isoformat()},{START.isoformat()}"})["data"]

    assert [item["id"] for item in exact] == [order["id"]]
    assert in_utc == exact


def test_created_at_range_filters_out_older_orders(sim: TicketscloudSimulator) -> None:
    since = START - timedelta(days=1)
    body = listing(sim, {"created_at": f"{since.astimezone(MOSCOW):%Y-%m-%dT%H:%M:%S},", "page_size": 200})

    assert 0 < body["pagination"]["total"] < 60
    assert all(item["created_at"] >= f"{since.astimezone(MOSCOW):%Y-%m-%d %H:%M:%S}" for item in body["data"])


def test_events_filter_keeps_orders_of_those_events(sim: TicketscloudSimulator) -> None:
    first, second = sim.event_ids[:2]

    body = listing(sim, {"events": f"{first},{second}", "page_size": 200})

    assert {order["event"] for order in body["data"]} == {first, second}


def test_only_with_customer_drops_orders_without_customer_data(sim: TicketscloudSimulator) -> None:
    everything = listing(sim, {"page_size": 200})["data"]
    with_customer = listing(sim, {"only_with_customer": "true", "page_size": 200})["data"]

    assert all("customer" in order["settings"] for order in with_customer)
    assert len(with_customer) == sum("customer" in order["settings"] for order in everything) < len(everything)


# -- lifecycle -------------------------------------------------------------------------------------------


def test_an_executed_order_expires_after_its_deadline(sim: TicketscloudSimulator) -> None:
    order_id = sim.add_orders(1)[0]
    sim.advance(timedelta(minutes=14, seconds=59))
    assert sim.order(order_id)["status"] == "executed"

    sim.advance(timedelta(seconds=1))

    assert sim.order(order_id)["status"] == "expired"


def test_a_paid_order_is_done_and_does_not_expire(sim: TicketscloudSimulator) -> None:
    order_id = sim.add_orders(1)[0]
    sim.start_payment(order_id)
    assert sim.order(order_id)["status"] == "in_progress"

    sim.pay(order_id)
    sim.advance(timedelta(hours=1))

    order = sim.order(order_id)
    assert order["status"] == "done"
    assert "done_at" in order
    assert all(ticket["barcode"] for ticket in order["tickets"])


def test_an_expired_order_cannot_be_paid(sim: TicketscloudSimulator) -> None:
    order_id = sim.add_orders(1)[0]
    sim.advance(timedelta(minutes=16))

    with pytest.raises(ValueError, match="expired"):
        sim.pay(order_id)


def test_cancel_and_refund_are_final_statuses(sim: TicketscloudSimulator) -> None:
    cancelled, refunded = sim.add_orders(2)
    sim.cancel(cancelled)
    sim.pay(refunded)
    sim.refund(refunded)

    assert (sim.order(cancelled)["status"], sim.order(refunded)["status"]) == ("cancelled", "refunded")


def test_a_live_refund_is_an_approved_refund_request_and_the_order_stays_done(live: TicketscloudSimulator) -> None:
    order_id = live.add_orders(1)[0]
    live.pay(order_id)

    live.refund(order_id)

    assert live.order(order_id)["status"] == "done"
    assert [(r["order"], r["status"]) for r in live.refund_requests() if r["order"] == order_id] == [
        (order_id, "approved")
    ]


def test_live_seed_orders_never_have_the_refunded_status(live: TicketscloudSimulator) -> None:
    assert "refunded" not in {live.order(order_id)["status"] for order_id in live.order_ids()}


# -- PATCH actions ---------------------------------------------------------------------------------------


def test_patch_applies_all_four_actions_at_once(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    body = {
        "settings": {"customer": {"name": "Ivan Ivanov", "lang": "en"}, "send_tickets": True},
        "vendor_data": {"order_id": "A-1", "raw": {"enable_call_to_customer": True, "call_counter": 3}},
        "promocodes": ["PROMO100"],
    }

    response = patch(sim, order_id, body)

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["settings"]["customer"]["name"] == "Ivan Ivanov"
    assert data["settings"]["send_tickets"] is True
    assert data["vendor_data"] == body["vendor_data"]
    assert data["promocodes"] == ["5d664d392a4191909a568b40"]
    assert "errors" not in response.json()


def test_the_headings_post_is_accepted_like_patch(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)

    response = raw(sim, "POST", f"{ORDERS_PATH}/{order_id}", json_body={"settings": {"send_tickets": True}})

    assert response.status_code == 200
    assert sim.order(order_id)["settings"]["send_tickets"] is True


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "no_actions"),
        ({"state": "done"}, "unknown_field"),
        ({"settings": {"customer": {"lang": "de"}}}, "invalid_lang"),
        ({"settings": {"send_tickets": "yes"}}, "invalid_send_tickets"),
        ({"vendor_data": {"order_id": "x" * 65}}, "invalid_vendor_order_id"),
        ({"vendor_data": {"raw": {f"k{n}": "v" for n in range(21)}}}, "raw_too_many_keys"),
        ({"vendor_data": {"raw": {"k" * 41: "v"}}}, "raw_key_too_long"),
        ({"vendor_data": {"raw": {"k": "v" * 129}}}, "raw_value_too_long"),
        ({"vendor_data": {"raw": {"k": ["v"]}}}, "raw_value_invalid"),
        ({"promocodes": "PROMO100"}, "invalid_promocodes"),
        ({"settings": "send"}, "invalid_settings"),
        ({"settings": {"customer": "Ivan"}}, "invalid_customer"),
        ({"settings": {"customer": {"age": "30"}}}, "unknown_field"),
        ({"vendor_data": "CRM-1"}, "invalid_vendor_data"),
        ({"vendor_data": {"raw": ["v"]}}, "invalid_raw"),
    ],
)
def test_a_patch_breaking_a_limit_gets_400_naming_the_problem(
    sim: TicketscloudSimulator, body: dict[str, Any], code: str
) -> None:
    order_id = open_order_id(sim)
    before = sim.order(order_id)

    response = patch(sim, order_id, body)

    assert response.status_code == 400
    assert error_codes(response) == [code]
    assert sim.order(order_id) == before


def test_any_patch_on_a_done_order_gets_400(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    sim.pay(order_id)

    response = patch(sim, order_id, {"settings": {"send_tickets": True}})

    assert response.status_code == 400
    assert error_codes(response) == ["order_done"]


def test_a_patch_on_an_unknown_order_gets_404(sim: TicketscloudSimulator) -> None:
    assert patch(sim, "0" * 24, {"settings": {"send_tickets": True}}).status_code == 404


# -- live behaviour (the default) ------------------------------------------------------------------------


def live_pages(live: TicketscloudSimulator, page_size: int) -> list[dict[str, Any]]:
    pages = []
    for page in range(1, 100):
        body = listing(live, {"page": page, "page_size": page_size})
        pages.append(body)
        if not body["data"]:
            return pages
    raise AssertionError("no empty page")


def test_live_pages_can_be_short_before_the_last_and_hold_every_order_once(live: TicketscloudSimulator) -> None:
    pages = live_pages(live, 20)

    sizes = [len(body["data"]) for body in pages]
    assert sizes == [20, 13, 20, 7, 0]
    ids = [order["id"] for body in pages for order in body["data"]]
    assert sorted(ids) == sorted(live.order_ids())


def test_live_pagination_is_exact_or_missing_or_counts_only_its_page(live: TicketscloudSimulator) -> None:
    first, second, third = live_pages(live, 20)[:3]

    assert first["pagination"] == {"page": 1, "page_size": 20, "total": 60}
    assert "pagination" not in second
    assert third["pagination"] == {"page": 3, "page_size": 20, "total": 20}


def test_a_live_refusal_is_a_list_of_strings(live: TicketscloudSimulator) -> None:
    response = raw(live, "GET", params={"status": "teleported"})

    assert response.status_code == 400
    assert response.json() == {"errors": ["status: unknown status teleported"]}


def test_a_live_wrong_key_gets_403_forbidden(live: TicketscloudSimulator) -> None:
    response = raw(live, "GET", token="wrong")

    assert (response.status_code, response.json()) == (403, {"reason": "forbidden"})


def test_live_promocode_failures_inside_a_200_stay_objects(live: TicketscloudSimulator) -> None:
    response = patch(live, open_order_id(live), {"promocodes": ["nope"]})

    assert response.status_code == 200
    assert response.json()["errors"] == [{"code": "promocode_not_found", "msg": "Promocode not found"}]


# -- one order by id -------------------------------------------------------------------------------------


def test_get_of_one_order_answers_it_with_its_refs(sim: TicketscloudSimulator) -> None:
    order_id = sim.order_ids()[3]

    response = raw(sim, "GET", f"{ORDERS_PATH}/{order_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == sim.order(order_id)
    assert set(body["refs"]["events"]) == {body["data"]["event"]}


def test_get_of_an_unknown_order_gets_404_with_a_list_of_strings(sim: TicketscloudSimulator) -> None:
    response = raw(sim, "GET", f"{ORDERS_PATH}/{'0' * 24}")

    assert response.status_code == 404
    assert response.json() == {"errors": [f"Order {'0' * 24} not found"]}


# -- promocodes ------------------------------------------------------------------------------------------


def test_a_fixed_promocode_takes_its_amount_off_each_ticket_whatever_its_case(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    before = sim.order(order_id)

    data = patch(sim, order_id, {"promocodes": ["pRoMo100"]}).json()["data"]

    tickets = len(before["tickets"])
    assert Decimal(data["values"]["discount"]) == Decimal("100.00") * tickets
    assert Decimal(data["values"]["nominal"]) == Decimal(before["values"]["nominal"]) - 100 * tickets
    assert all(ticket["discount"] == "100.00" for ticket in data["tickets"])


def test_a_percentage_promocode_takes_its_share_off_the_price(sim: TicketscloudSimulator) -> None:
    order_id = open_order_id(sim)
    price = Decimal(sim.order(order_id)["values"]["price"])

    answer = patch(sim, order_id, {"promocodes": ["PROMO5%"]}).json()

    assert Decimal(answer["data"]["values"]["discount"]) == price * Decimal("0.05")
    [ref] = answer["refs"]["promocodes"].values()
    assert ref["discount"] == {"percentage": "5%"}


@pytest.mark.parametrize(
    ("codes", "error"),
    [
        (["NOPE"], "promocode_not_found"),
        (["PROMO100", "promo100"], "promocode_already_used"),
        (["SUMMER2019"], "promocode_apply_info"),
        (["PROMO100", "PROMO5%"], "promocode_apply_info"),
    ],
)
def test_promocode_failures_come_inside_a_200(sim: TicketscloudSimulator, codes: list[str], error: str) -> None:
    order_id = open_order_id(sim)

    response = patch(sim, order_id, {"promocodes": codes})

    assert response.status_code == 200
    assert error_codes(response) == [error]
    assert response.json()["data"]["id"] == order_id


def test_a_promocode_needing_more_tickets_reports_the_minimum(sim: TicketscloudSimulator) -> None:
    order_id = next(oid for oid in sim.add_orders(20) if len(sim.order(oid)["tickets"]) < 3)

    response = patch(sim, order_id, {"promocodes": ["GROUP10"]})

    assert response.status_code == 200
    assert response.json()["errors"][0]["code"] == "promocode_limit_min_tickets"
    assert response.json()["errors"][0]["msg"].endswith("is 3")


def test_a_single_use_promocode_is_used_up_by_its_first_order(sim: TicketscloudSimulator) -> None:
    first, second = open_order_id(sim), open_order_id(sim)

    assert "errors" not in patch(sim, first, {"promocodes": ["ONCE50"]}).json()
    assert error_codes(patch(sim, second, {"promocodes": ["ONCE50"]})) == ["promocode_already_used"]


# -- one change at a time --------------------------------------------------------------------------------


def concurrent_patches(sim: TicketscloudSimulator, order_ids: list[str]) -> list[int]:
    barrier = threading.Barrier(len(order_ids))
    statuses: list[int] = [0] * len(order_ids)

    def send(index: int, order_id: str) -> None:
        barrier.wait(timeout=5)
        statuses[index] = patch(sim, order_id, {"settings": {"send_tickets": True}}).status_code

    threads = [threading.Thread(target=send, args=(n, oid)) for n, oid in enumerate(order_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return statuses


def test_a_patch_while_another_on_the_same_order_is_processed_gets_409() -> None:
    with simulator(processing_delay=0.3).running() as sim:
        order_id = open_order_id(sim)

        statuses = concurrent_patches(sim, [order_id, order_id])

        assert sorted(statuses) == [200, 409]
        [conflict] = sim.conflicts
        assert conflict.order_id == order_id
        [applied] = sim.patch_history
        assert applied.status == 200
        assert applied.started_at <= conflict.at <= applied.finished_at


def test_patches_on_different_orders_run_in_parallel() -> None:
    with simulator(processing_delay=0.3).running() as sim:
        first, second = open_order_id(sim), open_order_id(sim)

        statuses = concurrent_patches(sim, [first, second])

        assert statuses == [200, 200]
        assert sim.conflicts == []
        one, other = sim.patch_history
        assert one.started_at < other.finished_at
        assert other.started_at < one.finished_at


def test_a_patch_after_the_previous_one_finished_is_accepted() -> None:
    with simulator(processing_delay=0.05).running() as sim:
        order_id = open_order_id(sim)

        statuses = [patch(sim, order_id, {"settings": {"send_tickets": flag}}).status_code for flag in (True, False)]

        assert statuses == [200, 200]
        first, second = sim.applied_patches(order_id)
        assert first.finished_at <= second.started_at
        assert [record.body for record in (first, second)] == [
            {"settings": {"send_tickets": True}},
            {"settings": {"send_tickets": False}},
        ]


# -- export ----------------------------------------------------------------------------------------------


def test_export_by_post_with_json_records_what_to_send(sim: TicketscloudSimulator) -> None:
    body = {"created_at": "2000-07-28T13:00:00,2030-07-28T13:00:00", "email": "hello@world.hello", "status": ["done"]}

    response = raw(sim, "POST", EXPORT_PATH, json_body=body)

    assert response.status_code == 200
    assert response.content == b""
    [export] = sim.exports
    assert (export.method, export.email, export.statuses) == ("POST", "hello@world.hello", ("done",))
    done = {order["id"] for order in sim.orders_snapshot() if order["status"] == "done"}
    assert set(export.order_ids) == done


def test_export_by_get_with_query_is_accepted_too(sim: TicketscloudSimulator) -> None:
    event = sim.event_ids[0]

    response = raw(sim, "GET", EXPORT_PATH, params={"email": "a@b.c", "events": event, "only_with_customer": "true"})

    assert response.status_code == 200
    [export] = sim.exports
    assert (export.method, export.events, export.only_with_customer) == ("GET", (event,), True)
    assert all(sim.order(order_id)["event"] == event for order_id in export.order_ids)


def test_export_by_post_with_a_malformed_filter_gets_400(sim: TicketscloudSimulator) -> None:
    response = raw(sim, "POST", EXPORT_PATH, json_body={"email": "a@b.c", "status": 5})

    assert response.status_code == 400
    assert error_codes(response) == ["invalid_status"]
    assert sim.exports == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_export_without_email_gets_400(sim: TicketscloudSimulator, method: str) -> None:
    response = raw(sim, method, EXPORT_PATH, params={"status": "done"}, json_body={"status": ["done"]})

    assert response.status_code == 400
    assert error_codes(response) == ["email_required"]
    assert sim.exports == []


def test_requests_are_logged_in_order_with_their_answers(sim: TicketscloudSimulator) -> None:
    raw(sim, "GET", params={"page": "1"})
    raw(sim, "GET", params={"page_size": "500"})

    assert [(request.query.get("page"), request.status) for request in sim.requests] == [(["1"], 200), (None, 400)]
    assert sim.requests[0].received_at >= START.replace(tzinfo=UTC)


def test_the_log_lists_a_slow_patch_before_the_conflict_it_caused() -> None:
    with simulator(processing_delay=0.5).running() as sim:
        order_id = open_order_id(sim)

        statuses = concurrent_patches(sim, [order_id, order_id])

        assert sorted(statuses) == [200, 409]
        log = sim.requests
        assert [request.status for request in log] == [200, 409]  # received first, answered last
        assert log[0].received_at <= log[1].received_at
        assert log[1].finished_at is not None
        assert log[0].finished_at is not None
        assert log[1].finished_at < log[0].finished_at
