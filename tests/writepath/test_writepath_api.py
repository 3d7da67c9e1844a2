"""The HTTP API, end to end through a played API Gateway (authorizer, then handler) on moto."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from writepath_support import ApiAnswer, ApiSetup, api_event

from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.models import Action, ActionState
from ordersync.api import cursors
from ordersync.aws.action_queue import ActionQueue
from ordersync.aws.actions_repository import ActionRepository
from ordersync.models import Money, Order, OrderStatus, Platform

ORDER = "5bacf64ea0eb2f000c45160a"
ACTIONS = f"/orders/ticketscloud/{ORDER}/actions"
EARLIER, LATER = "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"
ECARDS_BODY = {
    "participant": {"email": "test@test.test", "name": "John Doe", "phone": "79251153242"},
    "ecards": [{"id": 1, "quantity": 1, "faceValue": "100 ₽"}],
}


def queued_messages(api: ApiSetup) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=api.aws.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return list(messages)


def post(api: ApiSetup, path: str, body: Any, *, client: str = "actor", **kwargs: Any) -> ApiAnswer:
    return api.gateway.call("POST", path, token=api.tokens.get(client, client), body=body, **kwargs)


def get(api: ApiSetup, path: str, *, client: str = "actor", **kwargs: Any) -> ApiAnswer:
    return api.gateway.call("GET", path, token=api.tokens.get(client, client), **kwargs)


# -- accepting actions ----------------------------------------------------------------------------------------
def test_order_actions_are_recorded_queued_in_the_orders_group_and_answered_202(api: ApiSetup) -> None:
    answer = post(api, ACTIONS, {"customer": {"name": "Ivan", "lang": "ru"}, "send_tickets": True})
    assert answer.status == 202
    action_id = answer.body["action_id"]
    assert answer.headers["Location"] == f"/Prod/actions/{action_id}" == answer.body["status_url"]
    stored = api.aws.actions().get(action_id)
    assert stored is not None
    assert stored.state is ActionState.QUEUED
    assert stored.payload == {"customer": {"name": "Ivan", "lang": "ru"}, "send_tickets": True}
    [message] = queued_messages(api)
    assert message["Attributes"]["MessageGroupId"] == f"ticketscloud#{ORDER}"
    assert message["Attributes"]["MessageDeduplicationId"] == action_id
    assert json.loads(message["Body"])["action_id"] == action_id


def test_ecards_order_without_order_id_gets_a_uuid_that_is_returned_and_queued(api: ApiSetup) -> None:
    answer = post(api, "/ecards/orders", ECARDS_BODY)
    assert answer.status == 202
    order_id = answer.body["order_id"]
    assert len(order_id) == 36
    [message] = queued_messages(api)
    assert json.loads(message["Body"])["payload"]["orderId"] == order_id
    assert message["Attributes"]["MessageGroupId"] == f"ecards#{order_id}"


def test_ecards_order_keeps_the_callers_order_id(api: ApiSetup) -> None:
    order_id = "b5aa69df-61a5-4d97-b1fb-4f6772dfbbeb"
    answer = post(api, "/ecards/orders", ECARDS_BODY | {"orderId": order_id.upper()})
    assert answer.status == 202
    assert answer.body["order_id"] == order_id


def test_export_is_queued_in_the_single_exports_group_with_the_range_parsed(api: ApiSetup) -> None:
    body = {"email": "r@example.com", "created_at": "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z", "status": ["done"]}
    answer = post(api, "/exports/ticketscloud", body)
    assert answer.status == 202
    assert answer.body["order_id"] is None
    [message] = queued_messages(api)
    assert message["Attributes"]["MessageGroupId"] == "ticketscloud#exports"
    payload = json.loads(message["Body"])["payload"]
    assert payload["email"] == "r@example.com"
    assert payload["statuses"] == ["done"]
    assert payload["created_from"].startswith("2026-11-01T00:00:00")


def test_action_status_shows_state_attempts_and_timestamps(api: ApiSetup) -> None:
    action_id = post(api, ACTIONS, {"promocodes": ["PROMO100"]}).body["action_id"]
    answer = get(api, f"/actions/{action_id}")
    assert answer.status == 200
    assert answer.body["state"] == "queued"
    assert answer.body["attempts"] == 0
    assert answer.body["kind"] == "ticketscloud_order_actions"
    assert answer.body["accepted_at"].startswith(str(datetime.now(UTC).year))


def test_unknown_action_is_404(api: ApiSetup) -> None:
    answer = get(api, "/actions/does-not-exist")
    assert answer.status == 404
    assert "does-not-exist" in answer.message


# -- bad input: a status code and a message naming the problem, never 500 -----------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vendor_data": {"raw": {f"k{i}": "v" for i in range(21)}}}, "vendor_data.raw"),
        ({"vendor_data": {"raw": {"k" * 41: "v"}}}, "vendor_data.raw"),
        ({"vendor_data": {"raw": {"k": "v" * 129}}}, "vendor_data.raw"),
        ({"vendor_data": {"order_id": "x" * 65}}, "vendor_data.order_id"),
        ({"customer": {"lang": "de"}}, "customer.lang"),
        ({"promocodes": []}, "promocodes"),
        ({"send_tickets": "sometimes"}, "send_tickets"),
        ({"surprise": 1}, "surprise"),
        ({}, "body"),
    ],
)
def test_order_actions_breaking_a_documented_limit_are_422_naming_the_field(
    api: ApiSetup, body: dict[str, Any], field: str
) -> None:
    answer = post(api, ACTIONS, body)
    assert answer.status == 422
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith(field)
    assert queued_messages(api) == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/ecards/orders", {"ecards": ECARDS_BODY["ecards"]}, "participant"),
        ("/ecards/orders", ECARDS_BODY | {"ecards": []}, "ecards"),
        ("/ecards/orders", ECARDS_BODY | {"orderId": "not-a-uuid"}, "orderId"),
        ("/exports/ticketscloud", {"status": ["done"]}, "email"),
        ("/exports/ticketscloud", {"email": "a@b.c", "status": ["paid"]}, "status"),
        ("/exports/ticketscloud", {"email": "a@b.c", "created_at": "2026-11-01T00:00:00,"}, "created_at"),
        (
            "/exports/ticketscloud",
            {"email": "a@b.c", "created_at": {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}},
            "created_at",
        ),
        ("/exports/ticketscloud", {"email": "a@b.c", "created_at": {}}, "created_at"),
        ("/exports/ticketscloud", {"email": "not-an-email"}, "email"),
    ],
)
def test_other_bodies_breaking_their_schema_are_422_naming_the_field(
    api: ApiSetup, path: str, body: dict[str, Any], field: str
) -> None:
    answer = post(api, path, body)
    assert answer.status == 422
    assert answer.message.startswith(field), answer.message


@pytest.mark.parametrize("order_id", ["x" * 101, "has space", "заказ"])
def test_an_order_id_that_cannot_name_a_fifo_group_is_422_and_nothing_is_recorded(api: ApiSetup, order_id: str) -> None:
    """SQS allows at most 128 visible ASCII characters in a MessageGroupId (moto does not check): refused here,
    not answered 503 by a failed send after the action was recorded."""
    answer = post(api, f"/orders/ticketscloud/{order_id}/actions", {"send_tickets": True})
    assert answer.status == 422
    assert answer.message.startswith("order_id"), answer.message
    assert queued_messages(api) == []
    assert boto3.resource("dynamodb").Table(api.aws.actions_table).scan()["Items"] == []


def test_an_order_id_of_the_platforms_shape_is_accepted_and_names_a_valid_group(api: ApiSetup) -> None:
    """Ticketscloud's ids are 24 hex characters (its profile's ``order_id_pattern``), well within 128."""
    answer = post(api, f"/orders/ticketscloud/{'f' * 24}/actions", {"send_tickets": True})
    assert answer.status == 202
    [message] = queued_messages(api)
    assert len(message["Attributes"]["MessageGroupId"]) <= 128


@pytest.mark.parametrize(
    ("path", "field"), [("/actions/" + "a" * 3000, "action_id"), ("/orders/ticketscloud/" + "a" * 3000, "order_id")]
)
def test_an_id_too_long_for_a_dynamodb_key_is_422_not_a_500(api: ApiSetup, path: str, field: str) -> None:
    """DynamoDB refuses a key over 2 KB with a ValidationException (moto does not): refused before the lookup."""
    answer = get(api, path, client="admin")
    assert answer.status == 422
    assert answer.message.startswith(field), answer.message


def test_invalid_json_is_400(api: ApiSetup) -> None:
    answer = api.gateway.call("POST", ACTIONS, token=api.tokens["actor"], raw_body='{"customer": ')
    assert answer.status == 400
    assert answer.body["error"] == "invalid_json"
    assert answer.message.startswith("body: not valid JSON")


def test_a_body_over_64_kb_is_413(api: ApiSetup) -> None:
    answer = api.gateway.call("POST", ACTIONS, token=api.tokens["actor"], raw_body=json.dumps({"x": "y" * 70_000}))
    assert answer.status == 413
    assert "65536" in answer.message


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_by_content_type_is_415(api: ApiSetup, content_type: str | None) -> None:
    answer = api.gateway.call(
        "POST", ACTIONS, token=api.tokens["actor"], body={"send_tickets": True}, content_type=content_type
    )
    assert answer.status == 415
    assert "Content-Type must be application/json" in answer.message


def test_json_with_a_charset_is_accepted(api: ApiSetup) -> None:
    answer = api.gateway.call(
        "POST",
        ACTIONS,
        token=api.tokens["actor"],
        body={"send_tickets": True},
        content_type="application/json; charset=utf-8",
    )
    assert answer.status == 202


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("POST", "/orders/bizon365/1/actions", "has no order actions"),
        ("POST", "/orders/shopify/1/actions", "unknown platform 'shopify'"),
        ("GET", "/orders/shopify/1", "unknown platform 'shopify'"),
        ("GET", "/nowhere", "no route GET /nowhere"),
        ("DELETE", "/actions/x", "no route DELETE /actions/x"),
    ],
)
def test_unknown_platforms_and_routes_are_404(api: ApiSetup, method: str, path: str, message: str) -> None:
    answer = api.gateway.call(method, path, token=api.tokens["admin"], body={"send_tickets": True})
    assert answer.status == 404
    assert message in answer.message


# -- authentication and scopes --------------------------------------------------------------------------------
def test_no_token_is_401(api: ApiSetup) -> None:
    assert api.gateway.call("GET", "/openapi.json", token=None).status == 401


def test_a_wrong_token_is_401(api: ApiSetup) -> None:
    assert get(api, "/openapi.json", client="osk_not-a-real-token").status == 401


def test_a_revoked_clients_token_is_401(api: ApiSetup) -> None:
    api.aws.clients().revoke("actor", now=datetime.now(UTC))
    assert post(api, ACTIONS, {"send_tickets": True}).status == 401


def test_acting_without_the_act_scope_is_403_naming_the_scope(api: ApiSetup) -> None:
    answer = post(api, ACTIONS, {"send_tickets": True}, client="reader")
    assert answer.status == 403
    assert "ticketscloud:act" in answer.message
    assert queued_messages(api) == []


def test_reading_orders_without_the_read_scope_is_403(api: ApiSetup) -> None:
    answer = get(api, "/orders", client="outsider", query={"platform": "ticketscloud"})
    assert answer.status == 403
    assert "ticketscloud:read" in answer.message


def test_an_action_is_visible_to_its_sender_and_to_readers_of_its_platform_only(api: ApiSetup) -> None:
    action_id = post(api, ACTIONS, {"send_tickets": True}).body["action_id"]
    assert get(api, f"/actions/{action_id}", client="actor").status == 200
    assert get(api, f"/actions/{action_id}", client="reader").status == 200
    assert get(api, f"/actions/{action_id}", client="outsider").status == 404


def test_a_handler_called_without_an_authorizer_context_is_401(api: ApiSetup) -> None:
    event = api_event("GET", "/actions/some-id", token=None)
    response = api.gateway.handler(event, None)
    assert response["statusCode"] == 401


# -- Idempotency-Key -----------------------------------------------------------------------------------------
def test_the_same_key_and_body_replay_the_first_answer_and_queue_nothing_new(api: ApiSetup) -> None:
    headers = {"Idempotency-Key": '"order-5-customer"'}
    first = post(api, ACTIONS, {"send_tickets": True}, headers=headers)
    second = post(api, ACTIONS, {"send_tickets": True}, headers=headers)
    assert first.status == second.status == 202
    assert second.body["action_id"] == first.body["action_id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(queued_messages(api)) == 1


def test_the_same_body_with_its_keys_in_another_order_is_the_same_request(api: ApiSetup) -> None:
    headers = {"Idempotency-Key": '"reordered"'}
    first = post(api, ACTIONS, {"send_tickets": True, "promocodes": ["A"]}, headers=headers)
    second = post(api, ACTIONS, {"promocodes": ["A"], "send_tickets": True}, headers=headers)
    assert second.status == 202
    assert second.body["action_id"] == first.body["action_id"]


def test_the_same_key_with_another_body_is_422(api: ApiSetup) -> None:
    headers = {"Idempotency-Key": '"k-1"'}
    assert post(api, ACTIONS, {"send_tickets": True}, headers=headers).status == 202
    answer = post(api, ACTIONS, {"send_tickets": False}, headers=headers)
    assert answer.status == 422
    assert answer.body["error"] == "idempotency_key_reused"


def test_keys_are_scoped_per_client(api: ApiSetup) -> None:
    headers = {"Idempotency-Key": '"shared"'}
    first = post(api, ACTIONS, {"send_tickets": True}, headers=headers)
    second = post(api, ACTIONS, {"send_tickets": True}, headers=headers, client="admin")
    assert first.body["action_id"] != second.body["action_id"]


def test_a_repeat_while_the_first_is_still_being_accepted_is_409(api: ApiSetup) -> None:
    inner: list[ApiAnswer] = []

    class ReentrantAcceptor(ActionAcceptor):
        def accept(self, **kwargs: Any) -> Action:
            if not inner:
                inner.append(post(api, ACTIONS, {"send_tickets": True}, headers={"Idempotency-Key": '"slow"'}))
            return super().accept(**kwargs)

    api.services.acceptor = ReentrantAcceptor(api.aws.actions(), api.aws.queue())
    outer = post(api, ACTIONS, {"send_tickets": True}, headers={"Idempotency-Key": '"slow"'})
    assert outer.status == 202
    assert inner[0].status == 409
    assert inner[0].body["error"] == "request_in_progress"


def test_a_malformed_key_is_400(api: ApiSetup) -> None:
    answer = post(api, ACTIONS, {"send_tickets": True}, headers={"Idempotency-Key": '"has space"'})
    assert answer.status == 400
    assert "Idempotency-Key" in answer.message


# -- 503, never 202, when the action cannot be recorded or queued --------------------------------------------
def test_a_queue_failure_answers_503_marks_the_record_and_caches_nothing(api: ApiSetup) -> None:
    good = api.services.acceptor
    api.services.acceptor = ActionAcceptor(api.aws.actions(), ActionQueue(api.aws.queue_url + "-missing"))
    headers = {"Idempotency-Key": '"retry-me"'}
    answer = post(api, ACTIONS, {"send_tickets": True}, headers=headers)
    assert answer.status == 503
    assert "could not be queued" in answer.message
    api.services.acceptor = good
    retried = post(api, ACTIONS, {"send_tickets": True}, headers=headers)
    assert retried.status == 202
    assert len(queued_messages(api)) == 1


def test_a_recording_failure_answers_503_and_queues_nothing(api: ApiSetup) -> None:
    api.services.acceptor = ActionAcceptor(ActionRepository("no-such-table"), api.aws.queue())
    answer = post(api, ACTIONS, {"send_tickets": True})
    assert answer.status == 503
    assert "could not be recorded" in answer.message
    assert queued_messages(api) == []


def test_a_store_failure_while_reading_an_action_is_503_not_500(api: ApiSetup) -> None:
    action_id = post(api, ACTIONS, {"send_tickets": True}).body["action_id"]
    api.services.actions = ActionRepository("no-such-table")
    answer = get(api, f"/actions/{action_id}")
    assert answer.status == 503
    assert answer.body["error"] == "unavailable"
    assert answer.message.startswith("a backing store failed")


# -- orders from the read path's store -----------------------------------------------------------------------
def _order(order_id: str, status: OrderStatus = OrderStatus.PENDING) -> Order:
    return Order(
        platform=Platform.TICKETSCLOUD,
        order_id=order_id,
        status=status,
        raw_status="executed" if status is OrderStatus.PENDING else "done",
        created_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        total=Money(amount=Decimal("156.00"), currency="RUB"),
    )


def test_a_stored_order_is_returned_by_platform_and_id(api: ApiSetup) -> None:
    api.orders.save_changed([_order(ORDER)], seen_at=datetime.now(UTC))
    answer = get(api, f"/orders/ticketscloud/{ORDER}", client="reader")
    assert answer.status == 200
    assert answer.body["order"]["order_id"] == ORDER
    assert answer.body["order"]["total"]["amount"] == "156.00"


def test_a_missing_order_is_404(api: ApiSetup) -> None:
    assert get(api, "/orders/ticketscloud/none", client="reader").status == 404


def test_orders_are_listed_in_pages_with_an_opaque_cursor(api: ApiSetup) -> None:
    api.orders.save_changed([_order(f"o{i}") for i in range(5)], seen_at=datetime.now(UTC))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        query = {"platform": "ticketscloud", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = get(api, "/orders", client="reader", query=query)
        assert answer.status == 200
        seen += [item["order"]["order_id"] for item in answer.body["orders"]]
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"o{i}" for i in range(5)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"platform": "ticketscloud", "status": "lost"}, "status"),
        ({"platform": "ticketscloud", "limit": "1000"}, "limit"),
        ({"platform": "ticketscloud", "changed_since": "yesterday"}, "changed_since"),
        ({"platform": "ticketscloud", "changed_since": "2026-11-22T00:00:00"}, "changed_since"),
        ({"platform": "ticketscloud", "cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({}, "platform"),
        ({"platform": "shopify"}, "platform"),  # the Platform enum of the document
    ],
)
def test_bad_list_queries_are_422_naming_the_parameter(api: ApiSetup, query: dict[str, str], field: str) -> None:
    answer = get(api, "/orders", client="reader", query=query or None)
    assert answer.status == 422
    assert answer.message.startswith(field), answer.message


def test_a_crafted_cursor_is_422_naming_the_cursor_not_a_503(api: ApiSetup) -> None:
    """A start key DynamoDB refuses (its ValidationException was answered 503 "a backing store failed")."""
    api.orders.save_changed([_order(f"o{i}") for i in range(3)], seen_at=datetime.now(UTC))
    query = {"platform": "ticketscloud", "status": None, "changed_since": None}
    crafted = [
        base64.urlsafe_b64encode(json.dumps({"pk": "x"}).encode()).decode(),
        cursors.bind(query, base64.urlsafe_b64encode(json.dumps({"pk": {"S": "x"}}).encode()).decode()),
    ]
    for cursor in crafted:
        answer = get(api, "/orders", client="reader", query={"platform": "ticketscloud", "cursor": cursor})
        assert answer.status == 422, answer.body
        assert answer.message.startswith("cursor"), answer.message


def test_a_cursor_is_422_under_another_query_and_good_under_its_own(api: ApiSetup) -> None:
    api.orders.save_changed([_order(f"o{i}") for i in range(3)], seen_at=datetime.now(UTC))
    first = get(api, "/orders", client="reader", query={"platform": "ticketscloud", "limit": "1"})
    cursor = first.body["next_cursor"]

    again = get(api, "/orders", client="reader", query={"platform": "ticketscloud", "limit": "2", "cursor": cursor})
    other = get(api, "/orders", client="reader", query={"platform": "ticketscloud", "status": "paid", "cursor": cursor})

    assert again.status == 200
    assert other.status == 422
    assert other.message.startswith("cursor"), other.message


# -- the OpenAPI document -------------------------------------------------------------------------------------
def test_openapi_document_lists_every_public_route_with_bearer_security(api: ApiSetup) -> None:
    answer = get(api, "/openapi.json")
    assert answer.status == 200
    assert answer.body["openapi"].startswith("3.")
    assert set(answer.body["paths"]) == {
        "/orders/ticketscloud/{order_id}/actions",
        "/orders/ticketscloud",
        "/orders/ticketscloud/{order_id}/reservation",
        "/orders/ticketscloud/{order_id}/status",
        "/orders/ticketscloud/{order_id}/refund-requests",
        "/orders/ticketscloud/{order_id}/refund-requests/{refund_id}",
        "/ecards/orders",
        "/exports/ticketscloud",
        "/actions/{action_id}",
        "/orders/{platform}/{order_id}",
        "/orders",
    }
    assert answer.body["security"] == [{"bearer": []}]
    schemas = answer.body["components"]["schemas"]
    assert {"TicketscloudOrderActions", "EcardsCreateOrderRequest", "AcceptedAction", "ErrorBody"} <= set(schemas)
    post = answer.body["paths"]["/ecards/orders"]["post"]
    assert {"202", "401", "403", "413", "415", "422", "503"} <= set(post["responses"])
    assert "Location" in post["responses"]["202"]["headers"]
