"""The template's REST API on 127.0.0.1, shaped as API Gateway (REST, payload 1.0) shapes it.

Routes and authorizers are read from the translated ``AWS::ApiGateway::RestApi`` body (the OpenAPI document
SAM generates), so they are the deployed ones. A request goes through the route's Lambda authorizer first
(REQUEST or TOKEN), whose policy is cached by its identity sources for ``authorizerResultTtlInSeconds``, and
its ``context`` reaches the handler in ``requestContext.authorizer``. API Gateway's own refusals (no route,
unauthorized, denied, authorizer errors) are answered with the API's gateway responses when it declares them
(``x-amazon-apigateway-gateway-responses`` or ``AWS::ApiGateway::GatewayResponse``), else with its defaults.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ordersync_tools.local.functions import Invocation
from ordersync_tools.local.template import ACCOUNT_ID, REGION, Resolver, Template
from ordersync_tools.quiet_server import QuietHTTPServer

Invoker = Callable[[str, dict[str, Any]], Invocation]  # (function logical id, event) -> outcome
Answer = tuple[int, list[tuple[str, str]], bytes]  # (status, headers, body)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

# API Gateway's default status of each gateway response type the local gateway can produce.
DEFAULT_GATEWAY_STATUS = {
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,  # a function error or malformed proxy answer: no type of its own, only DEFAULT_5XX
}
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_CONTEXT_VARIABLE = re.compile(r"\$(?:\{context\.([A-Za-z0-9_.]+)\}|context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*))")


@dataclass(frozen=True)
class GatewayResponse:
    """One customised gateway response: its status (None keeps the default), body templates and headers."""

    status: int | None
    templates: dict[str, str]
    headers: dict[str, str]  # header name -> mapping expression ("'literal'" or method.request.header.X)

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> GatewayResponse:
        """From the OpenAPI extension (``statusCode``...) or the resource's properties (``StatusCode``...)."""
        status = spec.get("statusCode", spec.get("StatusCode"))
        parameters = spec.get("responseParameters", spec.get("ResponseParameters")) or {}
        prefix = "gatewayresponse.header."
        return cls(
            status=int(status) if status not in (None, "") else None,
            templates={
                str(k): str(v) for k, v in (spec.get("responseTemplates", spec.get("ResponseTemplates")) or {}).items()
            },
            headers={k.removeprefix(prefix): str(v) for k, v in parameters.items() if k.startswith(prefix)},
        )


@dataclass(frozen=True)
class Authorizer:
    name: str
    function_id: str
    kind: str  # "request" or "token"
    identity_sources: tuple[str, ...]  # e.g. "method.request.header.Authorization"
    ttl: int
    validation: str | None = None


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    resource: str  # e.g. /orders/{platform}/{order_id}
    function_id: str
    authorizer: Authorizer | None
    pattern: re.Pattern[str] = field(compare=False)

    @property
    def specificity(self) -> tuple[int, int, int]:
        segments = self.resource.strip("/").split("/")
        literal = sum(1 for s in segments if not s.startswith("{"))
        greedy = int(any(s.endswith("+}") for s in segments))
        return (-greedy, literal, len(segments))


def _compile(resource: str) -> re.Pattern[str]:
    parts = []
    for segment in resource.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{_group(segment[1:-2])}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{_group(segment[1:-1])}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$" if parts != [""] else "^/?$")


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass
class RestApi:
    """One ``AWS::ApiGateway::RestApi`` of the template: its routes and stage."""

    logical_id: str
    stage: str
    routes: list[Route]
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)  # response type -> response

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in sorted(self.routes, key=lambda r: r.specificity, reverse=True):
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                names = re.findall(r"\{([^}+]+)\+?\}", route.resource)
                # API Gateway hands path parameters over percent-decoded once (the event's path stays encoded)
                return route, {name: unquote(found.group(_group(name))) for name in names}
        return None


