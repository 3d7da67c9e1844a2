"""The OpenAPI document of the API: one ``RouteDoc`` per route, the one error shape and what every status means.

A route is documented where it is declared: ``@app.post(path, **DOC.options())`` with a ``RouteDoc`` that names
its operation id, its success answer (status, model, example) and the statuses it refuses with, each answered
with ``ErrorBody``. The statuses every route can get from API Gateway itself (``401``, ``403``, ``429``) and
when it fails (``500``, ``502``, ``503``, ``504``) come from ``GATEWAY`` and ``FAILURES``, so a new route cannot
forget them. ``document()`` is the served ``/openapi.json``: Powertools' generated document, minus its
``HTTPValidationError`` (the API never answers it; every refusal is an ``ErrorBody``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, Field

from ordersync import __version__

IDEMPOTENCY_KEY_PATTERN = r'^(?:[\x21\x23-\x5b\x5d-\x7e]{1,255}|"[\x21\x23-\x5b\x5d-\x7e]{1,255}")$'
"""What ``parse_idempotency_key`` accepts: a structured-field string of visible ASCII, quoted or bare."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Makes the POST safe to retry: the same key with the same body within 24 hours answers the first "
            "answer again (with `Idempotent-Replayed: true`) and queues nothing new; with another body: 422; "
            "while the first is still being accepted: 409. Scoped to the calling client, across routes: use a new "
            'key (e.g. a quoted uuid, `"8e0f5d4c-3f7a-4d0e-9a55-2b1f0c7d9e11"`) for each new request.'
        ),
        json_schema_extra={"pattern": IDEMPOTENCY_KEY_PATTERN},  # checked by the route (400), not by validation
    ),
]


class ErrorDetail(BaseModel):
    """One problem of a refused request."""

    field: str = Field(description="The field, parameter or header at fault (dotted path), or `body`")
    message: str
    type: str | None = Field(default=None, description="A stable kind of problem, e.g. `missing`, `order_id_shape`")


class ErrorBody(BaseModel):
    """Every refusal, from the handler and from API Gateway alike: the status, a stable code and a message that
    names the field or the problem."""

    statusCode: int  # noqa: N815 (the JSON field name)
    error: str = Field(description="A stable code: `validation_failed`, `not_found`, `unauthorized`, ...")
    message: str
    detail: list[ErrorDetail] | None = Field(default=None, description="Each problem, for 400 and 422")


@dataclass(frozen=True)
class Refusal:
    """What a status means by default, and an example body of it."""

    description: str
    error: str
    message: str

    def example(self, status: int) -> dict[str, Any]:
        return {"statusCode": status, "error": self.error, "message": self.message}


REFUSALS: dict[int, Refusal] = {
    400: Refusal("The body is not JSON or not UTF-8, or the Idempotency-Key is malformed", "invalid_json",
                 "body: not valid JSON (Expecting value at character 12)"),
    401: Refusal("No bearer token, or an unknown or revoked one (API Gateway's answer)", "unauthorized",
                 "missing, unknown or revoked bearer token (Authorization: Bearer <token>)"),
    403: Refusal("The client lacks the route's scope, or has no API key in the usage plan", "forbidden",
                 "client 'crm' lacks the scope ticketscloud:act"),
    404: Refusal("No such resource, or an unknown platform", "not_found",
                 "no ticketscloud order '5bacf64ea0eb2f000c45160a'"),
    409: Refusal("A request with the same Idempotency-Key is still being accepted", "request_in_progress",
                 "a request with Idempotency-Key '8e0f5d4c' is still being processed"),
    413: Refusal("The body is over 64 KB", "payload_too_large", "the body is 70012 bytes; at most 65536"),
    415: Refusal("Content-Type is not application/json (UTF-8)", "unsupported_media_type",
                 "Content-Type must be application/json (UTF-8), not text/plain"),
    422: Refusal("A field or parameter breaks the schema or a platform limit (`detail` names each)",
                 "validation_failed", "vendor_data.order_id: String should have at most 64 characters"),
    429: Refusal("Too many requests for this client (API Gateway's usage plan); retry later", "throttled",
                 "too many requests for this client; retry later"),
    500: Refusal("An unexpected error (a bug; it is logged)", "internal_error", "internal error (KeyError)"),
    502: Refusal("The API function failed (API Gateway's answer); send it again with the same Idempotency-Key",
                 "bad_gateway", "the API function failed; send it again (with the same Idempotency-Key)"),
    503: Refusal("A table or queue failed; nothing was changed, send it again", "unavailable",
                 "a backing store failed (ProvisionedThroughputExceededException); try again"),
    504: Refusal("The API function did not answer within 29 s (API Gateway's answer); send it again with the same "
                 "Idempotency-Key", "timeout",
                 "the API did not answer in time; send it again (with the same Idempotency-Key)"),
}  # fmt: skip

