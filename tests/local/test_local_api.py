"""The local REST API: routes from the translated template, API Gateway's proxy event, the authorizer first."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from ordersync_tools.local.api import GatewayResponse, LocalApiGateway, RestApi, rest_apis
from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.resources import ResourceBuilder
from ordersync_tools.local.template import Template

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
def project_api(aws: str) -> RestApi:
    """The REST API of the project's own template.yaml."""
    template = Template.from_file(Path(__file__).resolve().parents[2] / "template.yaml")
    resources = ResourceBuilder(template, aws).build()
    (only,) = rest_apis(template, resources.resolver)
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


def test_path_parameters_are_percent_decoded_once_and_the_path_stays_as_sent(gateway: Any) -> None:
    """As API Gateway (REST) does: ``pathParameters`` decoded once, ``path`` still percent-encoded."""
    server, functions = gateway

    status, _, _ = server.handle("GET", "/orders/ticketscloud/a%2Fb%252F%23", [("Authorization", "Bearer good")], b"")

    assert status == 200
    (event,) = functions.of("ApiFunction")
    assert event["pathParameters"] == {"platform": "ticketscloud", "order_id": "a/b%2F#"}
    assert event["path"] == "/orders/ticketscloud/a%2Fb%252F%23"


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


def with_responses(api: RestApi, **responses: dict[str, Any]) -> RestApi:
    """The tiny API with gateway responses declared as the OpenAPI extension declares them."""
    return dataclasses.replace(api, gateway_responses={k: GatewayResponse.parse(v) for k, v in responses.items()})


NOT_FOUND = {
    "statusCode": "404",
    "responseTemplates": {
        "application/json": '{"error": "not_found", "message": "no route $context.httpMethod $context.path"}'
    },
    "responseParameters": {"gatewayresponse.header.X-Request-Origin": "method.request.header.Origin"},
}


def test_an_unknown_route_answers_with_the_apis_missing_authentication_token_response(api: RestApi) -> None:
    gateway = LocalApiGateway(with_responses(api, MISSING_AUTHENTICATION_TOKEN=NOT_FOUND), FakeFunctions(), port=0)

    status, headers, body = gateway.handle("DELETE", "/orders/ticketscloud/abc", [("Origin", "crm")], b"")

    assert status == 404
    assert json.loads(body) == {"error": "not_found", "message": "no route DELETE /test/orders/ticketscloud/abc"}
    assert ("X-Request-Origin", "crm") in headers


def test_a_refused_token_answers_with_the_apis_unauthorized_response_before_any_function_runs(api: RestApi) -> None:
    unauthorized = {
        "statusCode": "401",
        "responseTemplates": {"application/json": '{"error": "unauthorized", "type": "$context.error.responseType"}'},
        "responseParameters": {"gatewayresponse.header.WWW-Authenticate": "'Bearer'"},
    }
    functions = FakeFunctions()
    gateway = LocalApiGateway(with_responses(api, UNAUTHORIZED=unauthorized), functions, port=0)

    status, headers, body = gateway.handle("GET", "/orders/ticketscloud/abc", [("Authorization", "Bearer bad")], b"")

    assert status == 401
    assert json.loads(body) == {"error": "unauthorized", "type": "UNAUTHORIZED"}
    assert ("WWW-Authenticate", "Bearer") in headers
    assert functions.of("ApiFunction") == []


def test_a_refusal_without_a_response_of_its_own_falls_back_to_the_default_4xx_response(api: RestApi) -> None:
    deny = {
        **ALLOW_ALL,
        "policyDocument": {"Statement": [{**ALLOW_ALL["policyDocument"]["Statement"][0], "Effect": "Deny"}]},
    }
    default_4xx = {"responseTemplates": {"application/json": '{"refused": $context.error.messageString}'}}
    gateway = LocalApiGateway(with_responses(api, DEFAULT_4XX=default_4xx), FakeFunctions(policy=deny), port=0)

    status, _, body = gateway.handle("GET", "/orders/ticketscloud/abc", [("Authorization", "Bearer good")], b"")

    assert status == 403
    assert json.loads(body) == {"refused": "User is not authorized to access this resource with an explicit deny"}


def test_a_function_error_answers_with_the_apis_default_5xx_response(api: RestApi) -> None:
    default_5xx = {"statusCode": "500", "responseTemplates": {"application/json": '{"error": "internal"}'}}
    failing = with_responses(api, DEFAULT_5XX=default_5xx)
    gateway = LocalApiGateway(failing, lambda _fid, _event: Invocation(False, None, "KeyError", "x"), port=0)

    status, _, body = gateway.handle("GET", "/health", [], b"")

    assert status == 500
    assert json.loads(body) == {"error": "internal"}


def test_the_projects_gateway_responses_come_from_its_template(project_api: RestApi) -> None:
    responses = project_api.gateway_responses

    assert responses["MISSING_AUTHENTICATION_TOKEN"].status == 404
    assert responses["UNAUTHORIZED"].status == 401
    assert '"error": "not_found"' in responses["MISSING_AUTHENTICATION_TOKEN"].templates["application/json"]


def test_gateway_response_resources_of_a_template_are_read_too(tmp_path: Path, aws: str) -> None:
    template_path = tmp_path / "template.yaml"
    template_path.write_text(GATEWAY_RESPONSE_TEMPLATE, encoding="utf-8")
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return {}\n", encoding="utf-8")
    template = Template.from_file(template_path)
    resources = ResourceBuilder(template, aws).build()

    (only,) = rest_apis(template, resources.resolver)

    assert only.gateway_responses["UNAUTHORIZED"] == GatewayResponse(
        status=401,
        templates={"application/json": '{"error": "unauthorized"}'},
        headers={"WWW-Authenticate": "'Bearer'"},
    )


GATEWAY_RESPONSE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
  Unauthorized:
    Type: AWS::ApiGateway::GatewayResponse
    Properties:
      RestApiId: !Ref Api
      ResponseType: UNAUTHORIZED
      StatusCode: "401"
      ResponseTemplates:
        application/json: '{"error": "unauthorized"}'
      ResponseParameters:
        gatewayresponse.header.WWW-Authenticate: "'Bearer'"
  Function:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.13
      Events:
        Get:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /things
            Method: GET
"""


def test_a_malformed_proxy_answer_is_reported_as_an_error_of_the_runtime_not_only_answered_502(api: RestApi) -> None:
    reported: list[str] = []
    gateway = LocalApiGateway(
        api, lambda _fid, _event: Invocation(True, "not a dict"), port=0, on_error=reported.append
    )

    status, _, _ = gateway.handle("GET", "/health", [], b"")

    assert status == 502
    assert reported == ["ApiFunction: malformed Lambda proxy response"]


def test_a_failure_of_the_gateway_itself_is_answered_500_and_reported(api: RestApi) -> None:
    def broken(_fid: str, _event: dict[str, Any]) -> Invocation:
        raise RuntimeError("the function's process cannot be started")

    reported: list[str] = []
    gateway = LocalApiGateway(api, broken, port=0, on_error=reported.append)
    gateway.start()
    try:
        response = httpx.get(f"{gateway.url}/health", timeout=10)
    finally:
        gateway.stop()

    assert response.status_code == 500
    assert response.json() == {"message": None}
    assert reported == ["GET /health: RuntimeError: the function's process cannot be started"]