def rest_apis(template: Template, resolver: Resolver) -> list[RestApi]:
    """The REST APIs of the translated template, with routes resolved to function logical ids."""
    function_of_arn = {str(resolver.get_att(fid, "Arn")): fid for fid in template.of_type("AWS::Lambda::Function")}

    def function_in(uri: Any) -> str | None:
        text = str(resolver.resolve(uri))
        return next((fid for arn, fid in function_of_arn.items() if arn in text), None)

    stages: dict[str, str] = {}
    for stage_id in template.of_type("AWS::ApiGateway::Stage"):
        props = template.properties(stage_id)
        api_ref = props.get("RestApiId")
        if isinstance(api_ref, dict) and isinstance(api_ref.get("Ref"), str):
            stages[api_ref["Ref"]] = str(resolver.resolve(props.get("StageName", "Prod")))
    declared_responses: dict[str, dict[str, GatewayResponse]] = {}
    for response_id in template.of_type("AWS::ApiGateway::GatewayResponse"):
        props = resolver.resolve(template.properties(response_id))
        api_ref = template.properties(response_id).get("RestApiId")
        if isinstance(api_ref, dict) and isinstance(api_ref.get("Ref"), str):
            declared_responses.setdefault(api_ref["Ref"], {})[str(props["ResponseType"])] = GatewayResponse.parse(props)
    apis: list[RestApi] = []
    for api_id in template.of_type("AWS::ApiGateway::RestApi"):
        body = template.properties(api_id).get("Body") or {}
        authorizers: dict[str, Authorizer] = {}
        definitions = body.get("securityDefinitions") or body.get("components", {}).get("securitySchemes") or {}
        for name, definition in definitions.items():
            spec = definition.get("x-amazon-apigateway-authorizer")
            function_id = function_in(spec.get("authorizerUri")) if spec else None
            if spec is None or function_id is None:
                continue
            sources = tuple(s.strip() for s in str(spec.get("identitySource", "")).split(",") if s.strip())
            kind = str(spec.get("type", "token")).lower()
            if kind == "token" and not sources:
                sources = (f"method.request.header.{definition.get('name', 'Authorization')}",)
            authorizers[name] = Authorizer(
                name,
                function_id,
                kind,
                sources,
                int(spec.get("authorizerResultTtlInSeconds", 300)),
                spec.get("identityValidationExpression"),
            )
        default_security = body.get("security") or []
        routes: list[Route] = []
        for resource, operations in (body.get("paths") or {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "x-amazon-apigateway-integration" not in operation:
                    continue
                function_id = function_in(operation["x-amazon-apigateway-integration"].get("uri"))
                if function_id is None:
                    continue
                security = operation.get("security", default_security) or []
                names = [name for requirement in security for name in requirement]
                authorizer = next((authorizers[n] for n in names if n in authorizers), None)
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                routes.append(Route(verb, resource, function_id, authorizer, _compile(resource)))
        responses = {
            str(kind): GatewayResponse.parse(spec)
            for kind, spec in (body.get("x-amazon-apigateway-gateway-responses") or {}).items()
        }
        responses.update(declared_responses.get(api_id, {}))
        apis.append(RestApi(api_id, stages.get(api_id, "Prod"), routes, responses))
    return apis


@dataclass
class ApiStats:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    authorizer_calls: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status, whoever made them (the function, its failure, the gateway itself)."""
        return sum(count for status, count in self.by_status.items() if status >= 500)


class LocalApiGateway:
    """Serves ``RestApi`` routes over HTTP on 127.0.0.1, invoking functions through ``invoke``."""

    def __init__(
        self,
        api: RestApi,
        invoke: Invoker,
        *,
        port: int = 3000,
        host: str = "127.0.0.1",
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.api = api
        self.invoke = invoke
        self.on_error = on_error  # told of errors ``invoke`` did not see: malformed answers, the gateway's own
        self.host = host
        self.port = port
        self.stats = ApiStats()
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._server: QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        gateway = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                gateway._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

            def __getattr__(self, name: str) -> Any:
                """Any other method (``TRACE``...) reaches no route, as at API Gateway: never http.server's 501."""
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the summary counts requests."""

        self._server = QuietHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # -- one request ---------------------------------------------------------------------------------
    def _serve(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.handle(http.command, http.path, list(http.headers.items()), body)
        except Exception as error:  # the runtime's own bug: answer it and say so, never drop the connection
            self._error(f"{http.command} {http.path}: {type(error).__name__}: {error}", unseen=True)
            status, headers, payload = 500, [("Content-Type", "application/json")], b'{"message": null}'
        with self._lock:
            self.stats.requests += 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
        try:
            http.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    http.send_header(name, value)
            http.send_header("Content-Length", str(len(payload)))
            http.end_headers()
            if http.command != "HEAD":
                http.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """API Gateway's answer to one request: (status, headers, body)."""
        split = urlsplit(raw_path)
        path = split.path or "/"
        matched = self.api.match(method.upper(), path)
        stage_prefix = f"/{self.api.stage}/"
        if matched is None and path.startswith(stage_prefix):
            # The deployed URL carries the stage (handlers build links with it): accept both forms.
            path = path.removeprefix(stage_prefix[:-1])
            matched = self.api.match(method.upper(), path)
        if matched is None:
            request = {
                "headers": dict(headers),
                "requestContext": {
                    "httpMethod": method.upper(),
                    "path": f"/{self.api.stage}{path}",
                    "stage": self.api.stage,
                    "requestId": str(uuid.uuid4()),
                    "identity": {"sourceIp": "127.0.0.1"},
                    "domainName": f"{self.host}:{self.port}",
                    "apiId": "local",
                    "accountId": ACCOUNT_ID,
                },
            }
            return self.refuse("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request)
        route, path_parameters = matched
        event = self._event(
            method=method.upper(),
            path=path,
            query=split.query,
            headers=headers,
            body=body,
            route=route,
            path_parameters=path_parameters,
        )
        if route.authorizer is not None:
            denial = self._authorize(route.authorizer, event)
            if denial is not None:
                return denial
        outcome = self.invoke(route.function_id, event)
        return self._response(route, outcome, event)

    def _event(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        route: Route,
        path_parameters: dict[str, str],
    ) -> dict[str, Any]:
        single_headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers:
            single_headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        multi_query = parse_qs(query, keep_blank_values=True)
        now = datetime.now(UTC)
        try:
            text_body: str | None = body.decode("utf-8") if body else None
            is_base64 = False
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
        lower = {k.lower(): v for k, v in single_headers.items()}
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": single_headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "extendedRequestId": uuid.uuid4().hex[:16],
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": f"/{self.api.stage}{path}",
                "accountId": ACCOUNT_ID,
                "protocol": "HTTP/1.1",
                "stage": self.api.stage,
                "domainPrefix": "localhost",
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": str(uuid.uuid4()),
                "identity": {"sourceIp": "127.0.0.1", "userAgent": lower.get("user-agent"), "accessKey": None},
                "domainName": f"{self.host}:{self.port}",
                "apiId": "local",
            },
            "body": text_body,
            "isBase64Encoded": is_base64,
        }

    def method_arn(self, event: dict[str, Any]) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:local/{self.api.stage}/{event['httpMethod']}{event['path']}"

    def _identity(self, authorizer: Authorizer, event: dict[str, Any]) -> tuple[str, ...] | None:
        headers = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        query = event["queryStringParameters"] or {}
        values: list[str] = []
        for source in authorizer.identity_sources:
            value: str | None = None
            if source.startswith("method.request.header."):
                value = headers.get(source.removeprefix("method.request.header.").lower())
            elif source.startswith("method.request.querystring."):
                value = query.get(source.removeprefix("method.request.querystring."))
            if not value:
                return None
            values.append(value)
        return tuple(values)

    def _authorize(self, authorizer: Authorizer, event: dict[str, Any]) -> Answer | None:
        identity = self._identity(authorizer, event)
        if identity is None or (
            authorizer.validation
            and authorizer.kind == "token"
            and not re.fullmatch(authorizer.validation, identity[0])
        ):
            return self.refuse("UNAUTHORIZED", "Unauthorized", event)
        method_arn = self.method_arn(event)
        key = (authorizer.name, identity)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            policy = cached[1]
        else:
            answered = self._call_authorizer(authorizer, event, identity, method_arn)
            if answered is None:
                return self.refuse("UNAUTHORIZED", "Unauthorized", event)
            if answered.get("_error"):
                return self.refuse("AUTHORIZER_CONFIGURATION_ERROR", None, event)
            policy = answered
            if authorizer.ttl > 0:
                with self._lock:
                    self._cache[key] = (now + authorizer.ttl, policy)
        if not _allows(policy, method_arn):
            message = "User is not authorized to access this resource with an explicit deny"
            return self.refuse("ACCESS_DENIED", message, event)
        context = dict(policy.get("context") or {})
        event["requestContext"]["authorizer"] = {"principalId": policy.get("principalId"), **context}
        return None

    def _call_authorizer(
        self, authorizer: Authorizer, event: dict[str, Any], identity: tuple[str, ...], method_arn: str
    ) -> dict[str, Any] | None:
        if authorizer.kind == "token":
            auth_event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn}
        else:
            auth_event = {"type": "REQUEST", "methodArn": method_arn}
            auth_event.update({k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")})
        with self._lock:
            self.stats.authorizer_calls += 1
        outcome = self.invoke(authorizer.function_id, auth_event)
        if not outcome.ok:
            if outcome.error_message == "Unauthorized":
                return None
            self._error(f"authorizer {authorizer.function_id}: {outcome.error_type}: {outcome.error_message}")
            return {"_error": True}
        if not isinstance(outcome.result, dict) or "policyDocument" not in outcome.result:
            self._error(f"authorizer {authorizer.function_id} returned no policyDocument", unseen=True)
            return {"_error": True}
        return outcome.result

    def _response(self, route: Route, outcome: Invocation, event: dict[str, Any]) -> Answer:
        if not outcome.ok:
            self._error(f"{route.function_id}: {outcome.error_type}: {outcome.error_message}")
            return self.refuse("DEFAULT_5XX", "Internal server error", event)
        result = outcome.result
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            self._error(f"{route.function_id}: malformed Lambda proxy response", unseen=True)
            return self.refuse("DEFAULT_5XX", "Internal server error", event)
        headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, str(v)) for v in values)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        status = int(result["statusCode"])
        if status >= 500:  # the function ran and answered a 5xx itself: an error the runtime must count too
            self._error(f"{route.function_id} answered {status} to {event['httpMethod']} {event['path']}", unseen=True)
        return status, headers, payload

    def _error(self, message: str, *, unseen: bool = False) -> None:
        """Record an error; ``unseen`` ones (the invocation itself succeeded) also go to ``on_error``."""
        with self._lock:
            self.stats.errors.append(message)
        if unseen and self.on_error is not None:
            self.on_error(message)

    def refuse(self, response_type: str, message: str | None, event: dict[str, Any]) -> Answer:
        """API Gateway's own answer of ``response_type`` (a key of ``DEFAULT_GATEWAY_STATUS``) to the request of
        ``event``: the API's gateway response for that type, else its ``DEFAULT_4XX``/``DEFAULT_5XX``, else
        API Gateway's default (``{"message": ...}`` with the type's status)."""
        default_status = DEFAULT_GATEWAY_STATUS[response_type]
        family = self.api.gateway_responses.get("DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX")
        chosen = self.api.gateway_responses.get(response_type) or family
        status = (chosen.status if chosen else None) or (family.status if family else None) or default_status
        templates = (chosen.templates if chosen else None) or {"application/json": _DEFAULT_TEMPLATE}
        content_type = "application/json" if "application/json" in templates else next(iter(templates))
        variables = _context_variables(event, response_type, message)

        def render(found: re.Match[str]) -> str:
            return variables.get((found.group(1) or found.group(2)).rstrip("."), "")

        body = _CONTEXT_VARIABLE.sub(render, templates[content_type])
        headers = [("Content-Type", content_type)]
        request_headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        for name, expression in (chosen.headers if chosen else {}).items():
            if len(expression) >= 2 and expression[0] == expression[-1] == "'":
                headers.append((name, expression[1:-1]))
            elif expression.startswith("method.request.header."):
                value = request_headers.get(expression.removeprefix("method.request.header.").lower())
                if value is not None:
                    headers.append((name, value))
        return status, headers, body.encode()


def _context_variables(event: dict[str, Any], response_type: str, message: str | None) -> dict[str, str]:
    """``$context`` variables a gateway response template can use, from the request's ``requestContext``."""
    variables: dict[str, str] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}{key}.", item)
        elif value is not None:
            variables[prefix.rstrip(".")] = str(value)

    flatten("", event.get("requestContext") or {})
    variables["error.message"] = message or ""
    variables["error.messageString"] = json.dumps(message)
    variables["error.responseType"] = response_type
    return variables


def _allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM evaluation of an authorizer policy for one method ARN: an explicit Deny wins, else an Allow is needed."""
    statements = (policy.get("policyDocument") or {}).get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        resources = statement.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        actions = statement.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if str(statement.get("Effect")).lower() == "deny":
            return False
        allowed = True
    return allowed
