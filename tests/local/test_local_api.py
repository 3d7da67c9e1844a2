"""The local REST API: routes from the translated template, API Gateway's proxy event, the authorizer first."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ordersync.local.api import LocalApiGateway, RestApi, rest_apis
from ordersync.local.functions import Invocation
from ordersync.local.resources import ResourceBuilder
from ordersync.local.template import Template

ALLOW_ALL = {
    "principalId": "demo",
    "context": {"client_id": "demo", "scopes": "*"},
    "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*"}],
    },
}


class FakeFunctions:
    """Answers as the tiny project's authorizer and API function would, recording every event."""

    def __init__(self, policy: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.policy = policy or ALLOW_ALL

    def __call__(self, function_id: str, event: dict[str, Any]) -> Invocation:
        self.calls.append((function_id, event))
        if function_id == "AuthorizerFunction":
            if (event.get("headers") or {}).get("Authorization") != "Bearer good":
                return Invocation(False, None, "Exception", "Unauthorized")
            return Invocation(True, self.policy)
        body = json.dumps({"seen": event["pathParameters"]})
        return Invocation(True, {"statusCode": 200, "headers": {"X-Seen": "yes"}, "body": body})

    def of(self, function_id: str) -> list[dict[str, Any]]:
        return [event for fid, event in self.calls if fid == function_id]


@pytest.fixture
def api(tiny_template: Template, aws: str) -> RestApi:
    resources = ResourceBuilder(tiny_template, aws).build()
    (only,) = rest_apis(tiny_template, resources.resolver)
    return only


@pytest.fixture
def gateway(api: RestApi) -> Any:
    functions = FakeFunctions()
    gateway = LocalApiGateway(api, functions, port=0)
    gateway.start()
    try:
        yield gateway, functions
    finally:
        gateway.stop()


def test_routes_and_their_authorizer_come_from_the_template(api: RestApi) -> None:
    routes = {(route.method, route.resource): route for route in api.routes}

    assert set(routes) == {
        ("GET", "/orders/{platform}/{order_id}"),
        ("POST", "/orders/{platform}/{order_id}/actions"),
        ("GET", "/health"),
    }
    assert routes[("GET", "/health")].authorizer is None
    authorizer = routes[("GET", "/orders/{platform}/{order_id}")].authorizer
    assert authorizer is not None
    assert authorizer.function_id == "AuthorizerFunction"
    assert authorizer.identity_sources == ("method.request.header.Authorization",)
    assert authorizer.ttl == 300
    assert api.stage == "test"


def test_a_request_becomes_an_api_gateway_proxy_event_with_the_authorizer_context(gateway: Any) -> None:
    server, functions = gateway

    response = httpx.get(
        f"{server.url}/orders/ticketscloud/abc?x=1&x=2", headers={"Authorization": "Bearer good"}, timeout=10
    )

    assert response.status_code == 200
    assert response.headers["X-Seen"] == "yes"
    (event,) = functions.of("ApiFunction")
    assert event["resource"] == "/orders/{platform}/{order_id}"
    assert event["path"] == "/orders/ticketscloud/abc"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"platform": "ticketscloud", "order_id": "abc"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["requestContext"]["authorizer"] == {"principalId": "demo", "client_id": "demo", "scopes": "*"}
    assert event["requestContext"]["stage"] == "test"
    assert event["body"] is None


def test_the_authorizer_gets_a_request_event_and_is_cached_by_its_identity_header(gateway: Any) -> None:
    server, functions = gateway
    headers = {"Authorization": "Bearer good"}

    for _ in range(3):
        httpx.get(f"{server.url}/orders/ticketscloud/abc", headers=headers, timeout=10)

    (auth_event,) = functions.of("AuthorizerFunction")
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"].endswith("/test/GET/orders/ticketscloud/abc")
    assert len(functions.of("ApiFunction")) == 3


def test_a_request_without_the_identity_header_is_refused_before_any_function_runs(gateway: Any) -> None:
    server, functions = gateway

    response = httpx.get(f"{server.url}/orders/ticketscloud/abc", timeout=10)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert functions.calls == []


def test_an_authorizer_raising_unauthorized_answers_401(gateway: Any) -> None:
    server, functions = gateway

    response = httpx.get(f"{server.url}/orders/ticketscloud/abc", headers={"Authorization": "Bearer bad"}, timeout=10)

    assert response.status_code == 401
    assert functions.of("ApiFunction") == []


def test_a_deny_policy_answers_403(api: RestApi) -> None:
    deny = {
        **ALLOW_ALL,
        "policyDocument": {"Statement": [{**ALLOW_ALL["policyDocument"]["Statement"][0], "Effect": "Deny"}]},
    }
    functions = FakeFunctions(policy=deny)
    gateway = LocalApiGateway(api, functions, port=0)

    status, _, _ = gateway.handle("GET", "/orders/ticketscloud/abc", [("Authorization", "Bearer good")], b"")

    assert status == 403
    assert functions.of("ApiFunction") == []


def test_a_route_without_an_authorizer_skips_it(gateway: Any) -> None:
    server, functions = gateway

    response = httpx.get(f"{server.url}/health", timeout=10)

    assert response.status_code == 200
    assert functions.of("AuthorizerFunction") == []


def test_an_unknown_route_answers_like_api_gateway(gateway: Any) -> None:
    server, _ = gateway

    response = httpx.delete(f"{server.url}/orders/ticketscloud/abc", timeout=10)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_function_error_answers_502(api: RestApi) -> None:
    gateway = LocalApiGateway(api, lambda _fid, _event: Invocation(False, None, "KeyError", "x"), port=0)

    status, _, body = gateway.handle("GET", "/health", [], b"")

    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


def test_paths_with_the_stage_prefix_of_the_deployed_url_are_served_too(gateway: Any) -> None:
    server, functions = gateway

    response = httpx.get(f"{server.url}/test/health", timeout=10)

    assert response.status_code == 200
    assert functions.of("ApiFunction")[0]["path"] == "/health"