GATEWAY = {401: "", 403: "", 429: ""}
"""What API Gateway answers before any route runs: no or a bad token, no usage-plan key, throttled."""
FAILURES = {500: "", 502: "", 503: "", 504: ""}
"""What any route answers when something fails: its table or queue (503), a bug (500), or the function itself,
answered by API Gateway (502, 504). The template's gateway responses give these the ``ErrorBody`` shape too."""
BODIES = {400: "", 413: "", 415: "", 422: ""}
"""What any route with a JSON body answers for a body that is not one."""


@dataclass(frozen=True)
class Success:
    status: int
    description: str
    example: Any
    model: type[BaseModel] | None = None  # None: the route function's return annotation
    headers: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, Any] = field(default_factory=dict)  # OpenAPI links: where the answer leads next


@dataclass(frozen=True)
class RouteDoc:
    """Everything the document says about one route, in one place.

    ``refusals`` maps each status the route can answer besides its success to what it means there (an empty
    string keeps ``REFUSALS``' general meaning); merge ``GATEWAY``, ``FAILURES`` and ``BODIES`` into it."""

    operation_id: str
    summary: str
    success: Success
    refusals: Mapping[int, str]
    request_example: Any = None
    description: str | None = None

    def options(self) -> dict[str, Any]:
        """Keyword arguments of ``app.get``/``app.post`` for this route."""
        options: dict[str, Any] = {
            "summary": self.summary,
            "operation_id": self.operation_id,
            "responses": self.responses(),
        }
        if self.description:
            options["description"] = self.description
        return options

    def responses(self) -> dict[int, OpenAPIResponse]:
        success = self.success
        answer: dict[str, Any] = {"examples": {"answer": {"value": success.example}}}
        if success.model is not None:
            answer["model"] = success.model
        responses: dict[int, OpenAPIResponse] = {
            success.status: {"description": success.description, "content": {"application/json": answer}},  # type: ignore[dict-item]
        }
        if success.headers:
            responses[success.status]["headers"] = dict(success.headers)
        if success.links:
            responses[success.status]["links"] = dict(success.links)
        for status in sorted(self.refusals):
            refusal = REFUSALS[status]
            responses[status] = {
                "description": self.refusals[status] or refusal.description,
                "content": {
                    "application/json": {
                        "model": ErrorBody,
                        "examples": {"refused": {"value": refusal.example(status)}},
                    }
                },
            }
        return responses

    @property
    def request_examples(self) -> dict[str, Any]:
        """For ``Body(openapi_examples=...)``."""
        return {"request": {"value": self.request_example}} if self.request_example is not None else {}


SECURITY_SCHEMES = {"bearer": HTTPBearer(description="A client token made by `ordersync clients create`")}
UNUSED_BY_THIS_API = ("HTTPValidationError", "ResponseValidationError", "ValidationError")
"""Powertools adds these for its own 422; every refusal here is an ``ErrorBody``."""


def document(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The API's OpenAPI document, as ``/openapi.json`` serves it."""
    generated = app.get_openapi_json_schema(
        title="ordersync",
        version=__version__,
        description=(
            "Order actions for partner platforms, applied one at a time per order, and the orders ordersync "
            "keeps. Every route but this document needs `Authorization: Bearer <token>`; every refusal is an "
            "`ErrorBody`. POST routes take an optional `Idempotency-Key`."
        ),
        security_schemes=SECURITY_SCHEMES,  # type: ignore[arg-type]
        security=[{"bearer": []}],
    )
    result: dict[str, Any] = json.loads(generated)
    schemas = result.get("components", {}).get("schemas", {})
    paths = json.dumps(result.get("paths", {}))
    for name in UNUSED_BY_THIS_API:
        if f"#/components/schemas/{name}" not in paths:
            schemas.pop(name, None)
    return result


def document_json(app: APIGatewayRestResolver) -> str:
    return json.dumps(document(app), indent=2, sort_keys=False)
