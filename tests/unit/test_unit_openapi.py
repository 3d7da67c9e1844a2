"""The OpenAPI document is the API: every status with the one error shape, declared headers, enums, named
operations, examples that are valid answers, served without a token and checked in as generated."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from builders import FakeLambdaContext, load_event
from fakes import FakeActionSender, FakeActionStore

from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.models import AcceptedAction, ActionView
from ordersync.api.bodies import TicketscloudExportBody
from ordersync.api.idempotency import InvalidIdempotencyKeyError, parse_idempotency_key
from ordersync.api.openapi import IDEMPOTENCY_KEY_PATTERN, ErrorBody
from ordersync.api.resolver import ApiServices, OrderList, OrdersyncApi, standalone_document
from ordersync.platforms.ecards import EcardsCreateOrderRequest
from ordersync.platforms.ticketscloud import TicketscloudOrderActions
from ordersync.platforms.ticketscloud.models import (
    TicketscloudCreateOrder,
    TicketscloudRefundCreate,
    TicketscloudRefundDecision,
    TicketscloudReservationChange,
    TicketscloudStatusChange,
)
from ordersync.sync.records import StoredOrder

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = {
    ("post", "/orders/ticketscloud/{order_id}/actions"): "postTicketscloudAction",
    ("post", "/orders/ticketscloud"): "postTicketscloudOrder",
    ("post", "/orders/ticketscloud/{order_id}/reservation"): "postTicketscloudReservation",
    ("post", "/orders/ticketscloud/{order_id}/status"): "postTicketscloudStatus",
    ("post", "/orders/ticketscloud/{order_id}/refund-requests"): "postTicketscloudRefundRequest",
    ("post", "/orders/ticketscloud/{order_id}/refund-requests/{refund_id}"): "postTicketscloudRefundDecision",
    ("post", "/ecards/orders"): "postEcardsOrder",
    ("post", "/exports/ticketscloud"): "postTicketscloudExport",
    ("get", "/actions/{action_id}"): "getAction",
    ("get", "/orders/{platform}/{order_id}"): "getOrder",
    ("get", "/orders"): "listOrders",
}
SUCCESS_MODELS = {
    "postTicketscloudAction": AcceptedAction,
    "postTicketscloudOrder": AcceptedAction,
    "postTicketscloudReservation": AcceptedAction,
    "postTicketscloudStatus": AcceptedAction,
    "postTicketscloudRefundRequest": AcceptedAction,
    "postTicketscloudRefundDecision": AcceptedAction,
    "postEcardsOrder": AcceptedAction,
    "postTicketscloudExport": AcceptedAction,
    "getAction": ActionView,
    "getOrder": StoredOrder,
    "listOrders": OrderList,
}
REQUEST_MODELS = {
    "postTicketscloudAction": TicketscloudOrderActions,
    "postEcardsOrder": EcardsCreateOrderRequest,
    "postTicketscloudExport": TicketscloudExportBody,
    "postTicketscloudOrder": TicketscloudCreateOrder,
    "postTicketscloudReservation": TicketscloudReservationChange,
    "postTicketscloudStatus": TicketscloudStatusChange,
    "postTicketscloudRefundRequest": TicketscloudRefundCreate,
    "postTicketscloudRefundDecision": TicketscloudRefundDecision,
}


def serve_openapi(*, token: bool) -> dict[str, Any]:
    """``GET /openapi.json`` through the handler; without ``token`` the event carries no authorizer context."""
    event = load_event("api-get-openapi.json")
    if not token:
        event["headers"].pop("Authorization", None)
        event["multiValueHeaders"].pop("Authorization", None)
    event["requestContext"]["authorizer"] = None
    services = ApiServices(acceptor=ActionAcceptor(FakeActionStore(), FakeActionSender()), actions=FakeActionStore())
    return OrdersyncApi(services)(event, FakeLambdaContext())


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    answer = serve_openapi(token=False)
    assert answer["statusCode"] == 200
    served: dict[str, Any] = json.loads(answer["body"])
    return served


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in document["paths"].items() for method, op in item.items()]


def test_openapi_json_is_served_without_a_token(document: dict[str, Any]) -> None:
    """It holds no data and says how to authenticate; the template's route has no authorizer (tests/infra)."""
    assert document["openapi"].startswith("3.1")


def test_the_served_openapi_document_is_the_generated_one_and_the_checked_in_copy() -> None:
    served = serve_openapi(token=False)["body"]

    assert served == standalone_document()
    checked_in = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert checked_in == served + "\n", "docs/openapi.json is out of date: run python scripts/openapi.py"


