"""The REST API (``api.resolver``) behind a played API Gateway and the real authorizer, on fake services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from builders import NOW, ApiAnswer, ApiGateway, FakeLambdaContext, answer_of, api_event, order
from fakes import FakeActionSender, FakeActionStore, FakeClientLookup, FakeOrderStore

from ordersync.actions.accept import ActionAcceptor
from ordersync.actions.models import EXPORT_GROUP, ActionState
from ordersync.api.resolver import ApiServices, OrdersyncApi
from ordersync.models import Platform

ORDER = "5bacf64ea0eb2f000c45160a"
ACTIONS = f"/orders/ticketscloud/{ORDER}/actions"
ECARDS_BODY = {
    "participant": {"email": "test@test.test", "name": "John Doe", "phone": "79251153242"},
    "ecards": [{"id": 1, "quantity": 1, "faceValue": "100 ₽"}],
}
SCOPES = {
    "actor": ["ticketscloud:act", "ecards:act"],
    "reader": ["ticketscloud:read"],
    "outsider": ["bizon365:read"],
}


class Api:
    """The API handler on fakes, with a client per entry of ``SCOPES``."""

    def __init__(self, *, with_orders: bool = True, configured: frozenset[Platform] | None = None) -> None:
        self.actions = FakeActionStore()
        self.queue = FakeActionSender()
        self.orders = FakeOrderStore()
        self.clients = FakeClientLookup()
        self.tokens = {name: self.clients.create(name, scopes) for name, scopes in SCOPES.items()}
        services = ApiServices(
            acceptor=ActionAcceptor(self.actions, self.queue),
            actions=self.actions,
            orders=self.orders if with_orders else None,
            configured=configured,
        )
        self.handler = OrdersyncApi(services)
        self.gateway = ApiGateway(self.handler, self.clients)

    def post(self, path: str, body: Any, *, client: str = "actor", **kwargs: Any) -> ApiAnswer:
        return self.gateway.call("POST", path, token=self.tokens.get(client, client), body=body, **kwargs)

    def get(self, path: str, *, client: str = "actor", **kwargs: Any) -> ApiAnswer:
        return self.gateway.call("GET", path, token=self.tokens.get(client, client), **kwargs)


@pytest.fixture
def api() -> Api:
    return Api()


# -- accepting actions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body"), [(ACTIONS, {"send_tickets": True}), ("/ecards/orders", ECARDS_BODY)], ids=["tc", "ecards"]
)
def test_an_action_of_a_platform_left_out_of_the_deployment_is_404_platform_not_configured(
    path: str, body: dict[str, Any]
) -> None:
    api = Api(configured=frozenset({Platform.BIZON365}))

    answer = api.post(path, body)

    assert answer.status == 404
    assert answer.body["error"] == "platform_not_configured"
    assert api.queue.sent == []


def test_actions_of_the_configured_platforms_are_accepted_when_others_are_left_out() -> None:
    api = Api(configured=frozenset({Platform.TICKETSCLOUD}))

    assert api.post(ACTIONS, {"send_tickets": True}).status == 202
    assert api.post("/ecards/orders", ECARDS_BODY).status == 404


def test_order_actions_are_recorded_queued_in_the_orders_group_and_answered_202(api: Api) -> None:
    answer = api.post(ACTIONS, {"customer": {"name": "Ivan", "lang": "ru"}, "send_tickets": True})

    assert answer.status == 202
    action_id = answer.body["action_id"]
    assert answer.headers["Location"] == f"/Prod/actions/{action_id}" == answer.body["status_url"]
    assert answer.body["state"] == "queued"
    stored = api.actions.get(action_id)
    assert stored is not None
    assert stored.client_id == "actor"
    assert stored.payload == {"customer": {"name": "Ivan", "lang": "ru"}, "send_tickets": True}
    [queued] = api.queue.sent
    assert (queued.action_id, queued.group_id) == (action_id, f"ticketscloud#{ORDER}")


def test_an_ecards_order_without_an_order_id_gets_a_uuid_that_is_returned_and_queued(api: Api) -> None:
    answer = api.post("/ecards/orders", ECARDS_BODY)

    assert answer.status == 202
    order_id = answer.body["order_id"]
    assert len(order_id) == 36
    assert api.queue.sent[0].group_id == f"ecards#{order_id}"


def test_an_export_is_queued_in_the_single_exports_group(api: Api) -> None:
    answer = api.post("/exports/ticketscloud", {"email": "a@b.c", "status": ["done"]})

    assert answer.status == 202
    assert answer.body["order_id"] is None
    assert api.queue.sent[0].group_id == EXPORT_GROUP


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (ACTIONS, {"vendor_data": {"order_id": "x" * 65}}, "vendor_data.order_id"),
        (ACTIONS, {"customer": {"lang": "de"}}, "customer.lang"),
        (ACTIONS, {"promocodes": []}, "promocodes"),
        (ACTIONS, {"surprise": 1}, "surprise"),
        (ACTIONS, {}, "body"),
        ("/ecards/orders", {"ecards": ECARDS_BODY["ecards"]}, "participant"),
        ("/ecards/orders", ECARDS_BODY | {"orderId": "not-a-uuid"}, "orderId"),
        ("/exports/ticketscloud", {"email": "a@b.c", "status": ["paid"]}, "status"),
        ("/exports/ticketscloud", {"email": "not-an-email"}, "email"),
    ],
)
def test_a_body_breaking_its_schema_is_422_naming_the_field_and_nothing_is_queued(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    answer = api.post(path, body)

    assert answer.status == 422
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith(field), answer.message
    assert api.queue.sent == []
    assert api.actions.actions == {}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (ACTIONS, {"send_tickets": "yes"}, "send_tickets"),
        (ACTIONS, {"send_tickets": 1}, "send_tickets"),
        ("/exports/ticketscloud", {"email": "a@b.c", "only_with_customer": "true"}, "only_with_customer"),
    ],
)
def test_a_boolean_given_as_a_string_or_number_is_422_naming_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    answer = api.post(path, body)

    assert answer.status == 422
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith(field), answer.message
    assert api.queue.sent == []


NON_FINITE_BODIES = [
    (ACTIONS, '{"vendor_data": {"raw": {"k": NaN}}}', "vendor_data.raw"),
    (ACTIONS, '{"vendor_data": {"raw": {"k": Infinity}}}', "vendor_data.raw"),
    (ACTIONS, '{"vendor_data": {"raw": {"k": -Infinity}}}', "vendor_data.raw"),
    (ACTIONS, '{"vendor_data": {"raw": {"k": 1e400}}}', "vendor_data.raw"),
    (ACTIONS, '{"send_tickets": NaN}', "send_tickets"),
    (ACTIONS, '{"customer": {"name": Infinity}}', "customer.name"),
    (
        "/ecards/orders",
        '{"participant": {"email": "a@b.c", "name": "N", "phone": "1"}, '
        '"ecards": [{"id": 1, "quantity": 1e400, "faceValue": "100"}]}',
        "ecards.0.quantity",
    ),
    (
        "/ecards/orders",
        '{"participant": {"email": "a@b.c", "name": "N", "phone": "1"}, '
        '"ecards": [{"id": NaN, "quantity": 1, "faceValue": "100"}]}',
        "ecards.0.id",
    ),
    ("/exports/ticketscloud", '{"email": "a@b.c", "only_with_customer": NaN}', "only_with_customer"),
]


@pytest.mark.parametrize(("path", "raw_body", "field"), NON_FINITE_BODIES)
def test_nan_infinity_or_an_overflowing_number_in_a_body_is_422_naming_the_field(
    api: Api, path: str, raw_body: str, field: str
) -> None:
    answer = api.gateway.call("POST", path, token=api.tokens["actor"], raw_body=raw_body)

    assert answer.status == 422, answer.body
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith(field), answer.message
    assert api.queue.sent == []
    assert api.actions.actions == {}


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\n", "\x1b[31m", "\x7f", "\x85", "\x9b"])
@pytest.mark.parametrize(
    ("path", "body_of", "field"),
    [
        (ACTIONS, lambda bad: {"customer": {"name": f"Iv{bad}an"}}, "customer.name"),
        (ACTIONS, lambda bad: {"customer": {"email": f"a{bad}@b.c"}}, "customer.email"),
        (ACTIONS, lambda bad: {"customer": {"phone": f"+7{bad}925"}}, "customer.phone"),
        (
            "/ecards/orders",
            lambda bad: ECARDS_BODY | {"participant": {"email": "a@b.c", "name": f"J{bad}D", "phone": "1"}},
            "participant.name",
        ),
        (
            "/ecards/orders",
            lambda bad: ECARDS_BODY | {"participant": {"email": f"a{bad}x@b.c", "name": "J", "phone": "1"}},
            "participant.email",
        ),
        (
            "/ecards/orders",
            lambda bad: ECARDS_BODY | {"participant": {"email": "a@b.c", "name": "J", "phone": f"7{bad}9"}},
            "participant.phone",
        ),
        ("/exports/ticketscloud", lambda bad: {"email": f"a{bad}x@b.c"}, "email"),
    ],
)
def test_control_characters_in_names_emails_and_phones_are_422_naming_the_field(
    api: Api, path: str, body_of: Any, field: str, bad: str
) -> None:
    answer = api.post(path, body_of(bad))

    assert answer.status == 422, answer.body
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith(field), answer.message
    assert api.queue.sent == []


def test_names_emails_and_phones_in_any_script_with_spaces_and_punctuation_stay_valid(api: Api) -> None:
    customer = {"name": "Иван O'Brien-Łukasz 李", "email": "ivan.o+tag@пример.рф", "phone": "+7 (925) 115-32-42"}

    assert api.post(ACTIONS, {"customer": customer, "send_tickets": False}).status == 202
    participant = {"email": customer["email"], "name": customer["name"], "phone": customer["phone"]}
    assert api.post("/ecards/orders", ECARDS_BODY | {"participant": participant}).status == 202


@pytest.mark.parametrize("order_id", ["x" * 101, "has space", "заказ"])
def test_an_order_id_that_cannot_name_a_fifo_group_is_422(api: Api, order_id: str) -> None:
    assert api.post(f"/orders/ticketscloud/{order_id}/actions", {"send_tickets": True}).status == 422


@pytest.mark.parametrize(
    ("name", "order_id"),
    [
        ("dot_dot_climbs_the_platform_path", ".."),
        ("fragment_names_another_order", f"{ORDER}%23x"),
        ("query_names_another_order", f"{ORDER}%3Fx%3D1"),
        ("escaped_slash", f"{ORDER}%2F.."),
        ("escaped_nul", f"{ORDER}%00"),
        ("escaped_space", f"{ORDER}%20"),
        ("escaped_dot_dot", "%2E%2E"),
        ("uppercase_hex_names_a_second_group", ORDER.upper()),
        ("too_short", ORDER[:-1]),
        ("trailing_newline", f"{ORDER}%0A"),
    ],
)
def test_an_order_id_that_is_url_syntax_or_not_shaped_like_the_platforms_ids_is_422_naming_order_id(
    api: Api, name: str, order_id: str
) -> None:
    answer = api.post(f"/orders/ticketscloud/{order_id}/actions", {"send_tickets": True})

    assert answer.status == 422, name
    assert answer.body["error"] == "validation_failed"
    assert answer.message.startswith("order_id"), answer.message
    assert answer.body["detail"][0]["field"] == "order_id"
    assert api.queue.sent == []
    assert api.actions.actions == {}


def test_a_percent_escaped_order_id_is_decoded_once_before_its_check(api: Api) -> None:
    escaped = "".join(f"%{ord(char):02X}" for char in ORDER)

    answer = api.post(f"/orders/ticketscloud/{escaped}/actions", {"send_tickets": True})

    assert answer.status == 202
    assert answer.body["order_id"] == ORDER
    assert api.queue.sent[0].group_id == f"ticketscloud#{ORDER}"


def test_a_stored_order_is_looked_up_by_its_path_parameter_decoded_once(api: Api) -> None:
    api.orders.seed(order("a/b"), at=NOW)

    assert api.get("/orders/ticketscloud/a%2Fb", client="reader").status == 200
    assert api.get("/orders/ticketscloud/a%252Fb", client="reader").status == 404


def test_invalid_json_is_400(api: Api) -> None:
    answer = api.gateway.call("POST", ACTIONS, token=api.tokens["actor"], raw_body="{not json")

    assert answer.status == 400
    assert answer.body["error"] == "invalid_json"


def test_a_body_over_64_kb_is_413(api: Api) -> None:
    answer = api.post(ACTIONS, {"vendor_data": {"order_id": "x" * (70 * 1024)}})

    assert answer.status == 413


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_body_that_is_not_json_by_its_content_type_is_415(api: Api, content_type: str | None) -> None:
    answer = api.post(ACTIONS, {"send_tickets": True}, content_type=content_type)

    assert answer.status == 415


@pytest.mark.parametrize("path", [ACTIONS, "/ecards/orders", "/exports/ticketscloud"])
@pytest.mark.parametrize("body", [b'{"send_tickets": true, "x": "\xff"}', b"\xc3\x28", '{"a": "\ud800"}'])
def test_a_body_that_is_not_utf8_is_400_not_500(api: Api, path: str, body: bytes | str) -> None:
    kwargs: dict[str, Any] = {"binary_body": body} if isinstance(body, bytes) else {"raw_body": body}
    answer = api.gateway.call("POST", path, token=api.tokens["actor"], **kwargs)

    assert answer.status == 400
    assert answer.body["error"] == "invalid_json"
    assert answer.message.startswith("body"), answer.message
    assert api.queue.sent == []


@pytest.mark.parametrize(
    "content_type",
    ["APPLICATION/JSON", "Application/Json", "application/json; charset=utf-8", 'application/JSON;charset="UTF-8"'],
)
def test_a_json_media_type_is_compared_case_insensitively_with_its_charset(api: Api, content_type: str) -> None:
    answer = api.post(ACTIONS, {"send_tickets": True}, content_type=content_type)

    assert answer.status == 202, answer.body


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=latin-1", "application/jsonp", "application/json; boundary=x"]
)
def test_a_json_media_type_with_another_charset_or_parameter_is_415(api: Api, content_type: str) -> None:
    answer = api.post(ACTIONS, {"send_tickets": True}, content_type=content_type)

    assert answer.status == 415
    assert answer.body["error"] == "unsupported_media_type"
    assert api.queue.sent == []


def test_a_malformed_idempotency_key_is_400(api: Api) -> None:
    answer = api.post(ACTIONS, {"send_tickets": True}, headers={"Idempotency-Key": '"has space"'})

    assert answer.status == 400
    assert answer.body["error"] == "invalid_idempotency_key"


def test_a_queue_failure_answers_503_and_marks_the_record_failed(api: Api) -> None:
    api.queue.fail = RuntimeError("queue unavailable")

    answer = api.post(ACTIONS, {"send_tickets": True})

    assert answer.status == 503
    [recorded] = api.actions.actions.values()
    assert recorded.state is ActionState.FAILED


def test_a_recording_failure_answers_503_and_queues_nothing(api: Api) -> None:
    api.actions.fail_create = RuntimeError("table unavailable")

    assert api.post(ACTIONS, {"send_tickets": True}).status == 503
    assert api.queue.sent == []


# -- who may do what ----------------------------------------------------------------------------------------------
def test_no_token_is_401(api: Api) -> None:
    assert api.gateway.call("POST", ACTIONS, token=None, body={"send_tickets": True}).status == 401


def test_an_unknown_token_is_401(api: Api) -> None:
    assert api.post(ACTIONS, {"send_tickets": True}, client="osk_not-a-client").status == 401


def test_a_revoked_clients_token_is_401(api: Api) -> None:
    api.clients.revoke("actor", now=NOW)

    assert api.post(ACTIONS, {"send_tickets": True}).status == 401


def test_a_handler_called_without_an_authorizer_context_is_401(api: Api) -> None:
    event = api_event("POST", ACTIONS, token=api.tokens["actor"], body={"send_tickets": True})

    answer = answer_of(api.handler(event, FakeLambdaContext()))

    assert answer.status == 401


def test_acting_without_the_act_scope_is_403_naming_the_scope(api: Api) -> None:
    answer = api.post(ACTIONS, {"send_tickets": True}, client="reader")

    assert answer.status == 403
    assert "ticketscloud:act" in answer.message
    assert api.queue.sent == []


def test_reading_orders_without_the_read_scope_is_403(api: Api) -> None:
    assert api.get(f"/orders/ticketscloud/{ORDER}", client="outsider").status == 403


# -- reading actions ----------------------------------------------------------------------------------------------
def test_an_action_shows_its_state_and_attempts_to_its_sender(api: Api) -> None:
    action_id = api.post(ACTIONS, {"send_tickets": True}).body["action_id"]

    answer = api.get(f"/actions/{action_id}")

    assert answer.status == 200
    assert (answer.body["state"], answer.body["attempts"], answer.body["order_id"]) == ("queued", 0, ORDER)


def test_an_action_is_visible_to_readers_of_its_platform_and_hidden_from_others(api: Api) -> None:
    action_id = api.post(ACTIONS, {"send_tickets": True}).body["action_id"]

    assert api.get(f"/actions/{action_id}", client="reader").status == 200
    assert api.get(f"/actions/{action_id}", client="outsider").status == 404


def test_an_unknown_action_is_404_naming_it(api: Api) -> None:
    answer = api.get("/actions/does-not-exist")

    assert answer.status == 404
    assert "does-not-exist" in answer.message


def test_a_store_failure_while_reading_an_action_is_503_not_500(api: Api) -> None:
    api.actions.fail_get = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    answer = api.get("/actions/any")

    assert answer.status == 503
    assert answer.body["error"] == "unavailable"


def test_an_unexpected_error_is_500_without_details(api: Api) -> None:
    api.actions.fail_get = RuntimeError("secret detail")

    answer = api.get("/actions/any")

    assert answer.status == 500
    assert "secret detail" not in answer.message


# -- reading orders -----------------------------------------------------------------------------------------------
def test_a_stored_order_is_returned_by_platform_and_id(api: Api) -> None:
    api.orders.seed(order(ORDER, amount="156.00"), at=NOW)

    answer = api.get(f"/orders/ticketscloud/{ORDER}", client="reader")

    assert answer.status == 200
    assert answer.body["order"]["order_id"] == ORDER
    assert answer.body["order"]["total"]["amount"] == "156.00"
    assert answer.body["version"] == 1


def test_a_missing_order_is_404(api: Api) -> None:
    assert api.get("/orders/ticketscloud/none", client="reader").status == 404


def test_orders_are_listed_most_recently_changed_first_in_pages_with_a_cursor(api: Api) -> None:
    for minute in range(5):
        api.orders.seed(order(f"o{minute}"), at=NOW + timedelta(minutes=minute))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        query = {"platform": "ticketscloud", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = api.get("/orders", client="reader", query=query)
        assert answer.status == 200
        seen += [item["order"]["order_id"] for item in answer.body["orders"]]
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break

    assert seen == ["o4", "o3", "o2", "o1", "o0"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"platform": "ticketscloud", "status": "lost"}, "status"),
        ({"platform": "ticketscloud", "limit": "1000"}, "limit"),
        ({"platform": "ticketscloud", "changed_since": "2026-11-22T00:00:00"}, "changed_since"),
        ({"platform": "ticketscloud", "cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({}, "platform"),
    ],
)
def test_a_bad_list_query_is_422_naming_the_parameter(api: Api, query: dict[str, str], field: str) -> None:
    answer = api.get("/orders", client="reader", query=query or None)

    assert answer.status == 422
    assert answer.message.startswith(field), answer.message


def _listed(api: Api, token: str, **query: str) -> ApiAnswer:
    return api.gateway.call("GET", "/orders", token=token, query=query)


def test_a_list_cursor_is_422_under_another_platform_or_query(api: Api) -> None:
    token = api.clients.create("lister", ["ticketscloud:read", "ecards:read"])
    for minute in range(3):
        api.orders.seed(order(f"o{minute}"), at=NOW + timedelta(minutes=minute))
        api.orders.seed(order(f"e{minute}", platform=Platform.ECARDS), at=NOW + timedelta(minutes=minute))
    cursor = _listed(api, token, platform="ticketscloud", limit="1").body["next_cursor"]

    assert _listed(api, token, platform="ticketscloud", limit="2", cursor=cursor).status == 200
    for other in (
        {"platform": "ecards"},
        {"platform": "ticketscloud", "status": "pending"},
        {"platform": "ticketscloud", "changed_since": "2026-11-22T00:00:00Z"},
    ):
        answer = _listed(api, token, cursor=cursor, **other)
        assert answer.status == 422, other
        assert answer.message.startswith("cursor"), answer.message
        assert answer.body["detail"][0]["field"] == "cursor"


@pytest.mark.parametrize("cursor", ["eyJwayI6ICJ4In0=", "b2Zmc2V0OjE=", "%%%", "ключ"])
def test_a_list_cursor_the_api_did_not_hand_out_is_422(api: Api, cursor: str) -> None:
    answer = api.get("/orders", client="reader", query={"platform": "ticketscloud", "cursor": cursor})

    assert answer.status == 422
    assert answer.message.startswith("cursor"), answer.message


def test_orders_are_503_when_no_order_store_is_configured() -> None:
    api = Api(with_orders=False)

    assert api.get(f"/orders/ticketscloud/{ORDER}", client="reader").status == 503


# -- routes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders/shopify/1"),
        ("POST", "/orders/bizon365/1/actions"),
        ("GET", "/nowhere"),
    ],
)
def test_unknown_platforms_and_routes_are_404(api: Api, method: str, path: str) -> None:
    body = {"send_tickets": True} if method == "POST" else None

    assert api.gateway.call(method, path, token=api.tokens["actor"], body=body).status == 404


def test_the_openapi_document_lists_the_action_routes() -> None:
    answer = Api().get("/openapi.json")

    assert answer.status == 200
    assert {"/orders/ticketscloud/{order_id}/actions", "/ecards/orders", "/exports/ticketscloud"} <= set(
        answer.body["paths"]
    )