def test_openapi_names_every_operation(document: dict[str, Any]) -> None:
    assert {(method, path): op["operationId"] for method, path, op in operations(document)} == OPERATIONS


def test_openapi_answers_every_refusal_with_error_body_and_never_http_validation_error(
    document: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in json.dumps(document)
    assert "ValidationError" not in document["components"]["schemas"]
    for _, _, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (op["operationId"], status)


@pytest.mark.parametrize(
    ("operation", "statuses"),
    [
        ("postTicketscloudAction", {202, 400, 401, 403, 409, 413, 415, 422, 429, 500, 502, 503, 504}),
        ("postEcardsOrder", {202, 400, 401, 403, 409, 413, 415, 422, 429, 500, 502, 503, 504}),
        ("postTicketscloudExport", {202, 400, 401, 403, 409, 413, 415, 422, 429, 500, 502, 503, 504}),
        ("getAction", {200, 401, 403, 404, 422, 429, 500, 502, 503, 504}),
        ("getOrder", {200, 401, 403, 404, 422, 429, 500, 502, 503, 504}),
        ("listOrders", {200, 401, 403, 422, 429, 500, 502, 503, 504}),
    ],
)
def test_openapi_declares_every_status_a_route_answers(
    document: dict[str, Any], operation: str, statuses: set[int]
) -> None:
    """The handler's refusals and API Gateway's own (401 token, 403 usage plan, 429 throttled)."""
    [op] = [op for _, _, op in operations(document) if op["operationId"] == operation]
    assert {int(status) for status in op["responses"]} == statuses


def test_openapi_declares_idempotency_key_on_every_post(document: dict[str, Any]) -> None:
    posts = [op for method, _, op in operations(document) if method == "post"]
    assert len(posts) == len(REQUEST_MODELS)
    for op in posts:
        [header] = [p for p in op["parameters"] if p["in"] == "header"]
        assert header["name"].lower() == "idempotency-key"
        assert header["required"] is False
        assert header["schema"]["pattern"] == IDEMPOTENCY_KEY_PATTERN


@pytest.mark.parametrize(
    "key",
    ['"a-key"', "a-key", '"has space"', "", '"', '""', 'a"b', "a\\b", "é", "x" * 255, "x" * 256, f'"{"x" * 255}"'],
)
def test_the_documented_idempotency_key_pattern_is_what_the_api_accepts(key: str) -> None:
    try:
        parse_idempotency_key(key)
        accepted = True
    except InvalidIdempotencyKeyError:
        accepted = False

    assert bool(re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key)) is accepted


def test_openapi_platform_parameters_use_the_platform_enum(document: dict[str, Any]) -> None:
    platforms = [
        parameter
        for _, _, op in operations(document)
        for parameter in op.get("parameters", [])
        if parameter["name"] == "platform"
    ]
    assert len(platforms) == 2
    assert all(parameter["schema"]["$ref"] == "#/components/schemas/Platform" for parameter in platforms)
    assert document["components"]["schemas"]["Platform"]["enum"] == ["ticketscloud", "bizon365", "ecards"]


def test_openapi_order_id_of_ticketscloud_actions_has_the_platforms_shape(document: dict[str, Any]) -> None:
    op = document["paths"]["/orders/ticketscloud/{order_id}/actions"]["post"]
    [order_id] = [p for p in op["parameters"] if p["name"] == "order_id"]
    assert order_id["schema"]["pattern"] == "^[0-9a-f]{24}$"


def test_openapi_declares_bearer_security_for_every_route(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearer": []}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_openapi_gives_every_route_an_answer_example_that_is_a_valid_answer(document: dict[str, Any]) -> None:
    for _, _, op in operations(document):
        for status, response in op["responses"].items():
            [example] = response["content"]["application/json"]["examples"].values()
            if int(status) < 400:
                SUCCESS_MODELS[op["operationId"]].model_validate(example["value"])
            else:
                assert ErrorBody.model_validate(example["value"]).statusCode == int(status)


def test_openapi_gives_every_post_a_request_example_the_api_accepts(document: dict[str, Any]) -> None:
    for method, _, op in operations(document):
        if method == "post":
            [example] = op["requestBody"]["content"]["application/json"]["examples"].values()
            REQUEST_MODELS[op["operationId"]].model_validate(example["value"])


def test_openapi_declares_the_location_header_of_every_202(document: dict[str, Any]) -> None:
    for method, _, op in operations(document):
        if method == "post":
            assert op["responses"]["202"]["headers"]["Location"]["required"] is True
